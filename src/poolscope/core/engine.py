"""The engine: a pool of worker slots that several jobs share, and that can cancel or kill one job.

``Engine`` is what callers use, from any thread: submit, cancel, terminate, subscribe, shut
down. It posts each command to the engine thread (core/loop.py), which alone owns the workers
and the jobs' state; DESIGN.md, "Data flow" and "Layout", draws the modules that loop uses.

Why a pool of our own: ``multiprocessing.Pool`` hangs when a worker dies and cannot stop one
job's tasks; ``ProcessPoolExecutor`` breaks every job when one worker dies. With one pipe per
worker the engine knows which worker runs which task, so terminating a job kills exactly the
processes running it, and a crash costs one task (or is retried), never the pool.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from poolscope.core.backends import DASK, PROCESSES, THREADS, Backend
from poolscope.core.backends.processes import ProcessBackend
from poolscope.core.backends.threads import ThreadBackend
from poolscope.core.job import Job
from poolscope.core.job_record import JobRecord
from poolscope.core.jobs import JobSpec, JobSummary, SpecError, TaskError
from poolscope.core.loop import EngineLoop
from poolscope.core.mailbox import (
    CMD_CANCEL,
    CMD_START_BACKEND,
    CMD_STOP,
    CMD_SUBMIT,
    CMD_TERMINATE,
    Mailbox,
    Reply,
)
from poolscope.core.publisher import Publisher
from poolscope.core.scheduler import choose_fairly
from poolscope.core.slots import WorkerSlot

if TYPE_CHECKING:
    from poolscope.core.fork_server import ForkServer

__all__ = ["Engine", "EngineClosed", "Job", "JobRecord", "choose_fairly"]  # imported from here by tests and the API


class EngineClosed(RuntimeError):
    """The engine was shut down; it takes no more jobs."""


class Engine:
    """A pool of worker processes shared by every job submitted to it.

    ``Engine(workers=None, nice=10, events=False)``: ``workers`` processes (default: one per
    logical core) at the given nice level, spawned, or forked by ``fork_server`` if given
    (core/fork_server.py: ``poolscope run`` starts one before anything else). With
    ``events=True``, :attr:`events` is a ``multiprocessing.Queue`` of event lists
    (core/events.py) for a consumer thread to drain.
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
        fork_server: ForkServer | None = None,
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
        self._fork_server = fork_server  # forks the worker processes, if given (core/fork_server.py)
        # The events queue is read in this process only. With a fork server, no process is ever
        # spawned here, so it is made as a fork context makes it: its locks need no resource
        # tracker, the interpreter spawn would start for them.
        queue_context = multiprocessing.get_context("fork") if fork_server is not None else self._mp
        queue = queue_context.Queue() if events else None
        if queue is not None:
            queue.cancel_join_thread()  # never hang interpreter exit on an unread queue
        # Event batches to the queue and to subscribers; gathered on the engine thread.
        self._publisher = Publisher(queue)
        self._mailbox = Mailbox(self._mp)  # commands to the engine thread, and its wake pipe
        self._lock = threading.Lock()  # serialises submit/stop against each other and the wake pipe
        self._closed = False
        self._job_ids = itertools.count(1)
        self._jobs: dict[int, JobRecord] = {}  # every job submitted; written under _lock
        # Names the results file each job submitted writes through to (the history), or None; set
        # by keep_results_in(), read by submit() under _lock.
        self._results_files: Callable[[int, JobSpec], str | None] | None = None
        self._loop = EngineLoop(self._mailbox, self._publisher, self._jobs, self._make_backend, self._on_closed)
        self._thread = threading.Thread(target=self._loop.run, name="poolscope-engine", daemon=True)
        self._thread.start()
        self._atexit = _make_atexit(weakref.ref(self))
        atexit.register(self._atexit)

    # -- public API (any thread) ---------------------------------------------------------------
    @property
    def events(self) -> Any:
        """The multiprocessing Queue of event lists (only with ``events=True``)."""
        if self._publisher.queue is None:
            raise RuntimeError("this Engine was created without events=True")
        return self._publisher.queue

    def subscribe(self, callback: Callable[[list[Any]], None]) -> Callable[[], None]:
        """Call ``callback(batch)`` with every batch of events published from now on (the lists the
        ``events`` queue gets, which it gets too), on the engine's thread: it must not block (hand
        the batch to a queue of its own). One that raises is dropped and never called again.
        Returns the function that unsubscribes it."""
        return self._publisher.subscribe(callback)

    def keep_results_in(self, where: Callable[[int, JobSpec], str | None] | None) -> None:
        """Have each job submitted from now on write its results through to the file
        ``where(job_id, spec)`` names (None: none), before its tasks count as done (see
        core/results/store.py ``ResultStore.write_through``). Called in ``submit()``: it must be quick."""
        with self._lock:
            self._results_files = where

    @property
    def workers(self) -> int:
        return self._size

    def worker_pids(self) -> list[int]:
        """Pids of the worker processes ready to take tasks (the processes backend)."""
        return list(self._loop.slots.pids)

    def backend_workers(self) -> dict[str, list[dict[str, Any]]]:
        """What each remote backend knows of its workers (Dask: per-worker CPU and memory)."""
        return {name: backend.describe_workers() for name, backend in list(self._loop.slots.backends.items())}

    def submit(self, spec: JobSpec, *, on_result: Callable[[int, Any, Any], None] | None = None,
               on_error: Callable[[TaskError], None] | None = None,
               on_finish: Callable[[JobSummary], None] | None = None,
               on_block: Callable[[int, bytes], None] | None = None) -> Job:
        """Start a job. ``on_result(index, input, result)`` is called, on the engine's thread, as
        each task finishes (keep it quick); ``on_error(error)`` as each task fails (every one,
        past those the job keeps); ``on_finish(summary)`` once the job has ended; ``on_block``
        with each block of results as it is stored (see ``ResultStore.on_block``)."""
        if not isinstance(spec, JobSpec):
            raise TypeError(f"submit() takes a JobSpec, not {type(spec).__name__}")
        with self._lock:
            if self._closed:
                raise EngineClosed("the engine has been shut down")
            record = JobRecord(next(self._job_ids), spec, on_result, on_error, on_finish, on_block)
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

    def can_use_dask_scheduler(self, address: str | None) -> bool:
        """Whether Dask jobs could run on ``address`` (None: a local cluster): any address until
        Dask has started, then only the one it runs on. A question only: it changes nothing."""
        with self._lock:
            return self._can_use_dask_scheduler(address)

    def _can_use_dask_scheduler(self, address: str | None) -> bool:
        return not self._dask_started or address == self._dask_scheduler  # under _lock

    def set_dask_scheduler(self, address: str | None) -> None:
        """Choose the Dask scheduler (None: a local cluster) before the first Dask job starts it.

        Raises ``RuntimeError`` naming the one in use if Dask has started on another address
        (:meth:`can_use_dask_scheduler` asks first).
        """
        with self._lock:
            if not self._can_use_dask_scheduler(address):
                raise RuntimeError(f"Dask already runs on {self._dask_scheduler or 'a local cluster'}; "
                                   "another scheduler needs a new poolscope")
            self._dask_scheduler = address

    def start_backend(self, name: str, *, scheduler: str | None = None, timeout: float | None = None) -> int:
        """Start a backend now rather than with its first job; return its number of worker slots.

        For Dask, ``scheduler`` is set first (see :meth:`set_dask_scheduler`). Raises what starting
        the backend raised (e.g. ``ConnectionError`` for an unreachable scheduler).
        """
        from poolscope.core.fields import check_backend

        check_backend(name)
        if name == DASK and scheduler is not None:
            self.set_dask_scheduler(scheduler)
        reply = Reply()
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

    def __enter__(self) -> Engine:  # noqa: PYI034 - Python 3.10 has no typing.Self
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.shutdown(terminate=exc_type is not None)

    def _job_id(self, job: Job | int) -> int:
        return job.id if isinstance(job, Job) else int(job)

    def _command(self, *command: Any) -> None:
        self._mailbox.post(*command)

    # -- the engine thread's needs -----------------------------------------------------------------
    @property
    def _workers(self) -> list[WorkerSlot]:
        """The worker slots (engine thread; tests read them when the engine is idle)."""
        return self._loop.slots.workers

    def _make_backend(self, name: str) -> Backend:
        """A backend of this engine's settings, not yet started (called on the engine thread)."""
        if name == PROCESSES:
            return ProcessBackend(self._mp, self._size, self._nice, self._fork_server)
        if name == THREADS:
            return ThreadBackend(self._threads)
        if name == DASK:
            from poolscope.core.backends.dask import DaskBackend

            with self._lock:
                self._dask_started = True
                address = self._dask_scheduler
            try:
                return DaskBackend(address, self._dask_workers)
            except BaseException:
                with self._lock:
                    self._dask_started = False  # a corrected address may be tried with the next job
                raise
        raise ValueError(f"unknown backend {name!r}")

    def _on_closed(self) -> None:
        with self._lock:
            self._closed = True


def _make_atexit(engine_ref: weakref.ref[Engine]) -> Callable[[], None]:
    def shutdown_at_exit() -> None:
        engine = engine_ref()
        if engine is not None:
            engine.shutdown(terminate=True, timeout=5)

    return shutdown_at_exit
