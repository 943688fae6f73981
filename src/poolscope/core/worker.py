"""The loop a worker process runs. Everything in this module runs in the worker (child) process.

One duplex pipe connects each worker to the engine; nothing else is shared, so a worker that
is killed can hold no lock another process needs (the pipe is simply discarded).

    engine ──(JOB, CHUNK, CANCEL, FORGET, REVOKE, STOP)──▶ reader thread ──inbox──▶ main loop runs tasks
    engine ◀──(READY, STARTED, REPORT, DROPPED, UNREADABLE, SETUP_FAILED, LOADED, STALE)── main loop, written synchronously
    engine ◀──(REVOKED)── reader thread

The reader thread keeps the inbound pipe drained (so the engine never blocks writing to a busy
worker), marks cancelled jobs at once (so ``cancel_requested()`` is a set lookup), gives back a
queued chunk the engine wants for an idle worker, and ends the process when the engine's end of
the pipe closes. It unpickles only the messages' envelopes: a job's kwargs and a chunk's inputs
are unpickled by the main thread (after it said STARTED), so what they raise fails their own job
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
from typing import Any, NamedTuple

from poolscope import api
from poolscope.api import Cancelled
from poolscope.core.errors import SpecError

# -- the wire protocol: the first element of every message -------------------------------------
# engine -> worker. User values (a job's kwargs, a chunk's inputs) travel pickled inside the
# message, as bytes: the reader thread unpickles only the envelope, made of our own types, and the
# main thread unpickles the user's part when it gets to it, so whatever that raises (or a crash
# while it runs) is charged to the job or chunk it belongs to, never to the channel.
MSG_JOB = "job"  # (MSG_JOB, job_id, setup: bytes): pickled (Target, kwargs: dict, initializer: Target | None)
MSG_CHUNK = "chunk"  # (MSG_CHUNK, chunk_id, job_id, start, inputs: bytes): pickled [input, ...] for start, start+1, ...
MSG_CANCEL = "cancel"  # (MSG_CANCEL, job_id)
MSG_TERMINATE = "terminate"  # (MSG_TERMINATE, job_id): to a slot that cannot be killed (threads, Dask)
MSG_FORGET = "forget"  # (MSG_FORGET, job_id): the job is over, drop its target
MSG_REVOKE = "revoke"  # (MSG_REVOKE, chunk_id): give this chunk back if it has not started
MSG_STOP = "stop"  # (MSG_STOP,): finish and exit
# worker -> engine
MSG_READY = "ready"  # (MSG_READY, pid)
MSG_STARTED = "started"  # (MSG_STARTED, chunk_id): sent before its inputs are unpickled
MSG_REPORT = "report"  # (MSG_REPORT, chunk_id, statuses | None, values | PickledValues, progress | None, finished, busy_seconds)
MSG_DROPPED = "dropped"  # (MSG_DROPPED, chunk_id): a chunk of a cancelled job, not run
MSG_REVOKED = "revoked"  # (MSG_REVOKED, chunk_id): the answer to MSG_REVOKE: it will not run here
MSG_UNREADABLE = "unreadable"  # (MSG_UNREADABLE, chunk_id, type, message, traceback): its inputs failed to unpickle; none ran
MSG_SETUP_FAILED = "setup_failed"  # (MSG_SETUP_FAILED, job_id, type, message, traceback)
MSG_NOTICE = "notice"  # (MSG_NOTICE, job_id, text): something the user should read
# (MSG_LOADED, {path: (mtime_ns, size)}): files of the user's own code this worker process loaded
# since its last LOADED, stamped when loaded (core/targets.py user_code_files). Sent after a job's
# setup, before the job's first report; the engine replaces the worker when one of them changes.
MSG_LOADED = "loaded"
# (MSG_STALE, job_id): a file this worker loaded changed before it set up the job (a change the
# engine had not heard of yet, see MSG_LOADED); the worker exits without running the job's tasks
# and the engine runs them on a fresh worker.
MSG_STALE = "stale"

# A report carries the outcomes of the chunk's next len(values) tasks, in input order: values[i]
# is read by statuses[i] (a bytes); statuses None means every one is STATUS_VALUE. That is the
# fast path for the common case of plain results: a worker sends them as PickledValues, one list
# pickled once, which the engine stores as it is (core/results.py): no per-task work there.
STATUS_PICKLED = 0  # the return value, pickled here on its own (so unpickling can fail alone)
STATUS_ERROR = 1  # (exception type, message, traceback text[, the exception pickled or None])
STATUS_CANCELLED = 2  # None
STATUS_VALUE = 3  # the return value itself: a plain type that always pickles and unpickles
# Types whose values can never fail to pickle or to unpickle: sent as they are, in one batch.
PLAIN_TYPES = frozenset({int, float, str, bytes, bool, type(None), complex})

REPORT_INTERVAL = 0.05  # seconds between reports while a chunk runs
BATCH_SECONDS = 0.002  # a batch of tasks stops growing once it takes this long (see run_chunk)
# A worker formats the tracebacks of a job's first this many failed tasks (the engine keeps its
# first 1,000 failures in full): a job whose every task fails does not spend ~50 us a task on them.
TRACEBACKS_PER_JOB = 1000
PR_SET_PDEATHSIG = 1


class InitializerError(Exception):
    """A job's initializer raised in this worker (the job fails: "worker could not start")."""


