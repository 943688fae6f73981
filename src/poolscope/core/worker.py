"""The loop a worker process runs. Everything in this module runs in the worker (child) process.

One duplex pipe connects each worker to the engine; nothing else is shared, so a worker that
is killed can hold no lock another process needs (the pipe is simply discarded). The messages
are core/protocol.py's, a report's outcomes core/outcomes.py's; DESIGN.md, "Data flow", draws the whole route.

    engine ──(SetUpJob, RunChunk, CancelJob, ForgetJob, Revoke, Stop)──▶ reader thread ──inbox──▶ main loop
    engine ◀──(Ready, Started, Report, Dropped, Unreadable, SetupFailed, Loaded, Stale)── main loop, synchronously
    engine ◀──(Revoked)── reader thread

The reader thread keeps the inbound pipe drained (so the engine never blocks writing to a busy
worker), marks cancelled jobs at once (so ``cancel_requested()`` is a set lookup), gives back a
queued chunk the engine wants for an idle worker, and ends the process when the engine's end of
the pipe closes. It unpickles only the messages' envelopes: a job's kwargs and a chunk's inputs
are unpickled by the main thread (after it said Started), so what they raise fails their own job
or chunk, and a crash while they unpickle is a crash of that chunk. Results are pickled here, one by one, so a
result that cannot be pickled fails its own task and nothing else. Reports are batched: at most
one every ``REPORT_INTERVAL`` seconds while a chunk runs, and one when it ends.
"""

from __future__ import annotations

import functools
import os
import pickle
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from poolscope import api
from poolscope.api import Cancelled
from poolscope.core.errors import SpecError
from poolscope.core.outcomes import (  # noqa: F401 - STATUS_PICKLED, STATUS_VALUE: the worker's vocabulary, re-exported
    STATUS_CANCELLED,
    STATUS_ERROR,
    STATUS_PICKLED,
    STATUS_VALUE,
    Outcomes,
    describe_exception,
    format_traceback,
)
from poolscope.core.protocol import (  # noqa: F401 - PickledValues: the worker's vocabulary, re-exported
    CancelJob,
    Dropped,
    ErrorInfo,
    ForgetJob,
    Loaded,
    PickledValues,
    Progress,
    Ready,
    Report,
    Revoke,
    Revoked,
    RunChunk,
    SetupFailed,
    SetUpJob,
    Stale,
    Started,
    Stop,
    TerminateJob,
    ToWorker,
    Unreadable,
    encode,
    from_engine,
    load_job,
)
from poolscope.core.worker_process import JobProcesses, die_with_parent, exit_with_process_group

REPORT_INTERVAL = 0.05  # seconds between reports while a chunk runs
BATCH_SECONDS = 0.002  # a batch of tasks stops growing once it takes this long (see run_chunk)
# A worker formats the tracebacks of a job's first this many failed tasks (the engine keeps its
# first 1,000 failures in full): a job whose every task fails does not spend ~50 us a task on them.
TRACEBACKS_PER_JOB = 1000


class InitializerError(Exception):
    """A job's initializer raised in this worker (the job fails: "worker could not start")."""


class _TaskContext:
    """The ``poolscope.api`` context of the task this worker runs (see api.TaskContext)."""

    __slots__ = ("batch", "batch_start", "cancelled_jobs", "flush", "job_id", "next_report", "progress")

    def __init__(self, cancelled_jobs: set[int], flush: Callable[[], None]) -> None:
        self.cancelled_jobs = cancelled_jobs  # written by the reader thread
        self.flush = flush
        self.job_id = -1
        # The batch being run (see _Worker.run_chunk): its results so far, and its first input's
        # index. The running task's index is batch_start + len(batch).
        self.batch: list[Any] | None = None
        self.batch_start = -1
        self.progress: Progress | None = None  # the latest progress() call
        self.next_report = 0.0

    def report_progress(self, done: float, total: float | None) -> None:
        try:
            self.progress = Progress(self.running_index(), float(done), None if total is None else float(total))
        except (TypeError, ValueError):
            raise TypeError(f"progress() takes numbers, not done={done!r}, total={total!r}") from None
        if self.job_id in self.cancelled_jobs:
            raise Cancelled()
        if time.monotonic() >= self.next_report:
            self.flush()

    def cancel_requested(self) -> bool:
        return self.job_id in self.cancelled_jobs

    def running_index(self) -> int:
        """The input index of the task running now; -1 between tasks."""
        return -1 if self.batch is None else self.batch_start + len(self.batch)


