"""The engine: a process pool that several jobs share, and that can cancel or kill one job.

Data flow (names as in the code)::

    caller threads                engine thread (one, owns all state)               worker processes
    ──────────────                ───────────────────────────────────               ────────────────
    Engine.submit/cancel/   ──▶   _commands (deque) + _wake pipe                    core/worker.py
    terminate/shutdown            │
                                  ├─ handle_commands: register jobs, cancel, kill
                                  ├─ dispatch_ready_tasks ──(JOB, CHUNK, REVOKE)──▶  one duplex pipe
                                  │    least worker time first, adaptive chunk size;   per worker
                                  │    a queued chunk taken back for an idle worker
                                  ├─ collect_messages   ◀──(STARTED, REPORT, ...)── written
                                  │    results into JobRecord, counters, errors        synchronously,
                                  ├─ reap_dead_workers  ◀── process sentinels          batched
                                  │    requeue / retry / fail what they held (a death
                                  │    while setting a job up counts against it), respawn
                                  ├─ enforce_timeouts: kill a worker whose task ran too long
                                  ├─ finish_jobs: final state, wake Job.wait()
                                  └─ publish_events ──▶ events: multiprocessing.Queue of lists
                                                         (the window's bridge, the CLI)

Why a pool of our own: ``multiprocessing.Pool`` hangs when a worker dies and cannot stop one
job's tasks; ``ProcessPoolExecutor`` breaks every job when one worker dies. With one pipe per
worker the engine knows which worker runs which task, so terminating a job kills exactly the
processes running it, and a crash costs one task (or is retried), never the pool.

All mutable state below is owned by the engine thread; other threads only append to
``_commands`` (then write a byte to the wake pipe, unless one is pending) and read a JobRecord's
counters. User code that runs on the engine thread (pickling kwargs and inputs, an input
iterator, ``repr`` of an input, ``on_result``) runs under ``except BaseException``: it fails its
task or its job, never the engine.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import itertools
import multiprocessing
import os
import pickle
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from poolscope.core import worker as protocol
from poolscope.core.backends import DASK, PROCESSES, THREADS, Backend, WorkerHandle
from poolscope.core.backends.processes import ProcessBackend
from poolscope.core.backends.threads import ThreadBackend
from poolscope.core.events import (
    ChunkRan,
    JobFinished,
    JobNotice,
    JobProgress,
    JobStateChanged,
    JobSubmitted,
    RunningChunk,
    TaskFailed,
    TasksFinished,
    WorkerActivity,
    WorkerExited,
    WorkerStarted,
)
from poolscope.core.inputs import InputReader
from poolscope.core.jobs import JobSpec, JobState, JobSummary, SpecError, TaskError, write_results
from poolscope.core.processes import signal_name
from poolscope.core.results import ResultLoader, ResultStore, check_one_pickled, check_pickled
from poolscope.core.targets import FileStamp, stamp_files

TARGET_CHUNK_SECONDS = 0.05  # an automatic chunk runs about this long: fair, responsive, cheap
MAX_CHUNK = 20_000  # tasks in one chunk at most
MIN_TAIL_CHUNK_SECONDS = 0.002  # a job's last chunks shrink to balance the workers, but not below this
PREFETCH_BELOW_SECONDS = 0.25  # a worker gets a second chunk only when chunks are this short
PUBLISH_INTERVAL = 0.1  # seconds between event batches on the queue (the window takes 4 updates a second)
HOUSEKEEPING_INTERVAL = 0.1  # the engine loop wakes at least this often
STARTUP_FAILURES_BEFORE_GIVING_UP = 5  # workers dying before READY in a row
ERRORS_KEPT = 1000  # a job keeps its first this many failed tasks in full; the rest are counted by type

# Commands from caller threads to the engine thread (first element of each tuple).
CMD_SUBMIT = "submit"
CMD_CANCEL = "cancel"
CMD_TERMINATE = "terminate"
CMD_STOP = "stop"
CMD_START_BACKEND = "start_backend"  # (verb, name, reply: _Reply)


class EngineClosed(RuntimeError):
    """The engine was shut down; it takes no more jobs."""


class _Reply:
    """An answer from the engine thread to a caller waiting on ``done``."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


@dataclass(eq=False)
class _Chunk:
    """Consecutive inputs of one job sent to one worker as one message."""

    id: int
    job: JobRecord
    start: int  # the input index of inputs[0]; the chunk holds start, start+1, ...
    inputs: Sequence[Any]  # a list, or a range (a chunk of a range input)
    reported: int = 0  # how many of its tasks the worker has reported (in order)
    started_at: float | None = None  # monotonic time of the worker's STARTED
    revoking: bool = False  # MSG_REVOKE sent: the worker answers REVOKED, or STARTED if too late
    sent_at: float | None = None  # monotonic time it was sent (its worker time counts from here until STARTED)

    @property
    def unfinished_count(self) -> int:
        return len(self.inputs) - self.reported

    @property
    def next_index(self) -> int:
        """The input index of the first task not yet reported."""
        return self.start + self.reported

    def tail(self, chunk_id: int, offset: int | None = None) -> _Chunk:
        """A new chunk of this one's tasks from ``offset`` (default: the first unreported) on."""
        offset = self.reported if offset is None else offset
        return _Chunk(chunk_id, self.job, self.start + offset, self.inputs[offset:])


@dataclass(eq=False)
class _WorkerSlot:
    """The engine's view of one worker: a process, a thread, or a forwarder to Dask."""

    backend: str
    slot: int
    handle: WorkerHandle
    conn: Connection  # the engine's end of the worker's pipe; read and written by the engine thread
    pid: int
    ready: bool = False
    stopping_reason: str | None = None  # set once the engine killed or stopped it
    outstanding: collections.deque[_Chunk] = field(default_factory=collections.deque)  # sent, not finished; head runs
    known_jobs: set[int] = field(default_factory=set)  # jobs whose target was sent (MSG_JOB)
    # Jobs sent (MSG_JOB) that it has not yet been seen to set up (no STARTED, DROPPED or
    # SETUP_FAILED of theirs yet): if it dies now, before its next chunk starts, the set-up killed it.
    setting_up: set[int] = field(default_factory=set)
    tasks_done: int = 0
    job_tasks_done: collections.Counter[int] = field(default_factory=collections.Counter)
    job_tasks_sent: collections.Counter[int] = field(default_factory=collections.Counter)  # for max_tasks_per_worker
    task_progress: float | None = None
    # Files of user code the worker process loaded, stamped when loaded (MSG_LOADED; see
    # _replace_workers_with_stale_code). Written by the engine thread.
    loaded_files: dict[str, FileStamp] = field(default_factory=dict)


class JobRecord:
    """A job's state inside the engine. Counters are written by the engine thread only."""

    def __init__(self, job_id: int, spec: JobSpec, on_result: Callable[[int, Any, Any], None] | None) -> None:
        self.id = job_id
        self.spec = spec
        self.on_result = on_result  # called on the engine thread with (index, input, result)
        self.state = JobState.PENDING
        self.total = spec.inputs.total
        # Opened when the job is registered; None once every input is taken (or none will be)
        self.inputs: InputReader | None = None
        self.next_index = 0  # inputs taken from the iterator so far
        self.requeued: collections.deque[_Chunk] = collections.deque()  # to run again, before new inputs
        self.chunks_out = 0  # chunks sent to workers and not finished
        self.done = 0
        self.failed = 0
        self.cancelled = 0
        self.errors: list[TaskError] = []  # the first ERRORS_KEPT failures
        self.errors_omitted: collections.Counter[str] = collections.Counter()  # the rest, by exception type
        self.results = ResultStore()  # by input index; spills to a temporary file past a few MB
        # Builds pickled results in the caller's process (Job.wait/results/iter_results, on_result),
        # importing the user's modules as a worker does; never on the window's path.
        self.load_result = ResultLoader(spec.target)
        self.attempts: collections.Counter[int] = collections.Counter()  # crashes per input index
        self.seconds_per_task: float | None = None  # measured, smoothed
        # -- what its rate, time left and share of the workers are measured from (engine thread)
        self.first_task_at: float | None = None  # time.monotonic() of its first chunk's STARTED
        self.timed_seconds = 0.0  # worker-seconds its finished chunks took, as the workers measured them
        self.timed_tasks = 0  # tasks in those chunks
        self.fair_offset: float | None = None  # worker-seconds it is credited with on joining (see _take_turn)
        self.cancel_requested = False
        self.terminate_requested = False
        self.setup_error: TaskError | None = None
        self.setup_payload: bytes | None = None  # pickled (target, kwargs, initializer): MSG_JOB's, made once
        self.setup_crashes = 0  # workers that died while setting the job up (loading the target, initializer)
        self.input_error: TaskError | None = None  # what the input source raised: the job fails, inputs before it run
        self.callback_failed = False  # its on_result raised once (said once, in the log)
        self.submitted_at = time.time()
        self.started_at: float | None = None  # perf_counter
        self.finished_at: float | None = None
        self.workers = 0
        self.finished = threading.Event()
        self.final: JobSummary | None = None  # set when the job ends; results filled in by Job.wait()
        self.results_lock = threading.Lock()

    @property
    def has_work(self) -> bool:
        return bool(self.requeued) or self.inputs is not None

    def summary(self) -> JobSummary:
        end = self.finished_at if self.finished_at is not None else time.perf_counter()
        return JobSummary(
            job_id=self.id,
            name=self.spec.name,
            target=self.spec.target.text,
            inputs=self.spec.inputs.text,
            status=self.state,
            total=self.total,
            done=self.done,
            failed=self.failed,
            cancelled=self.cancelled,
            wall_seconds=0.0 if self.started_at is None else end - self.started_at,
            workers=self.workers,
            errors=tuple(self.errors),
            errors_omitted=dict(self.errors_omitted),
        )

    def ordered_results(self) -> list[Any]:
        return self.results.ordered(self.total if self.total is not None else self.next_index, self.load_result)