class SetupError(Exception):
    """A job's settings could not be unpickled in this worker (the job fails: "worker could not start")."""


class PickledValues(NamedTuple):
    """A report's values when all are plain: ``pickle.loads(data)`` is the list of ``size`` values."""

    size: int
    data: bytes

    @classmethod
    def of(cls, values: list[Any]) -> PickledValues:
        return cls(len(values), pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL))


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
        self.progress: tuple[int, float, float | None] | None = None  # the latest progress() call
        self.next_report = 0.0

    def report_progress(self, done: float, total: float | None) -> None:
        try:
            self.progress = (self.running_index(), float(done), None if total is None else float(total))
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
        # Held while a message is written: the main thread writes everything but MSG_REVOKED,
        # which the reader thread writes (see revoke()).
        self.send_lock = threading.Lock()
        # Chunks received and not yet started (chunk ids), and those given back by revoke() that
        # the main loop must skip: both under claim_lock, taken by the reader and the main thread.
        self.claim_lock = threading.Lock()
        self.queued_chunks: set[int] = set()
        self.revoked_chunks: set[int] = set()
        self.on_engine_gone = on_engine_gone
        self.inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()  # filled by the reader thread
        self.cancelled_jobs: set[int] = set()  # job ids; added to by the reader thread
        self.jobs: dict[int, Callable[[Any], Any] | BaseException] = {}  # the target, kwargs bound
        self.failures: dict[int, int] = {}  # job id -> its tasks that raised here
        # A worker process says which files of user code it loaded (MSG_LOADED); a thread slot
        # shares its process's modules and cannot be replaced for fresh code, so it does not.
        self.report_loaded = report_loaded
        self.scanned_modules: set[str] = set()  # sys.modules names already looked at for MSG_LOADED
        self.modules_at_scan = -1  # len(sys.modules) at that look: a task that imports changes it
        self.loaded_files: dict[str, tuple[int, int]] = {}  # what MSG_LOADED said: path -> (mtime_ns, size)
        # Outcomes of tasks finished since the last report (see MSG_REPORT): main thread only.
        self.values: list[Any] = []
        self.statuses: bytearray | None = None  # None while every outcome is STATUS_VALUE
        self.chunk_id = -1
        self.context = _TaskContext(self.cancelled_jobs, self.report_running)
        # Processes a job's tasks started and left running, ended with the job (process workers)
        self.leftovers: _JobProcesses | None = None

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
                message = pickle.loads(data)
            except BaseException:  # noqa: BLE001 - envelopes hold only our own types: a broken channel
                import traceback

                traceback.print_exc()
                self.on_engine_gone()  # end the worker: the engine sees it go and recovers its chunks
                return
            kind = message[0]
            if kind in (MSG_CANCEL, MSG_TERMINATE):  # TERMINATE: to a slot that cannot be killed
                self.cancelled_jobs.add(message[1])
            elif kind == MSG_REVOKE:
                self.revoke(message[1])
            else:
                if kind == MSG_CHUNK:
                    with self.claim_lock:
                        self.queued_chunks.add(message[1])
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
        self.send((MSG_REVOKED, chunk_id))

    def send(self, message: tuple[Any, ...]) -> None:
        with self.send_lock:
            self.conn.send(message)

    # -- main thread -----------------------------------------------------------------------------
    def serve(self) -> None:
        self.send((MSG_READY, os.getpid()))
        while True:
            message = self.inbox.get()
            kind = message[0]
            if kind == MSG_CHUNK:
                with self.claim_lock:
                    if message[1] in self.revoked_chunks:  # given back: the engine sent it elsewhere
                        self.revoked_chunks.discard(message[1])
                        continue
                    self.queued_chunks.discard(message[1])
                self.run_chunk(message[1], message[2], message[3], message[4])
                if self.report_loaded and len(sys.modules) != self.modules_at_scan:
                    self.report_loaded_files()  # a task imported a module: stamp it now, as loaded
            elif kind == MSG_JOB:
                if not self.set_up_job(message[1], message[2]):
                    return  # stale code: a fresh worker takes over
            elif kind == MSG_FORGET:
                if self.leftovers is not None:
                    self.leftovers.end(message[1])
                self.jobs.pop(message[1], None)
                self.failures.pop(message[1], None)
                self.cancelled_jobs.discard(message[1])
            elif kind == MSG_STOP:
                return

    def set_up_job(self, job_id: int, setup: bytes) -> bool:
        """Load the job's target (and run its initializer); False if this worker's code is stale."""
        if self.report_loaded and self.loaded_files:
            from poolscope.core.targets import stamp_files

            if stamp_files(self.loaded_files) != self.loaded_files:
                self.send((MSG_STALE, job_id))
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
            self.send((MSG_SETUP_FAILED, job_id, *describe_exception(exc)))
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
            self.send((MSG_LOADED, files))

    def run_chunk(self, chunk_id: int, job_id: int, start: int, payload: bytes) -> None:
        if job_id in self.cancelled_jobs:
            self.send((MSG_DROPPED, chunk_id))
            return
        # STARTED goes before the inputs are unpickled: a crash while they unpickle is then a
        # crash of this chunk, pinned on its input and retried like one (never a free requeue).
        self.send((MSG_STARTED, chunk_id))
        try:
            inputs: Sequence[Any] = pickle.loads(payload)
        except BaseException as exc:  # noqa: BLE001 - the engine fails the input (or sends them one by one)
            self.send((MSG_UNREADABLE, chunk_id, *describe_exception(exc)))
            return
        self.chunk_id = chunk_id
        context = self.context
        context.job_id = job_id
        context.next_report = time.monotonic() + REPORT_INTERVAL
        began = time.perf_counter()
        setup = self.jobs.get(job_id)
        if setup is None or isinstance(setup, BaseException):
            reason = f"worker could not start the job: {setup}" if setup else "job was not set up"
            error = ("WorkerStartError", reason, format_traceback(setup) if setup else "")
            for _ in inputs:
                self.add(STATUS_ERROR, error)
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
        plain = PLAIN_TYPES
        perf_counter = time.perf_counter
        count = len(inputs)
        position = 0  # offset in inputs of the next task to run
        step = 1
        api.set_task_context(context)
        try:
            while position < count:
                if job_id in cancelled_jobs:
                    for _ in range(position, count):
                        self.add(STATUS_CANCELLED, None)
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
                    outcome = (STATUS_ERROR, (*describe_exception(exc, with_traceback=failures <= TRACEBACKS_PER_JOB),
                                              pickle_exception(exc)))
                else:
                    outcome = None
                if self.statuses is None and plain.issuperset(map(type, batch)):
                    self.values.extend(batch)
                else:
                    for result in batch:
                        self.add(*encode_result(result))
                position += len(batch)
                if outcome is not None:
                    self.add(*outcome)
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

    def add(self, status: int, value: Any) -> None:
        """Record one task's outcome for the next report."""
        if self.statuses is None:
            if status == STATUS_VALUE:
                self.values.append(value)
                return
            self.statuses = bytearray([STATUS_VALUE]) * len(self.values)
        self.statuses.append(status)
        self.values.append(value)

    def report_running(self) -> None:
        """Called from ``progress()`` inside a task: send what finished so far and the progress."""
        self.report(finished=False, busy=0.0)

    def report(self, *, finished: bool, busy: float) -> None:
        context = self.context
        progress = context.progress
        if progress is not None and progress[0] != context.running_index():
            progress = None  # a finished task's progress: its outcome says more
        values: list[Any] | PickledValues = self.values
        if self.statuses is None:
            statuses = None
            if self.values:
                values = PickledValues.of(self.values)
        else:
            statuses = bytes(self.statuses)
        # send() pickles at once, so the list can be emptied (not replaced: run_chunk holds it).
        self.send((MSG_REPORT, self.chunk_id, statuses, values, progress, finished, busy))
        self.values.clear()
        self.statuses = None
        context.next_report = time.monotonic() + REPORT_INTERVAL