class _Worker:
    """State of the worker loop. Lives in the worker process only."""

    def __init__(self, conn: Connection, on_engine_gone: Callable[[], None], *, report_loaded: bool = False) -> None:
        self.conn = conn  # our end of the pipe to the engine; written through send() only
        # Held while a message is written: the main thread writes everything but Revoked,
        # which the reader thread writes (see revoke()).
        self.send_lock = threading.Lock()
        # Chunks received and not yet started (chunk ids), and those given back by revoke() that
        # the main loop must skip: both under claim_lock, taken by the reader and the main thread.
        self.claim_lock = threading.Lock()
        self.queued_chunks: set[int] = set()
        self.revoked_chunks: set[int] = set()
        self.on_engine_gone = on_engine_gone
        self.inbox: queue.SimpleQueue[ToWorker] = queue.SimpleQueue()  # filled by the reader thread
        self.cancelled_jobs: set[int] = set()  # job ids; added to by the reader thread
        self.jobs: dict[int, Callable[[Any], Any] | BaseException] = {}  # the target, kwargs bound
        self.failures: dict[int, int] = {}  # job id -> its tasks that raised here
        # A worker process says which files of user code it loaded (Loaded); a thread slot
        # shares its process's modules and cannot be replaced for fresh code, so it does not.
        self.report_loaded = report_loaded
        self.scanned_modules: set[str] = set()  # sys.modules names already looked at for Loaded
        self.modules_at_scan = -1  # len(sys.modules) at that look: a task that imports changes it
        self.loaded_files: dict[str, tuple[int, int]] = {}  # what Loaded said: path -> (mtime_ns, size)
        self.outcomes = Outcomes()  # of tasks finished since the last report: main thread only
        self.chunk_id = -1
        self.context = _TaskContext(self.cancelled_jobs, self.report_running)
        # Processes a job's tasks started and left running, ended with the job (process workers)
        self.leftovers: JobProcesses | None = None

    # -- reader thread ---------------------------------------------------------------------------
    def read_forever(self) -> None:
        """Runs on the reader thread: move messages to the inbox; exit when the engine is gone."""
        while True:
            try:
                data = self.conn.recv_bytes()
            except (EOFError, OSError):
                self.on_engine_gone()  # the engine closed the pipe or died: nothing left to work for
                return
            try:
                message = from_engine(data)
            except BaseException:  # noqa: BLE001 - envelopes hold only our own types: a broken channel
                import traceback

                traceback.print_exc()
                self.on_engine_gone()  # end the worker: the engine sees it go and recovers its chunks
                return
            if isinstance(message, (CancelJob, TerminateJob)):  # TerminateJob: to a slot that cannot be killed
                self.cancelled_jobs.add(message.job_id)
            elif isinstance(message, Revoke):
                self.revoke(message.chunk_id)
            else:
                if isinstance(message, RunChunk):
                    with self.claim_lock:
                        self.queued_chunks.add(message.chunk_id)
                self.inbox.put(message)

    def revoke(self, chunk_id: int) -> None:
        """Runs on the reader thread: give the chunk back unless the main loop has started it.

        The engine asks only for a chunk queued behind a running one, and sends this worker nothing
        large while it waits for the answer, so this small write never waits on the engine for long.
        """
        with self.claim_lock:
            if chunk_id not in self.queued_chunks:
                return  # started (its STARTED is on the way), or unknown
            self.queued_chunks.discard(chunk_id)
            self.revoked_chunks.add(chunk_id)
        self.send(Revoked(chunk_id))

    def send(self, message: Any) -> None:
        with self.send_lock:
            self.conn.send_bytes(encode(message))

    # -- main thread -----------------------------------------------------------------------------
    def serve(self) -> None:
        self.send(Ready(os.getpid()))
        while True:
            message = self.inbox.get()
            if type(message) is RunChunk:
                with self.claim_lock:
                    if message.chunk_id in self.revoked_chunks:  # given back: the engine sent it elsewhere
                        self.revoked_chunks.discard(message.chunk_id)
                        continue
                    self.queued_chunks.discard(message.chunk_id)
                self.run_chunk(*message)
                if self.report_loaded and len(sys.modules) != self.modules_at_scan:
                    self.report_loaded_files()  # a task imported a module: stamp it now, as loaded
            elif type(message) is SetUpJob:
                if not self.set_up_job(message.job_id, message.setup):
                    return  # stale code: a fresh worker takes over
            elif type(message) is ForgetJob:
                job_id = message.job_id
                if self.leftovers is not None:
                    self.leftovers.end(job_id)
                self.jobs.pop(job_id, None)
                self.failures.pop(job_id, None)
                self.cancelled_jobs.discard(job_id)
            elif type(message) is Stop:
                return

    def set_up_job(self, job_id: int, setup: bytes) -> bool:
        """Load the job's target (and run its initializer); False if this worker's code is stale."""
        if self.report_loaded and self.loaded_files:
            from poolscope.core.targets import stamp_files

            if stamp_files(self.loaded_files) != self.loaded_files:
                self.send(Stale(job_id))
                return False
        try:
            target, kwargs, initializer = load_job(setup)
            function = target.load()
            if initializer is not None:
                try:
                    initialize = initializer.load()
                except SpecError as exc:  # it does not load: said of the job's initializer field
                    raise SpecError("initializer", exc.message) from None
                try:
                    initialize()
                except BaseException as exc:
                    raise InitializerError(f"the initializer {initializer.text} failed: "
                                           f"{type(exc).__name__}: {exc}") from exc
            self.jobs[job_id] = functools.partial(function, **kwargs) if kwargs else function
        except BaseException as exc:  # noqa: BLE001 - reported to the engine, the job fails
            self.jobs[job_id] = exc
            self.send(SetupFailed(job_id, *describe_exception(exc).text))
        if self.report_loaded:
            self.report_loaded_files()
        return True

    def report_loaded_files(self) -> None:
        """Send the user-code files loaded since the last look (also those a task imported later)."""
        from poolscope.core.targets import loaded_modules, user_code_files

        modules = loaded_modules()
        names = [name for name in modules if name not in self.scanned_modules]
        self.scanned_modules.update(names)
        self.modules_at_scan = len(sys.modules)
        files = user_code_files(modules[name] for name in names)
        if files:
            self.loaded_files.update(files)
            self.send(Loaded(files))

    def run_chunk(self, chunk_id: int, job_id: int, start: int, payload: bytes) -> None:
        if job_id in self.cancelled_jobs:
            self.send(Dropped(chunk_id))
            return
        # Started goes before the inputs are unpickled: a crash while they unpickle is then a
        # crash of this chunk, pinned on its input and retried like one (never a free requeue).
        self.send(Started(chunk_id))
        try:
            inputs: Sequence[Any] = pickle.loads(payload)
        except BaseException as exc:  # noqa: BLE001 - the engine fails the input (or sends them one by one)
            self.send(Unreadable(chunk_id, *describe_exception(exc).text))
            return
        self.chunk_id = chunk_id
        context = self.context
        context.job_id = job_id
        context.next_report = time.monotonic() + REPORT_INTERVAL
        began = time.perf_counter()
        setup = self.jobs.get(job_id)
        if setup is None or isinstance(setup, BaseException):
            reason = f"worker could not start the job: {setup}" if setup else "job was not set up"
            error = ErrorInfo("WorkerStartError", reason, format_traceback(setup) if setup else "")
            for _ in inputs:
                self.outcomes.add(STATUS_ERROR, error)
            self.report(finished=True, busy=time.perf_counter() - began)
            return
        function = setup
        # The pool's hot path. Tasks run in batches through the C-level map(): a batch's results
        # land in one list, which is checked for plain types in one pass, so the per-task cost is
        # the call itself. A batch ends early at the first task that raises; list.extend() keeps
        # the results before it, so the failing input is known without running anything twice.
        # Batches grow (doubling) while they take under BATCH_SECONDS: that bounds how late a
        # cancel is seen and a report is sent, to BATCH_SECONDS beyond one task's time.
        cancelled_jobs = self.cancelled_jobs
        outcomes = self.outcomes
        perf_counter = time.perf_counter
        count = len(inputs)
        position = 0  # offset in inputs of the next task to run
        step = 1
        api.set_task_context(context)
        try:
            while position < count:
                if job_id in cancelled_jobs:
                    for _ in range(position, count):
                        outcomes.add(STATUS_CANCELLED, None)
                    break
                end = min(count, position + step)
                batch: list[Any] = []
                context.batch = batch
                context.batch_start = start + position
                began_batch = perf_counter()
                try:
                    batch.extend(map(function, inputs[position:end]))
                except Cancelled:
                    outcome: tuple[int, Any] | None = (STATUS_CANCELLED, None)
                except BaseException as exc:  # noqa: BLE001 - every task error is reported, the worker lives on
                    failures = self.failures[job_id] = self.failures.get(job_id, 0) + 1
                    outcome = (STATUS_ERROR, describe_exception(exc, with_traceback=failures <= TRACEBACKS_PER_JOB,
                                                                with_exception=True))
                else:
                    outcome = None
                outcomes.add_results(batch)
                position += len(batch)
                if outcome is not None:
                    outcomes.add(*outcome)
                    position += 1
                if perf_counter() - began_batch < BATCH_SECONDS:
                    step *= 2
                elif step > 1:
                    step //= 2
                context.batch = None
                if time.monotonic() >= context.next_report:
                    self.report(finished=False, busy=0.0)
        finally:
            context.batch = None
            api.set_task_context(None)
        self.report(finished=True, busy=time.perf_counter() - began)
        if self.leftovers is not None:
            self.leftovers.note(job_id)

    def report_running(self) -> None:
        """Called from ``progress()`` inside a task: send what finished so far and the progress."""
        self.report(finished=False, busy=0.0)

    def report(self, *, finished: bool, busy: float) -> None:
        context = self.context
        progress = context.progress
        if progress is not None and progress.input_index != context.running_index():
            progress = None  # a finished task's progress: its outcome says more
        statuses, values = self.outcomes.pack()
        self.send(Report(self.chunk_id, statuses, values, progress, finished, busy))
        context.next_report = time.monotonic() + REPORT_INTERVAL


def worker_main(conn: Connection, parent_pid: int | None, nice: int) -> None:
    """Entry point of a worker process (runs in the child). Top-level so that spawn can start it."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the engine's to handle, never a task error
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass
    worker = _Worker(conn, exit_with_process_group, report_loaded=True)
    worker.leftovers = JobProcesses()
    threading.Thread(target=worker.read_forever, name="poolscope-worker-reader", daemon=True).start()
    worker.serve()
    # Exit now, even if a task left non-daemon threads behind that would keep the process alive.
    # What its tasks started and left running ends with its process group, which the engine
    # kills as it reaps this process.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def thread_worker_main(conn: Connection, readers: list[threading.Thread]) -> None:
    """Entry point of a thread slot (core/backends/threads.py): the same loop, in a thread.

    Its reader thread is appended to ``readers`` so that the backend can join it at shutdown
    (it ends when the engine closes its end of the pipe).
    """
    worker = _Worker(conn, lambda: worker.inbox.put(Stop()))
    reader = threading.Thread(target=worker.read_forever, name="poolscope-thread-reader", daemon=True)
    readers.append(reader)
    reader.start()
    try:
        worker.serve()
    finally:
        conn.close()  # the engine sees end-of-file: this slot has ended