class Job:
    """The caller's handle on a submitted job."""

    def __init__(self, engine: Engine, record: JobRecord) -> None:
        self._engine = engine
        self._record = record

    @property
    def id(self) -> int:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.spec.name

    @property
    def spec(self) -> JobSpec:
        return self._record.spec

    @property
    def state(self) -> JobState:
        return self._record.state

    def summary(self) -> JobSummary:
        """Where the job stands now (no results; see :meth:`wait`)."""
        return self._record.final or self._record.summary()

    def wait(self, timeout: float | None = None) -> JobSummary:
        """Wait until the job ends; return its summary with results. Raises ``TimeoutError``."""
        if not self._record.finished.wait(timeout):
            raise TimeoutError(f"job {self.id} ({self.name}) still {self._record.state.value} after {timeout} s")
        record = self._record
        assert record.final is not None
        with record.results_lock:  # built once, on first asking: a window that never asks never pays
            if record.final.results is None:
                record.final = dataclasses.replace(record.final, results=record.ordered_results())
        return record.final

    def results(self) -> list[Any]:
        """Results by input index so far (``None`` where a task has not finished)."""
        return self._record.ordered_results()

    def iter_results(self) -> Iterator[tuple[int, Any]]:
        """``(input index, result)`` of every task finished so far, in input order.

        Read from where the engine keeps them one block at a time: unlike :meth:`results`, this
        never holds every result in memory at once. Results of the user's classes are built in
        this process, their modules imported as a worker imports them.
        """
        return self._record.results.items(self._record.load_result)

    def save_results(self, path: str, *, progress: Callable[[int], None] | None = None) -> int:
        """Write the results so far to ``path`` as JSON Lines, as ``poolscope run --results`` does.

        One line per finished task, in input order; failed, cancelled and unfinished tasks have
        none. The file appears whole or not at all (written beside it, then renamed). Returns how
        many results were written; raises ``OSError`` if the file cannot be written. ``progress``
        is called with the count so far every thousand results.

        The window calls this: results of a job of the user's code are unpickled and made
        JSON-ready in a child process (``ResultStore.json_ready_items``), never in this one.
        """
        inputs = self.spec.inputs
        record = self._record
        results = (record.results.json_ready_items(self.spec.target) if self.spec.target.is_user_code
                   else record.results.items())
        partial = f"{path}.part"
        try:
            with open(partial, "w", encoding="utf-8") as stream:
                count = write_results(stream, results, inputs.iterate() if inputs.repeatable else None,
                                      progress)
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise
        return count

    def cancel(self) -> None:
        self._engine.cancel(self)

    def terminate(self) -> None:
        self._engine.terminate(self)

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.name!r} {self._record.state.value}>"