def load_job(setup: bytes) -> tuple[Any, dict[str, Any], Any]:
    """A MSG_JOB's setup: (Target, kwargs, initializer Target or None). Says what failed to unpickle."""
    try:
        target, kwargs, initializer = pickle.loads(setup)
    except BaseException as exc:  # the job fails with this as its reason
        raise SetupError(f"the job's keyword arguments could not be unpickled here: "
                         f"{type(exc).__name__}: {exc}") from exc
    return target, kwargs, initializer


def encode_result(result: Any) -> tuple[int, Any]:
    """A task's return value as (status, value) for a report: plain, pickled, or the pickling error."""
    if type(result) in PLAIN_TYPES:
        return STATUS_VALUE, result
    try:
        return STATUS_PICKLED, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: BLE001
        message = f"the task's result ({type(result).__name__}) could not be pickled: {type(exc).__name__}: {exc}"
        return STATUS_ERROR, ("UnpicklableResult", message, format_traceback(exc))


def describe_exception(exc: BaseException, *, with_traceback: bool = True) -> tuple[str, str, str]:
    try:
        return (type(exc).__name__, str(exc), format_traceback(exc) if with_traceback else "")
    except BaseException:  # noqa: BLE001 - e.g. MemoryError again, or a __str__ that raises
        return (type(exc).__name__, "<the exception could not be described>", "")