class Engine:
    """A pool of worker processes shared by every job submitted to it.

    ``Engine(workers=None, nice=10, events=False)``: ``workers`` processes (default: one per
    logical core) at the given nice level. With ``events=True``, :attr:`events` is a
    ``multiprocessing.Queue`` of event lists (core/events.py) for a consumer thread to drain.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        nice: int = 10,
        events: bool = False,
        start_method: str = "spawn",
        threads: int | None = None,
        dask_scheduler: str | None = None,
        dask_workers: int = 2,
    ) -> None:
        if workers is None:
            workers = os.cpu_count() or 1
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise SpecError("workers", f"must be a whole number of at least 1, not {workers!r}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise SpecError("threads", f"must be a whole number of at least 1, not {threads!r}")
        if start_method == "fork":
            raise ValueError("start method 'fork' is unsafe in a threaded process; use 'spawn' or 'forkserver'")
        if getattr(multiprocessing.current_process(), "_inheriting", False):
            # A spawned process is importing the main module of a script that creates an Engine
            # at top level. Say so here, where the script's author will read it; the parent's
            # engine sees its workers die while starting and fails the job.
            raise RuntimeError(
                "an Engine was created while a worker process was importing the main module: create "
                "it under `if __name__ == \"__main__\":` in your script (workers start with spawn, "
                "which imports the main module again)")
        self._mp = multiprocessing.get_context(start_method)
        self._size = workers
        self._nice = nice
        self._threads = threads or workers
        self._dask_scheduler = dask_scheduler  # None: a LocalCluster is started on first use; under _lock
        self._dask_started = False  # the Dask backend is starting or started: its address is fixed; under _lock
        self._dask_workers = dask_workers
        # Backends in use, started on first need (processes at once); engine thread only.
        self._backends: dict[str, Backend] = {}
        # Event lists for the consumer; written by the engine thread (its feeder thread pickles).
        self._events = self._mp.Queue() if events else None
        if self._events is not None:
            self._events.cancel_join_thread()  # never hang interpreter exit on an unread queue
        # Readers of every event batch beside the queue (history, a window a script reports to):
        # replaced whole under _lock by subscribe(), read by the engine thread.
        self._subscribers: tuple[Callable[[list[Any]], None], ...] = ()
        # Names the results file each job submitted writes through to (the history), or None; set
        # by keep_results_in(), read by submit() under _lock.
        self._results_files: Callable[[int, JobSpec], str | None] | None = None
        # Commands from caller threads, read by the engine thread; a byte on _wake_* wakes it.
        self._commands: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake_reader, self._wake_writer = self._mp.Pipe(duplex=False)
        # Whether a byte is on its way in the wake pipe: callers write one only when none is, so
        # the pipe never fills (a full pipe would block a caller, or the engine thread itself when
        # a callback submits). Set by callers, cleared by the engine thread after it drains the pipe.
        self._wake_pending = False
        self._lock = threading.Lock()  # serialises submit/stop against each other and the wake pipe
        self._closed = False
        self._job_ids = itertools.count(1)
        self._jobs: dict[int, JobRecord] = {}  # every job submitted; written under _lock
        # -- engine-thread state ------------------------------------------------------------
        self._workers: list[_WorkerSlot] = []  # live or dying workers
        self._chunk_ids = itertools.count(1)
        self._active: collections.deque[JobRecord] = collections.deque()  # unfinished jobs, oldest first
        self._pending_events: list[Any] = []
        self._finished_deltas: dict[int, list[int]] = {}  # job id -> [done, failed, cancelled] since last publish
        self._activity: dict[int, WorkerActivity] = {}  # pid -> latest activity since last publish
        self._progressed: set[JobRecord] = set()  # jobs whose chunks started, reported or ended since last publish
        self._last_publish = 0.0
        self._startup_failures = 0
        self._stopping = False
        self._stop_mode = "wait"
        self._worker_pids: tuple[int, ...] = ()  # readable from any thread
        self._thread = threading.Thread(target=self._run, name="poolscope-engine", daemon=True)
        self._thread.start()
        self._atexit = _make_atexit(weakref.ref(self))
        atexit.register(self._atexit)

    # -- public API (any thread) ---------------------------------------------------------------
    @property
    def events(self) -> Any:
        """The multiprocessing Queue of event lists (only with ``events=True``)."""
        if self._events is None:
            raise RuntimeError("this Engine was created without events=True")
        return self._events

    def subscribe(self, callback: Callable[[list[Any]], None]) -> Callable[[], None]:
        """Call ``callback(batch)`` with every batch of events published from now on (the lists the
        ``events`` queue gets, which it gets too), on the engine's thread: it must not block (hand
        the batch to a queue of its own). One that raises is dropped and never called again.
        Returns the function that unsubscribes it."""
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(other for other in self._subscribers if other is not callback)

        return unsubscribe

    def keep_results_in(self, where: Callable[[int, JobSpec], str | None] | None) -> None:
        """Have each job submitted from now on write its results through to the file
        ``where(job_id, spec)`` names (None: none), before its tasks count as done (see
        core/results.py ``ResultStore.write_through``). Called in ``submit()``: it must be quick."""
        with self._lock:
            self._results_files = where

    @property
    def workers(self) -> int:
        return self._size

    def worker_pids(self) -> list[int]:
        """Pids of the worker processes ready to take tasks (the processes backend)."""
        return list(self._worker_pids)

    def backend_workers(self) -> dict[str, list[dict[str, Any]]]:
        """What each remote backend knows of its workers (Dask: per-worker CPU and memory)."""
        return {name: backend.describe_workers() for name, backend in list(self._backends.items())}

    def submit(self, spec: JobSpec, *, on_result: Callable[[int, Any, Any], None] | None = None) -> Job:
        """Start a job. ``on_result(index, input, result)`` is called, on the engine's thread, as
        each task finishes (keep it quick)."""
        if not isinstance(spec, JobSpec):
            raise TypeError(f"submit() takes a JobSpec, not {type(spec).__name__}")
        with self._lock:
            if self._closed:
                raise EngineClosed("the engine has been shut down")
            record = JobRecord(next(self._job_ids), spec, on_result)
            if self._results_files is not None:
                path = self._results_files(record.id, spec)
                if path is not None:
                    record.results.write_through(path)
            self._jobs[record.id] = record
            self._command(CMD_SUBMIT, record)
        return Job(self, record)

    def cancel(self, job: Job | int) -> None:
        """Cancel cooperatively: drop tasks not started; running ones see ``cancel_requested()``."""
        self._command(CMD_CANCEL, self._job_id(job))

    def terminate(self, job: Job | int) -> None:
        """Kill the processes running the job's tasks (and their children); start replacements."""
        self._command(CMD_TERMINATE, self._job_id(job))

    @property
    def dask_scheduler(self) -> str | None:
        """The Dask scheduler address Dask jobs use (None: a local cluster started on first use)."""
        with self._lock:
            return self._dask_scheduler

    def set_dask_scheduler(self, address: str | None) -> None:
        """Choose the Dask scheduler (None: a local cluster) before the first Dask job starts it.

        Raises ``RuntimeError`` naming the one in use if Dask has started on another address.
        """
        with self._lock:
            if self._dask_started and address != self._dask_scheduler:
                raise RuntimeError(f"Dask already runs on {self._dask_scheduler or 'a local cluster'}; "
                                   "another scheduler needs a new poolscope")
            self._dask_scheduler = address

    def start_backend(self, name: str, *, scheduler: str | None = None, timeout: float | None = None) -> int:
        """Start a backend now rather than with its first job; return its number of worker slots.

        For Dask, ``scheduler`` is set first (see :meth:`set_dask_scheduler`). Raises what starting
        the backend raised (e.g. ``ConnectionError`` for an unreachable scheduler).
        """
        from poolscope.core.jobs import check_backend

        check_backend(name)
        if name == DASK and scheduler is not None:
            self.set_dask_scheduler(scheduler)
        reply = _Reply()
        with self._lock:
            if self._closed:
                raise EngineClosed("the engine has been shut down")
            self._command(CMD_START_BACKEND, name, reply)
        if not reply.done.wait(timeout):
            raise TimeoutError(f"the {name} backend did not start within {timeout} s")
        if reply.error is not None:
            raise reply.error
        return int(reply.value)

    def job(self, job_id: int) -> Job:
        return Job(self, self._jobs[job_id])

    def forget(self, job: Job | int) -> None:
        """Drop a finished job's record (its results and errors) from the engine.

        Handles to it keep working; the memory goes when the last handle does. A job that has
        not finished is left alone.
        """
        job_id = self._job_id(job)
        with self._lock:
            record = self._jobs.get(job_id)
            if record is not None and record.finished.is_set():
                del self._jobs[job_id]

    def shutdown(self, *, cancel: bool = False, terminate: bool = False, timeout: float | None = None) -> None:
        """Stop taking jobs, let running ones finish (or cancel / terminate them), stop the workers.

        Returns when the engine thread has ended and every worker process is gone.
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                mode = "terminate" if terminate else "cancel" if cancel else "wait"
                self._command(CMD_STOP, mode)
            elif terminate:
                self._command(CMD_STOP, "terminate")
        self._thread.join(timeout)
        if not self._thread.is_alive():
            atexit.unregister(self._atexit)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.shutdown(terminate=exc_type is not None)

    def _job_id(self, job: Job | int) -> int:
        return job.id if isinstance(job, Job) else int(job)

    def _command(self, *command: Any) -> None:
        self._commands.append(command)
        if self._wake_pending:
            return  # the engine thread will wake for the byte already sent and see this command too
        self._wake_pending = True
        try:
            self._wake_writer.send_bytes(b"!")
        except OSError:
            pass  # the engine thread has ended and closed the pipe

    # -- the engine thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._ensure_backend(PROCESSES)
            while True:
                self._handle_commands()
                if self._stopping and not self._active:
                    break
                self._dispatch_ready_tasks()
                self._publish_events()
                ready = wait(self._waitables(), timeout=self._wait_timeout())
                self._collect_messages(ready)
                self._reap_dead_workers(ready)
                self._enforce_timeouts()
                self._finish_jobs()
        except BaseException:  # noqa: BLE001 - the engine must not die silently
            traceback.print_exc()
            for record in list(self._active):
                record.setup_error = TaskError(-1, "EngineError", "the engine stopped unexpectedly", traceback.format_exc())
        finally:
            self._stop_workers()
            for record in list(self._active):
                self._finish(record, JobState.TERMINATED if record.state != JobState.PENDING else JobState.CANCELLED)
            self._publish_events(force=True)
            with self._lock:
                self._closed = True
            self._wake_reader.close()
            self._wake_writer.close()

    def _waitables(self) -> list[Any]:
        waitables: list[Any] = [self._wake_reader]
        for worker in self._workers:
            if worker.handle.sentinel is not None:
                waitables.append(worker.handle.sentinel)
            if not worker.conn.closed:
                waitables.append(worker.conn)
        return waitables

    def _wait_timeout(self) -> float:
        if any(not record.has_work and record.chunks_out == 0 for record in self._active):
            return 0.0  # a job has nothing left (e.g. every input failed to pickle): it ends now
        timeout = HOUSEKEEPING_INTERVAL
        if self._pending_events or self._finished_deltas or self._activity:
            timeout = max(0.0, self._last_publish + PUBLISH_INTERVAL - time.monotonic())
        now = time.monotonic()
        for worker in self._workers:
            deadline = self._deadline(worker)
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - now))
        return timeout

    @staticmethod
    def _deadline(worker: _WorkerSlot) -> float | None:
        """When the task the worker runs passes its job's timeout (None: no limit, or nothing running)."""
        if not worker.outstanding:
            return None
        head = worker.outstanding[0]
        limit = head.job.spec.timeout
        return None if limit is None or head.started_at is None else head.started_at + limit

    # -- commands --------------------------------------------------------------------------------
    def _handle_commands(self) -> None:
        while self._commands:
            command = self._commands.popleft()
            verb = command[0]
            if verb == CMD_SUBMIT:
                self._register(command[1])
            elif verb == CMD_CANCEL:
                self._cancel(command[1])
            elif verb == CMD_TERMINATE:
                self._terminate(command[1])
            elif verb == CMD_STOP:
                self._begin_stop(command[1])
            elif verb == CMD_START_BACKEND:
                self._start_backend_for_caller(*command[1:])

    def _register(self, record: JobRecord) -> None:
        self._replace_workers_with_stale_code()
        record.inputs = record.spec.inputs.open()
        record.results.on_spill_error = lambda reason: self._emit(JobNotice(
            record.id, f"results are kept in memory from now on: the temporary file for them could not be "
                       f"written ({reason})", time.time()))
        self._active.append(record)
        self._emit(JobSubmitted(record.id, record.spec.name, record.spec.target.text, record.spec.inputs.text,
                                record.total, time.time(), record.spec.backend))
        try:
            backend = self._ensure_backend(record.spec.backend)
        except Exception as exc:  # noqa: BLE001 - e.g. a Dask scheduler that cannot be reached
            record.setup_error = TaskError(-1, "BackendError", f"the {record.spec.backend} backend could not "
                                           f"start: {type(exc).__name__}: {exc}", protocol.format_traceback(exc))
            self._stop_sending(record)
            return
        record.workers = backend.slot_count()
        if self._stopping and self._stop_mode != "wait":
            self._cancel(record.id) if self._stop_mode == "cancel" else self._terminate(record.id)

    def _replace_workers_with_stale_code(self) -> None:
        """Replace each worker that loaded a file of user code that has changed on disk since.

        Called as a job is registered, before it is sent to any worker, so that every worker runs
        the job's code as it is on disk now. A stale worker finishes what it already holds (other
        jobs' chunks, with the code they started with), then exits and is started afresh; the
        others are kept. One stat per distinct loaded file (see DESIGN.md for the cost). A
        worker whose LOADED had not arrived yet finds the change itself (MSG_STALE).
        """
        workers = [worker for worker in self._workers if worker.loaded_files and worker.stopping_reason is None]
        if not workers:
            return
        now = stamp_files({path for worker in workers for path in worker.loaded_files})
        for worker in workers:
            if any(now[path] != stamp for path, stamp in worker.loaded_files.items()):
                worker.stopping_reason = "recycled"  # its outstanding chunks are requeued if it holds any
                self._send(worker, (protocol.MSG_STOP,))

    def _cancel(self, job_id: int) -> None:
        record = self._jobs.get(job_id)
        if record is None or record.state.is_final or record.cancel_requested:
            return
        self._stop_sending(record)
        if record.state in (JobState.PENDING, JobState.RUNNING):
            self._set_state(record, JobState.CANCELLING)
        for worker in self._workers:
            if any(chunk.job is record for chunk in worker.outstanding):
                self._send(worker, (protocol.MSG_CANCEL, record.id))

    def _terminate(self, job_id: int) -> None:
        record = self._jobs.get(job_id)
        if record is None or record.state.is_final or record.terminate_requested:
            return
        if record.spec.backend == THREADS:
            self._emit(JobNotice(record.id, "threads cannot be killed: the job is cancelled instead "
                                 "(its running tasks stop at their next progress() call)", time.time()))
            self._cancel(job_id)
            return
        record.terminate_requested = True
        self._stop_sending(record)
        self._set_state(record, JobState.TERMINATING)
        for worker in list(self._workers):
            if worker.stopping_reason is not None or worker.conn.closed:
                continue
            self._drain(worker)  # learn what it finished before deciding
            if not worker.outstanding:
                continue
            if worker.outstanding[0].job is record and worker.handle.can_kill:
                self._kill(worker, f"terminated with job {record.id}")
            elif not worker.handle.can_kill and any(chunk.job is record for chunk in worker.outstanding):
                # It stops the job's tasks itself; a Dask slot may be running any of its chunks, not only the head.
                self._send(worker, (protocol.MSG_TERMINATE, record.id))
            elif any(chunk.job is record for chunk in worker.outstanding):
                self._send(worker, (protocol.MSG_CANCEL, record.id))  # it drops the queued chunk

    def _stop_sending(self, record: JobRecord) -> None:
        """Send the job no more tasks: count every one not yet sent as cancelled."""
        record.cancel_requested = True
        dropped = sum(chunk.unfinished_count for chunk in record.requeued)
        record.requeued.clear()
        if record.inputs is not None:
            if record.total is not None:
                dropped += record.total - record.next_index
            record.inputs = None
        if dropped:
            self._count(record, cancelled=dropped)

    def _begin_stop(self, mode: str) -> None:
        self._stopping = True
        if mode == "terminate" or self._stop_mode == "wait":
            self._stop_mode = mode
        for record in list(self._active):
            if mode == "terminate":
                self._terminate(record.id)
            elif mode == "cancel":
                self._cancel(record.id)

    # -- dispatch --------------------------------------------------------------------------------
    def _dispatch_ready_tasks(self) -> None:
        """Give each worker with room a chunk of the job that has had the least worker time.

        A job's last tasks (its tail: no more unsent tasks than workers) go to the next idle
        worker first, and while one waits nobody is sent a chunk in advance: queued behind a
        running chunk, a tail task would make the whole job wait for that chunk.
        """
        if not any(record.has_work for record in self._active):
            self._take_back_queued_chunks()
            return
        for depth in (0, 1):  # first every idle worker, then a second chunk where chunks are short
            for worker in self._workers:
                if not worker.ready or worker.stopping_reason is not None or len(worker.outstanding) != depth:
                    continue
                if depth == 1 and not self._may_prefetch(worker.outstanding[0]):
                    continue  # its chunk runs long enough: the next one can wait for it
                while True:  # until a chunk is sent: one that could not be (a bad input) costs no wait
                    waiting = [record for record in self._active if record.has_work and record.spec.backend ==
                               worker.backend and self._allowance(worker, record) > 0]
                    if not waiting:
                        break
                    tails = [record for record in waiting if self._in_tail(record)]
                    if depth == 1 and tails:
                        break
                    record = tails[0] if tails else self._take_turn(waiting)
                    chunk = self._next_chunk(record, self._allowance(worker, record))
                    if chunk is not None and self._send_chunk(worker, chunk):
                        break
        self._take_back_queued_chunks()

    def _take_back_queued_chunks(self) -> None:
        """Ask for a chunk back that waits behind a running one while a worker has nothing to do.

        A worker is sent a second chunk in advance when the job's chunks are measured short; when
        a task turns out long, that chunk would wait for it while another worker idles. The worker
        gives it back if it has not started it (MSG_REVOKED; too late, and it just runs there), and
        the next dispatch sends it to the idle worker.
        """
        idle = [worker for worker in self._workers if worker.ready and worker.stopping_reason is None
                and not worker.outstanding]
        if not idle:
            return
        for worker in self._workers:
            if worker.stopping_reason is not None or len(worker.outstanding) < 2:
                continue
            if worker.outstanding[0].started_at is None:
                continue  # nothing runs yet: the queued chunk is not held up
            for chunk in list(worker.outstanding)[1:]:
                if chunk.revoking or chunk.started_at is not None:
                    continue
                taker = next((other for other in idle if other.backend == worker.backend
                              and self._allowance(other, chunk.job) >= len(chunk.inputs)), None)
                if taker is None:
                    continue
                idle.remove(taker)  # one chunk for each idle worker
                chunk.revoking = True
                self._send(worker, (protocol.MSG_REVOKE, chunk.id))
                if not idle:
                    return

    def _in_tail(self, record: JobRecord) -> bool:
        """Whether the job has no more unsent tasks than there are workers."""
        if record.total is None:
            return False
        unsent = record.total - record.next_index + sum(chunk.unfinished_count for chunk in record.requeued)
        return unsent <= max(1, record.workers)

    def _may_prefetch(self, head: _Chunk) -> bool:
        per_task = head.job.seconds_per_task
        return per_task is not None and per_task * len(head.inputs) < PREFETCH_BELOW_SECONDS

    def _take_turn(self, candidates: list[JobRecord]) -> JobRecord:
        """The one of ``candidates`` (active jobs with work) that has had the least worker time.

        Fair by time, not by chunk: a job of 5 s tasks and a job of 5 ms tasks each get half of
        the workers' time, however many chunks that takes. A job's account is the worker-seconds
        of its finished chunks plus those of its chunks in flight, counted as they run. A job
        joins with the least account of the jobs already there (as a scheduler's virtual run
        time does), so it shares from then on rather than catching up on what others ran before
        it came. Ties go to the job with fewer chunks out, then to the older job.
        """
        if len(candidates) == 1 and candidates[0].fair_offset is not None:
            return candidates[0]
        now = time.monotonic()
        in_flight = self._seconds_in_flight(now)
        return choose_fairly(candidates, [record for record in self._active if record.fair_offset is not None],
                             in_flight)

    def _seconds_in_flight(self, now: float) -> dict[int, float]:
        """Job id -> worker-seconds of its chunks running now (from STARTED, or from sending until then)."""
        seconds: dict[int, float] = collections.defaultdict(float)
        for worker in self._workers:
            if worker.outstanding:
                head = worker.outstanding[0]
                since = head.started_at if head.started_at is not None else head.sent_at
                if since is not None:
                    seconds[head.job.id] += max(0.0, now - since)
        return seconds

    @staticmethod
    def _allowance(worker: _WorkerSlot, record: JobRecord) -> int:
        """How many more of the job's tasks this worker may be sent (max_tasks_per_worker)."""
        limit = record.spec.max_tasks_per_worker
        return MAX_CHUNK if limit is None else limit - worker.job_tasks_sent[record.id]

    def _next_chunk(self, record: JobRecord, allowance: int) -> _Chunk | None:
        if record.requeued:
            chunk = record.requeued.popleft()
            if len(chunk.inputs) > allowance:  # split: the rest waits for another worker
                record.requeued.appendleft(chunk.tail(next(self._chunk_ids), allowance))
                chunk.inputs = chunk.inputs[:allowance]
            return chunk
        assert record.inputs is not None
        size = min(self._chunk_size(record), allowance)
        inputs = record.inputs.take(size)
        start = record.next_index
        if record.inputs.error is not None:  # the source raised: what it gave before still runs
            self._fail_inputs(record, record.inputs.error, start + len(inputs))
        if len(inputs) < size:
            record.inputs = None
            record.total = start + len(inputs)
        if not inputs:
            return None
        record.next_index += len(inputs)
        if record.total is not None and record.next_index >= record.total:
            record.inputs = None
        return _Chunk(next(self._chunk_ids), record, start, inputs)

    def _fail_inputs(self, record: JobRecord, exc: BaseException, read: int) -> None:
        """The job's input source raised after ``read`` inputs: the job fails, saying so, once they ran."""
        record.input_error = TaskError(-1, "InputError", f"the job's inputs ({record.spec.inputs.text}) raised "
                                       f"after {read} input{'s' if read != 1 else ''}: {_describe(exc)}",
                                       _traceback_of(exc))

    def _chunk_size(self, record: JobRecord) -> int:
        spec = record.spec
        if spec.chunksize is not None:
            return spec.chunksize
        if spec.timeout is not None or record.seconds_per_task is None:
            return 1  # a timeout is per task; an unmeasured job starts with one task per chunk
        size = int(TARGET_CHUNK_SECONDS / max(record.seconds_per_task, 1e-7))
        if record.total is not None:  # keep the tail balanced across workers, in chunks worth a round trip
            balanced = (record.total - record.next_index) // (2 * max(1, record.workers))
            size = min(size, max(balanced, int(MIN_TAIL_CHUNK_SECONDS / max(record.seconds_per_task, 1e-7))))
        return max(1, min(size, MAX_CHUNK))

    def _send_chunk(self, worker: _WorkerSlot, chunk: _Chunk) -> bool:
        """Send the chunk (and the job's setup, if the worker lacks it). Returns whether the worker's
        turn is used: False when the chunk was dropped for its own fault, so the worker is still free.

        Pickling the job's kwargs and the chunk's inputs runs user code (``__reduce__``) on this
        thread: whatever it raises fails the job (kwargs) or the input, never the engine.
        """
        record = chunk.job
        if record.id not in worker.known_jobs:
            spec = record.spec
            if record.setup_payload is None:
                try:
                    record.setup_payload = _dumps((spec.target, dict(spec.kwargs), spec.initializer))
                except BaseException as exc:  # noqa: BLE001 - a kwarg that cannot be pickled fails the job
                    record.setup_error = TaskError(-1, "UnpicklableInput", "the job's keyword arguments could not "
                                                   f"be pickled: {_describe(exc)}", _traceback_of(exc))
                    self._count(record, cancelled=len(chunk.inputs))
                    self._stop_sending(record)
                    return False
            if not self._send(worker, (protocol.MSG_JOB, record.id, record.setup_payload)):
                record.requeued.appendleft(chunk)
                return True  # the worker is gone: reaping it starts another
            worker.known_jobs.add(record.id)
            worker.setting_up.add(record.id)
        try:
            inputs = _dumps(chunk.inputs)
        except BaseException as exc:  # noqa: BLE001 - an input cannot be pickled: fail it, rerun the others alone
            self._fail_unpicklable_inputs(chunk, exc)
            return False
        payload = _dumps((protocol.MSG_CHUNK, chunk.id, record.id, chunk.start, inputs))
        if record.state == JobState.PENDING:
            record.started_at = time.perf_counter()
            self._set_state(record, JobState.RUNNING)
        chunk.sent_at = time.monotonic()
        worker.outstanding.append(chunk)
        worker.job_tasks_sent[record.id] += len(chunk.inputs)
        record.chunks_out += 1
        self._send_bytes(worker, payload)  # if the worker is gone, reaping it requeues the chunk
        return True

    def _fail_unpicklable_inputs(self, chunk: _Chunk, error: BaseException) -> None:
        """Fail each input of the chunk that cannot be pickled; requeue the others one by one.

        ``error`` is what pickling the whole chunk raised: a chunk of one input fails with it, so
        an input that pickles only sometimes cannot be requeued forever.
        """
        record = chunk.job
        kept = []
        for offset, value in enumerate(chunk.inputs):
            index = chunk.start + offset
            failure: BaseException | None = error if len(chunk.inputs) == 1 else None
            if failure is None:
                try:
                    _dumps(value)
                except BaseException as exc:  # noqa: BLE001 - SystemExit from a __reduce__ too
                    failure = exc
            if failure is not None:
                message = f"input {index} ({type(value).__name__}) could not be pickled: {_describe(failure)}"
                self._fail_task(record, TaskError(index, "UnpicklableInput", message, "", None, _short_repr(value)))
            else:
                kept.append(_Chunk(next(self._chunk_ids), record, index, [value]))
        record.requeued.extendleft(reversed(kept))

    def _send(self, worker: _WorkerSlot, message: tuple[Any, ...]) -> bool:
        return self._send_bytes(worker, _dumps(message))

    def _send_bytes(self, worker: _WorkerSlot, payload: bytes) -> bool:
        if worker.conn.closed:
            return False
        try:
            worker.conn.send_bytes(payload)
            return True
        except OSError:
            return False  # it died; its sentinel tells us and reap_dead_workers cleans up

    # -- collecting ------------------------------------------------------------------------------
    def _collect_messages(self, ready: list[Any]) -> None:
        if self._wake_reader in ready:
            while self._wake_reader.poll():
                self._wake_reader.recv_bytes()
            # After the drain, before the commands are handled: a command appended from now on
            # either is seen by handle_commands or comes with a new byte.
            self._wake_pending = False
        for worker in list(self._workers):
            if worker.conn in ready:
                self._drain(worker)

    def _drain(self, worker: _WorkerSlot) -> None:
        """Handle every message the worker has written so far."""
        conn = worker.conn
        try:
            while not conn.closed and conn.poll():
                self._handle_message(worker, conn.recv())
        except (EOFError, OSError):
            conn.close()  # it died mid-message or closed; the sentinel will report the exit

    def _handle_message(self, worker: _WorkerSlot, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == protocol.MSG_REPORT:
            self._handle_report(worker, *message[1:])
        elif kind == protocol.MSG_STARTED:
            self._handle_started(worker, message[1])
        elif kind == protocol.MSG_DROPPED:
            chunk = self._find_chunk(worker, message[1])
            if chunk is not None:
                worker.setting_up.discard(chunk.job.id)
                worker.outstanding.remove(chunk)
                chunk.job.chunks_out -= 1
                self._count(chunk.job, cancelled=chunk.unfinished_count)
        elif kind == protocol.MSG_REVOKED:
            self._handle_revoked(worker, message[1])
        elif kind == protocol.MSG_UNREADABLE:
            self._handle_unreadable(worker, *message[1:])
        elif kind == protocol.MSG_READY:
            worker.ready = True
            self._startup_failures = 0
            self._update_worker_pids()
            self._emit(WorkerStarted(worker.pid, worker.slot, time.time(), worker.backend))
        elif kind == protocol.MSG_SETUP_FAILED:
            self._handle_setup_failed(worker, *message[1:])
        elif kind == protocol.MSG_NOTICE:
            self._emit(JobNotice(message[1], message[2], time.time()))
        elif kind == protocol.MSG_LOADED:
            worker.loaded_files.update(message[1])
        elif kind == protocol.MSG_STALE and worker.stopping_reason is None:
            worker.stopping_reason = "recycled"  # it exits; what it holds runs on its replacement

    def _handle_started(self, worker: _WorkerSlot, chunk_id: int) -> None:
        chunk = self._find_chunk(worker, chunk_id)
        if chunk is None:
            return
        chunk.started_at = time.monotonic()
        chunk.revoking = False
        worker.setting_up.discard(chunk.job.id)
        worker.task_progress = None
        if chunk.job.first_task_at is None:
            chunk.job.first_task_at = chunk.started_at
        self._note_progress(chunk.job)
        self._note_activity(worker, chunk.job.id, chunk.start)
        if chunk.job.terminate_requested and worker.stopping_reason is None and worker.handle.can_kill:
            self._kill(worker, f"terminated with job {chunk.job.id}")  # it started before our cancel arrived

    def _handle_report(self, worker: _WorkerSlot, chunk_id: int, statuses: bytes | None,
                       values: list[Any] | protocol.PickledValues,
                       progress: tuple[int, float, float | None] | None, finished: bool, busy: float) -> None:
        chunk = self._find_chunk(worker, chunk_id)
        if chunk is None:
            return
        record = chunk.job
        if isinstance(values, protocol.PickledValues):  # plain values, pickled as one list by the worker
            count = values.size
            record.results.put_pickled(chunk.next_index, values.data)  # stored as they came
            done, cancelled = count, 0
            if record.on_result is not None:  # only then are they unpickled here
                for offset, value in enumerate(pickle.loads(values.data), chunk.reported):
                    self._call_on_result(record, chunk.start + offset, chunk.inputs[offset], value)
        else:
            count = len(values)
            if record.on_result is None and _all_unpickle(statuses, values):  # results, some pickled one by one
                assert statuses is not None
                record.results.put_encoded(chunk.next_index, statuses, values)  # stored as they came
                done, cancelled = count, 0
            else:  # errors, cancels, a result that does not unpickle, or a callback: one by one
                done, cancelled = self._store_outcomes(worker, chunk, statuses, values)
        chunk.reported += count
        worker.tasks_done += count - cancelled  # a task skipped for a cancel did not run
        worker.job_tasks_done[record.id] += count - cancelled
        if done or cancelled:
            self._count(record, done=done, cancelled=cancelled)
        if progress is not None and progress[2]:
            worker.task_progress = min(1.0, max(0.0, progress[1] / progress[2]))
        if finished:
            for offset in range(chunk.reported, len(chunk.inputs)):  # a protocol slip must show
                self._fail_task(record, TaskError(chunk.start + offset, "LostResult", "the worker finished the "
                                                  "chunk without reporting this task", "", worker.pid,
                                                  _short_repr(chunk.inputs[offset])))
            chunk.reported = len(chunk.inputs)
            if chunk.started_at is not None:
                self._emit(ChunkRan(record.id, worker.pid, chunk.start, len(chunk.inputs), chunk.started_at,
                                    time.monotonic()))
            worker.outstanding.remove(chunk)
            record.chunks_out -= 1
            if chunk.inputs and busy > 0:
                record.timed_seconds += busy
                record.timed_tasks += len(chunk.inputs)
                per_task = busy / len(chunk.inputs)
                previous = record.seconds_per_task
                record.seconds_per_task = per_task if previous is None else 0.5 * previous + 0.5 * per_task
            self._recycle_if_due(worker, record)
        self._note_progress(record)
        head = worker.outstanding[0] if worker.outstanding else None
        if head is None or head.started_at is None:
            self._note_activity(worker, None, None)
        else:
            self._note_activity(worker, head.job.id, min(head.next_index, head.start + len(head.inputs) - 1))

    def _store_outcomes(self, worker: _WorkerSlot, chunk: _Chunk, statuses: bytes | None,
                        values: list[Any]) -> tuple[int, int]:
        """Store a report's outcomes one by one; return how many were done and cancelled.

        A result pickled on its own is checked with stand-ins for the classes it names (no user
        module is imported here: this is the window's process) and stored as it came. Only for
        an ``on_result`` callback (the library, ``poolscope run``: never the window) is it built,
        in this process, as ``Job.wait()`` would build it; if that fails, so does its task.
        """
        record = chunk.job
        done = cancelled = 0
        # The results, as runs of consecutive finished tasks (statuses, values as reported): the
        # store holds finished tasks only.
        runs: list[tuple[int, bytearray, list[Any]]] = []
        for offset, value in enumerate(values):
            status = protocol.STATUS_VALUE if statuses is None else statuses[offset]
            position = chunk.reported + offset
            index = chunk.start + position
            if status == protocol.STATUS_PICKLED or status == protocol.STATUS_VALUE:
                built = value
                try:
                    if status == protocol.STATUS_PICKLED:
                        check_one_pickled(value)
                        if record.on_result is not None:
                            built = record.load_result.load(value)
                except BaseException as exc:
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    message = f"the task's result could not be unpickled here: {type(exc).__name__}: {exc}"
                    self._fail_task(record, TaskError(index, "UnpicklableResult", message,
                                                      protocol.format_traceback(exc), worker.pid,
                                                      _short_repr(chunk.inputs[position])))
                    continue
                if runs and runs[-1][0] + len(runs[-1][2]) == index:
                    runs[-1][1].append(status)
                    runs[-1][2].append(value)
                else:
                    runs.append((index, bytearray([status]), [value]))
                done += 1
                if record.on_result is not None:
                    self._call_on_result(record, index, chunk.inputs[position], built)
            elif status == protocol.STATUS_ERROR:
                type_name, message, remote_traceback = value
                self._fail_task(record, TaskError(index, type_name, message, remote_traceback, worker.pid,
                                                  _short_repr(chunk.inputs[position])))
            else:
                cancelled += 1
        for start, run_statuses, run in runs:
            record.results.put_encoded(start, bytes(run_statuses), run)
        return done, cancelled

    def _call_on_result(self, record: JobRecord, index: int, value_in: Any, value_out: Any) -> None:
        try:
            assert record.on_result is not None
            record.on_result(index, value_in, value_out)
        except BaseException as exc:  # noqa: BLE001 - a consumer's bug (even sys.exit()) must not stop the engine
            if not record.callback_failed:  # once a job: a callback that always fails must not flood stderr
                record.callback_failed = True
                traceback.print_exc()
                self._emit(JobNotice(record.id, f"its on_result callback raised {_describe(exc)} (for input "
                                     f"{index}; its traceback is on stderr; the job goes on, and later "
                                     "failures of the callback are not reported)", time.time()))

    def _handle_revoked(self, worker: _WorkerSlot, chunk_id: int) -> None:
        """The worker gave back a chunk it had not started (see _take_back_queued_chunks)."""
        chunk = self._find_chunk(worker, chunk_id)
        if chunk is None:
            return
        record = chunk.job
        worker.outstanding.remove(chunk)
        worker.job_tasks_sent[record.id] -= len(chunk.inputs)
        record.chunks_out -= 1
        if record.cancel_requested:
            self._count(record, cancelled=chunk.unfinished_count)
        else:
            record.requeued.appendleft(chunk.tail(next(self._chunk_ids)))

    def _handle_unreadable(self, worker: _WorkerSlot, chunk_id: int, type_name: str, message: str, tb: str) -> None:
        """The chunk's inputs did not unpickle in the worker; none of its tasks ran.

        As when they cannot be pickled here: a chunk of many is sent again one input per chunk, so
        the input that fails is named and the others run.
        """
        chunk = self._find_chunk(worker, chunk_id)
        if chunk is None:
            return
        record = chunk.job
        worker.outstanding.remove(chunk)
        record.chunks_out -= 1
        if record.cancel_requested:
            self._count(record, cancelled=chunk.unfinished_count)
        elif len(chunk.inputs) > 1:
            record.requeued.extendleft(reversed([_Chunk(next(self._chunk_ids), record, chunk.start + offset, [value])
                                                 for offset, value in enumerate(chunk.inputs)]))
        else:
            value = chunk.inputs[0]
            self._fail_task(record, TaskError(chunk.start, "UnpicklableInput", f"input {chunk.start} "
                                              f"({type(value).__name__}) could not be unpickled in the worker: "
                                              f"{type_name}: {message}", tb, worker.pid, _short_repr(value)))
        self._note_activity(worker, None, None)

    def _handle_setup_failed(self, worker: _WorkerSlot, job_id: int, type_name: str, message: str, tb: str) -> None:
        worker.setting_up.discard(job_id)
        record = self._jobs.get(job_id)
        if record is None or record.setup_error is not None:
            return
        record.setup_error = TaskError(-1, "WorkerStartError", f"worker could not start: {type_name}: {message}", tb,
                                       worker.pid)
        # The worker fails the chunks it already holds; nothing more is sent.
        self._stop_sending(record)

    def _recycle_if_due(self, worker: _WorkerSlot, record: JobRecord) -> None:
        limit = record.spec.max_tasks_per_worker
        if limit is not None and worker.job_tasks_done[record.id] >= limit and worker.stopping_reason is None:
            worker.stopping_reason = "recycled"
            self._send(worker, (protocol.MSG_STOP,))

    @staticmethod
    def _find_chunk(worker: _WorkerSlot, chunk_id: int) -> _Chunk | None:
        for chunk in worker.outstanding:
            if chunk.id == chunk_id:
                return chunk
        return None

    # -- worker lifecycle ------------------------------------------------------------------------
    def _start_backend_for_caller(self, name: str, reply: _Reply) -> None:
        try:
            backend = self._ensure_backend(name)
            reply.value = backend.slot_count()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            reply.error = exc
        reply.done.set()

    def _ensure_backend(self, name: str) -> Backend:
        """The backend called ``name``, started with its slots on first use."""
        backend = self._backends.get(name)
        if backend is not None:
            return backend
        if name == PROCESSES:
            backend = ProcessBackend(self._mp, self._size, self._nice)
        elif name == THREADS:
            backend = ThreadBackend(self._threads)
        elif name == DASK:
            from poolscope.core.backends.dask import DaskBackend

            with self._lock:
                self._dask_started = True
                address = self._dask_scheduler
            try:
                backend = DaskBackend(address, self._dask_workers)
            except BaseException:
                with self._lock:
                    self._dask_started = False  # a corrected address may be tried with the next job
                raise
        else:
            raise ValueError(f"unknown backend {name!r}")
        self._backends[name] = backend
        for slot in range(backend.slot_count()):
            self._start_worker(backend, slot)
        return backend

    def _start_worker(self, backend: Backend, slot: int) -> None:
        conn, handle = backend.start_worker(slot)
        self._workers.append(_WorkerSlot(backend.name, slot, handle, conn, handle.pid))

    def _update_worker_pids(self) -> None:
        self._worker_pids = tuple(worker.pid for worker in self._workers if worker.backend == PROCESSES and worker.ready)

    def _kill(self, worker: _WorkerSlot, reason: str) -> None:
        if worker.stopping_reason is None or worker.stopping_reason == "recycled":
            worker.stopping_reason = reason
        worker.handle.kill()

    def _reap_dead_workers(self, ready: list[Any]) -> None:
        for worker in list(self._workers):
            if worker.handle.sentinel in ready or worker.conn.closed or not worker.handle.is_alive():
                self._on_worker_exit(worker)

    def _on_worker_exit(self, worker: _WorkerSlot) -> None:
        self._drain(worker)  # results written before it died are kept
        worker.handle.join(timeout=1)
        if worker.handle.is_alive() and worker.handle.can_kill:  # its pipe closed but it lingers: make sure
            worker.handle.kill()
            worker.handle.join(timeout=1)
        worker.conn.close()
        exitcode = worker.handle.exitcode
        crashed = worker.stopping_reason is None
        reason = worker.stopping_reason or f"crashed: {signal_name(exitcode)}"
        self._workers.remove(worker)
        self._update_worker_pids()
        self._activity.pop(worker.pid, None)
        self._emit(WorkerExited(worker.pid, worker.slot, exitcode, reason, time.time()))
        head = worker.outstanding[0] if worker.outstanding else None
        if crashed and head is not None and head.started_at is None and head.job.id in worker.setting_up:
            self._setup_crashed(head.job, worker.pid, exitcode)  # before its chunks are recovered: it may stop the job
        for position, chunk in enumerate(worker.outstanding):
            chunk.job.chunks_out -= 1
            self._recover_chunk(chunk, running=position == 0 and chunk.started_at is not None,
                                reason=reason, exitcode=exitcode, pid=worker.pid, crashed=crashed)
        worker.outstanding.clear()
        if not worker.ready and crashed:
            self._startup_failures += 1
        if self._stopping and not self._active:
            return
        if self._startup_failures >= STARTUP_FAILURES_BEFORE_GIVING_UP:
            self._give_up_starting_workers()
            return
        self._start_worker(self._backends[worker.backend], worker.slot)

    def _recover_chunk(self, chunk: _Chunk, *, running: bool, reason: str, exitcode: int | None, pid: int,
                       crashed: bool) -> None:
        """Decide the fate of the unfinished tasks of a chunk whose worker is gone."""
        record = chunk.job
        count = chunk.unfinished_count
        if count == 0:
            return
        if record.cancel_requested:
            self._count(record, cancelled=count)
            return
        if not running or not crashed and reason != "timeout":
            # Never started, or stopped by us for another reason (recycled): run it elsewhere.
            record.requeued.appendleft(chunk.tail(next(self._chunk_ids)))
            return
        first_index = chunk.next_index
        first_input = chunk.inputs[chunk.reported]
        if reason == "timeout":
            limit = record.spec.timeout
            self._fail_task(record, TaskError(first_index, "TimeoutError", f"the task ran longer than {limit} s; "
                                              f"its worker (pid {pid}) was killed", "", pid, _short_repr(first_input)))
            if count > 1:
                record.requeued.appendleft(chunk.tail(next(self._chunk_ids), chunk.reported + 1))
            return
        if count > 1:
            # Which task crashed it is unknown: rerun each alone, so a crash is attributed exactly.
            for offset in reversed(range(chunk.reported, len(chunk.inputs))):
                record.requeued.appendleft(_Chunk(next(self._chunk_ids), record, chunk.start + offset,
                                                  [chunk.inputs[offset]]))
            return
        record.attempts[first_index] += 1
        if record.attempts[first_index] <= record.spec.retries:
            record.requeued.appendleft(chunk.tail(next(self._chunk_ids)))
            return
        how = signal_name(exitcode)
        message = f"the worker process (pid {pid}) running input {first_index} died: {how}"
        if record.spec.retries:
            message += f" (after {record.spec.retries} retries)"
        self._fail_task(record, TaskError(first_index, "WorkerCrashed", message, "", pid, _short_repr(first_input)))

    def _setup_crashed(self, record: JobRecord, pid: int, exitcode: int | None) -> None:
        """A worker died setting the job up (importing its target, unpickling its kwargs, running its
        initializer), before its first chunk of the job started. That counts against the job as a
        crash counts against a task: after ``retries`` more, the job fails with the cause named,
        rather than a fresh worker dying on the same set-up for ever."""
        record.setup_crashes += 1
        if record.setup_crashes <= record.spec.retries or record.setup_error is not None:
            return  # its chunks are requeued and sent again
        spec = record.spec
        steps = [f"importing its target {spec.target.text}"]
        if spec.kwargs:
            steps.append("unpickling its keyword arguments")
        if spec.initializer is not None:
            steps.append(f"running its initializer {spec.initializer.text}")
        message = (f"worker could not start: the worker process (pid {pid}) died while setting the job up "
                   f"({', '.join(steps)}): {signal_name(exitcode)}")
        if spec.retries:
            message += f" (after {spec.retries} retries)"
        record.setup_error = TaskError(-1, "WorkerStartError", message, "", pid)
        self._stop_sending(record)  # its chunks held by workers are counted as cancelled when recovered

    def _give_up_starting_workers(self) -> None:
        message = f"{STARTUP_FAILURES_BEFORE_GIVING_UP} worker processes in a row died while starting"
        for record in list(self._active):
            record.setup_error = TaskError(-1, "WorkerStartError", f"worker could not start: {message}", "")
            self._stop_sending(record)
        if not self._workers:
            for record in list(self._active):
                self._finish(record, JobState.FAILED)

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            deadline = self._deadline(worker)
            if deadline is not None and now > deadline and worker.stopping_reason is None:
                head = worker.outstanding[0]
                self._drain(worker)
                if worker.outstanding and worker.outstanding[0] is head and head.unfinished_count:
                    self._kill(worker, "timeout")

    def _stop_workers(self) -> None:
        """Stop every worker: ask politely, then kill what is left. No process outlives this."""
        for worker in self._workers:
            if worker.stopping_reason is None:
                worker.stopping_reason = "shutdown"
            self._send(worker, (protocol.MSG_STOP,))
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            worker.handle.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in self._workers:
            if worker.handle.is_alive() and worker.handle.can_kill:
                worker.handle.kill()
                worker.handle.join(timeout=2)
            worker.conn.close()
            self._emit(WorkerExited(worker.pid, worker.slot, worker.handle.exitcode, worker.stopping_reason or "shutdown",
                                    time.time()))
        self._workers.clear()
        self._worker_pids = ()
        for backend in self._backends.values():
            try:
                backend.close()
            except Exception:  # noqa: BLE001 - closing one backend must not stop closing the others
                traceback.print_exc()

    # -- bookkeeping -----------------------------------------------------------------------------
    def _fail_task(self, record: JobRecord, error: TaskError) -> None:
        self._count(record, failed=1)
        if len(record.errors) < ERRORS_KEPT:
            record.errors.append(error)
            self._emit(TaskFailed(record.id, error, time.time()))
            return
        # A job whose every task fails must not hold a million errors, nor send them to the window:
        # the first ones tell; the rest are counted.
        if not record.errors_omitted:
            self._emit(JobNotice(record.id, f"more than {ERRORS_KEPT:,} of its tasks failed: the first "
                                 f"{ERRORS_KEPT:,} are kept in full; later failures are counted by type",
                                 time.time()))
        record.errors_omitted[error.type] += 1

    def _count(self, record: JobRecord, *, done: int = 0, failed: int = 0, cancelled: int = 0) -> None:
        record.done += done
        record.failed += failed
        record.cancelled += cancelled
        delta = self._finished_deltas.setdefault(record.id, [0, 0, 0])
        delta[0] += done
        delta[1] += failed
        delta[2] += cancelled

    def _set_state(self, record: JobRecord, state: JobState) -> None:
        record.state = state
        self._emit(JobStateChanged(record.id, state, time.time()))

    def _finish_jobs(self) -> None:
        for record in list(self._active):
            if record.has_work or record.chunks_out > 0:
                continue
            if record.terminate_requested:
                state = JobState.TERMINATED
            elif record.setup_error is not None or record.input_error is not None:
                state = JobState.FAILED
            elif record.cancel_requested and record.cancelled:
                state = JobState.CANCELLED
            elif record.failed:
                state = JobState.FAILED
            else:
                state = JobState.DONE
            self._finish(record, state)

    def _finish(self, record: JobRecord, state: JobState) -> None:
        if record in self._active:
            self._active.remove(record)
        for job_error in (record.input_error, record.setup_error):  # errors of the whole job come first
            if job_error is not None:
                record.errors.insert(0, job_error)
                self._emit(TaskFailed(record.id, job_error, time.time()))  # so the CLI and window say why
        if record.started_at is None:
            record.started_at = time.perf_counter()
        record.finished_at = time.perf_counter()
        record.state = state
        for worker in self._workers:
            worker.job_tasks_sent.pop(record.id, None)
            worker.job_tasks_done.pop(record.id, None)
            worker.setting_up.discard(record.id)
            if record.id in worker.known_jobs:
                worker.known_jobs.discard(record.id)
                self._send(worker, (protocol.MSG_FORGET, record.id))
        record.final = record.summary()
        record.results.finish_writing()
        self._publish_deltas()
        self._emit(JobFinished(record.id, record.final, time.time(), time.monotonic()))
        record.finished.set()

    @property
    def _publishing(self) -> bool:
        """Whether anyone reads the events (the queue, or a subscriber)."""
        return self._events is not None or bool(self._subscribers)

    def _note_activity(self, worker: _WorkerSlot, job_id: int | None, index: int | None) -> None:
        if self._publishing:
            self._activity[worker.pid] = WorkerActivity(worker.pid, job_id, index, worker.task_progress,
                                                        worker.tasks_done, time.time())

    def _note_progress(self, record: JobRecord) -> None:
        if self._publishing:
            self._progressed.add(record)

    def _emit(self, event: Any) -> None:
        if self._publishing:
            self._pending_events.append(event)

    def _publish_deltas(self) -> None:
        """TasksFinished for the counts that changed, then JobProgress for the jobs whose chunks did."""
        now = time.time()
        for job_id, (done, failed, cancelled) in self._finished_deltas.items():
            self._emit(TasksFinished(job_id, done, failed, cancelled, now))
        self._finished_deltas.clear()
        if not self._progressed:
            return
        running: dict[int, list[RunningChunk]] = collections.defaultdict(list)
        for worker in self._workers:
            head = worker.outstanding[0] if worker.outstanding else None
            if head is not None and head.started_at is not None and head.job in self._progressed:
                running[head.job.id].append(RunningChunk(head.started_at, len(head.inputs), head.reported,
                                                         worker.task_progress))
        mono = time.monotonic()
        for record in self._progressed:
            if record.first_task_at is not None:
                self._emit(JobProgress(record.id, record.first_task_at, record.timed_seconds, record.timed_tasks,
                                       tuple(running.get(record.id, ())), mono))
        self._progressed.clear()

    def _publish_events(self, *, force: bool = False) -> None:
        if not self._publishing:
            self._finished_deltas.clear()
            self._progressed.clear()
            return
        now = time.monotonic()
        if not force and now - self._last_publish < PUBLISH_INTERVAL:
            return
        self._publish_deltas()
        if self._activity:
            self._pending_events.extend(self._activity.values())
            self._activity.clear()
        if self._pending_events:
            batch, self._pending_events = self._pending_events, []
            if self._events is not None:
                self._events.put(batch)
            for subscriber in self._subscribers:
                try:
                    subscriber(batch)
                except BaseException as exc:  # noqa: BLE001 - a reader's fault must not end the engine
                    with self._lock:
                        self._subscribers = tuple(other for other in self._subscribers if other is not subscriber)
                    warnings.warn(f"an event subscriber raised {_describe(exc)} and was dropped", RuntimeWarning,
                                  stacklevel=1)
        self._last_publish = now


def choose_fairly(candidates: Sequence[JobRecord], accounted: Sequence[JobRecord],
                  in_flight: dict[int, float]) -> JobRecord:
    """The candidate with the least worker time: the rule of :meth:`Engine._take_turn`.

    ``accounted``: the jobs already sharing the workers (their ``fair_offset`` set), in age order;
    ``in_flight``: job id -> worker-seconds of its chunks running now. A candidate competing for
    the first time gets the least account of the ``accounted`` jobs of its backend as its offset.
    """
    def account(record: JobRecord) -> float:
        assert record.fair_offset is not None
        return record.fair_offset + record.timed_seconds + in_flight.get(record.id, 0.0)

    for record in candidates:
        if record.fair_offset is None:
            others = [account(other) for other in accounted
                      if other.fair_offset is not None and other.spec.backend == record.spec.backend]
            record.fair_offset = min(others) - record.timed_seconds - in_flight.get(record.id, 0.0) if others else 0.0
    order = {record.id: position for position, record in enumerate(accounted)}
    return min(candidates, key=lambda record: (account(record), record.chunks_out,
                                               order.get(record.id, len(order)), record.id))


def _all_unpickle(statuses: bytes | None, values: list[Any]) -> bool:
    """Whether every outcome is a result and every pickled one unpickles, checked with stand-ins
    for the classes it names (core/results.py ``check_pickled``): no user module is imported and
    no object kept. In C but for one call per class named, a slice at a time, so the engine thread
    holds the GIL for short spells."""
    if statuses is None or statuses.count(protocol.STATUS_ERROR) or statuses.count(protocol.STATUS_CANCELLED):
        return False
    return check_pickled([value for status, value in zip(statuses, values) if status == protocol.STATUS_PICKLED])


def _describe(exc: BaseException) -> str:
    """``Type: message`` of an exception from user code (whose ``__str__`` may raise too)."""
    type_name, message, _ = protocol.describe_exception(exc, with_traceback=False)
    return f"{type_name}: {message}" if message else type_name


def _traceback_of(exc: BaseException) -> str:
    try:
        return protocol.format_traceback(exc)
    except BaseException:  # noqa: BLE001 - a user's exception that cannot be formatted
        return ""


def _dumps(value: Any) -> bytes:
    from multiprocessing.reduction import ForkingPickler

    return bytes(ForkingPickler.dumps(value))


def _short_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except BaseException:  # noqa: BLE001 - a user's __repr__, on the engine thread
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _make_atexit(engine_ref: weakref.ref[Engine]) -> Callable[[], None]:
    def shutdown_at_exit() -> None:
        engine = engine_ref()
        if engine is not None:
            engine.shutdown(terminate=True, timeout=5)

    return shutdown_at_exit