def pickle_exception(exc: BaseException) -> bytes | None:
    """A task's exception pickled, for the caller to raise it again (the drop-in pools); None if it
    does not pickle. A few microseconds, paid only by a task that failed."""
    try:
        return pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # noqa: BLE001 - its __reduce__ is user code
        return None


def format_traceback(exc: BaseException) -> str:
    import traceback  # here: a worker whose tasks do not fail never needs it

    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class _JobProcesses:
    """The processes a job's tasks started in this worker and left running, ended with the job.

    After each chunk the worker's children are listed (``/proc/self/task/*/children``, about
    0.1 ms; a chunk runs about 50 ms) and the new ones are the chunk's job's: a task, or the
    job's initializer, started them. When the job ends (MSG_FORGET), those still running are
    killed with their descendants. What a task started and detached (its parent exited, so it
    is no longer a child here) stays in the worker's process group and ends with the worker.
    Linux only (elsewhere the list is empty: everything ends with the worker). Runs in the
    worker, on its main thread.
    """

    def __init__(self) -> None:
        self.by_job: dict[int, set[int]] = {}  # job id -> pids of children first seen after its chunk
        self.seen: set[int] = set()  # every child pid attributed so far (and still a child)

    def note(self, job_id: int) -> None:
        """After a chunk of ``job_id``: children not seen before are its."""
        children = _children()
        gone = self.seen - children
        if gone:  # exited and reaped: their pids may come back as another job's children
            self.seen -= gone
            for pids in self.by_job.values():
                pids -= gone
        new = children - self.seen
        if new:
            self.by_job.setdefault(job_id, set()).update(new)
            self.seen |= new

    def end(self, job_id: int) -> None:
        """Kill the processes of ``job_id`` still running (each with its descendants)."""
        pids = self.by_job.pop(job_id, set()) & _children()  # still ours: not reaped, so not reused
        if pids:
            from poolscope.core.processes import kill_process_tree  # psutil, only when needed

            for pid in pids:
                kill_process_tree(pid)
            _reap(pids)
        self.seen -= pids


def _reap(pids: set[int], timeout: float = 0.1) -> None:
    """Collect the exit status of children just killed (no zombie left), waiting at most ``timeout``."""
    deadline = time.monotonic() + timeout
    left = set(pids)
    while left:
        for pid in list(left):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    left.discard(pid)
            except ChildProcessError:  # reaped already (the task's Popen, say)
                left.discard(pid)
        if left:
            if time.monotonic() > deadline:
                return
            time.sleep(0.002)


def _children() -> set[int]:
    """The pids of this process's children (every thread's), from /proc; empty where there is none."""
    pids: set[int] = set()
    try:
        threads = os.listdir("/proc/self/task")
    except OSError:
        return pids
    for tid in threads:
        try:
            with open(f"/proc/self/task/{tid}/children", "rb") as handle:
                pids.update(map(int, handle.read().split()))
        except OSError:
            continue
    return pids


def _exit_with_process_group(*_: object) -> None:
    """End this worker and every process its tasks started (they share its process group)."""
    try:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    finally:
        os._exit(1)


def _die_with_parent(parent_pid: int | None) -> None:
    """Make this worker (and its tasks' children) go when the engine does, with no Python code
    of ours needing to run here then: a task may hold the interpreter in one long C call.

    The worker leads its own process group, so one ``killpg`` reaches every process a task
    started. If the engine's process goes, the kernel kills this worker (``PR_SET_PDEATHSIG``
    with SIGKILL, on Linux), and the backend's lifeline process (core/processes.py ``Lifeline``)
    kills its group. While the engine lives, it kills the group whenever this worker is gone
    (core/backends/processes.py). The reader thread ends the group too when the pipe closes.
    SIGTERM keeps its default action, so a worker terminated from outside is reported as such.

    ``parent_pid`` is the engine's pid when the engine started this process itself (spawn); None
    when another process did (forkserver: that server, which ends with the engine's process).
    """
    if parent_pid is None:
        parent_pid = os.getppid()
    os.setpgrp()
    if sys.platform.startswith("linux"):
        import ctypes  # here: only this start-up step needs it

        try:
            # The process's own symbols include libc's prctl: no ctypes.util.find_library, which
            # imports subprocess and runs ldconfig (about 15 ms of every worker's start).
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        _exit_with_process_group()


def worker_main(conn: Connection, parent_pid: int | None, nice: int) -> None:
    """Entry point of a worker process (runs in the child). Top-level so that spawn can start it."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the engine's to handle, never a task error
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass
    worker = _Worker(conn, _exit_with_process_group, report_loaded=True)
    worker.leftovers = _JobProcesses()
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
    worker = _Worker(conn, lambda: worker.inbox.put((MSG_STOP,)))
    reader = threading.Thread(target=worker.read_forever, name="poolscope-thread-reader", daemon=True)
    readers.append(reader)
    reader.start()
    try:
        worker.serve()
    finally:
        conn.close()  # the engine sees end-of-file: this slot has ended
