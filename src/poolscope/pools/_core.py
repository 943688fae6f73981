"""What both drop-in pools share: one engine per pool, its open-ended job of single calls, its
map jobs, and the translation of a task's outcome into what the stdlib would return or raise
(a map's results reach its reader through pools/_stream.py).

How calls map onto the engine (core/engine.py), so that they are fast:

- ``map``, ``imap``, ``starmap``, ``Executor.map`` (each call): one engine job over the inputs.
  A function a worker can import by name is the job's target, called directly; another callable
  (a partial, a bound method) travels once, as the job's keyword argument (``_calls.one``).
- ``apply_async`` and ``submit``: inputs appended to ONE open-ended job per pool
  (core/inputs.py ``InputFeed``), ``(fn, args, kwargs)`` each, run by ``_calls.call``. The engine
  chunks them like any job's inputs, so 100,000 calls are a few hundred chunks, not 100,000 jobs.
  The job is started at the first call, and again after it ended (a window cancelled it).
- A single call's outcome comes back on the engine's thread (``on_result``, ``on_error``,
  ``on_finish``) and settles the caller's result object there, as the stdlib settles them on its
  result thread: callbacks run there too and should be quick. A map's results come a block at a
  time (``on_block``: as the engine stores them, still pickled) and are unpickled by the caller
  waiting for them (``MapResult.get``, pools/_stream.py ``ResultStream``), so the engine thread does no step
  per task and none of it is left for the end. No pool job keeps results in the engine.
- A task's exception is the task's own, rebuilt from the pickle the worker sent, with the
  worker's traceback as its ``__cause__`` (the stdlib's ``RemoteTraceback``).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import sys
import threading
import types
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from poolscope.core.attach import Reporter, report_to_window
from poolscope.core.engine import Engine, Job
from poolscope.core.history import Recorder, record_engine, recording_wanted, script_source
from poolscope.core.inputs import InputFeed, InputSpec
from poolscope.core.jobs import JobSpec, JobState, JobSummary, TaskError
from poolscope.pools import _calls
from poolscope.pools.errors import (
    InitializerFailed,
    JobCancelled,
    PicklingFailed,
    TaskFailed,
    WorkerLost,
    WorkerStartFailed,
)

_pool_tokens = itertools.count(1)


class Sink(Protocol):
    """Where one call's outcome goes (an ``AsyncResult``, a ``Future``)."""

    def settle(self, ok: bool, value: Any) -> None: ...


def in_pool_worker() -> bool:
    """Whether this process is a poolscope worker (where a ``Pool`` may not be made, as in the stdlib)."""
    return multiprocessing.current_process().name.startswith("poolscope-worker-")


def start_method_of(context: Any) -> str:
    """The engine's start method for a multiprocessing context (or None): spawn, or forkserver
    if asked; fork is never used (the engine's process runs threads), spawn stands for it."""
    method = context.get_start_method() if context is not None else None
    return "forkserver" if method == "forkserver" else "spawn"


class PoolCore:
    """One pool's engine and the jobs it runs (see the module's docstring). Thread-safe."""

    def __init__(self, *, workers: int | None, initializer: Callable[..., Any] | None, initargs: Iterable[Any],
                 max_tasks: int | None, start_method: str, remote_traceback: type[Exception], label: str) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.label = label  # "Pool" or "ProcessPoolExecutor": names its jobs
        self.max_tasks = max_tasks
        self.remote_traceback = remote_traceback  # the stdlib's class for a worker's traceback text
        self.token = f"{os.getpid()}-{next(_pool_tokens)}"
        self._picklable: dict[Any, bool] = {}  # callables already found to pickle (by reference, cheaply)
        self.initializer: _calls.PoolInitializer | None = None
        if initializer is not None:
            error = self.pickling_error(initializer) or self.pickling_error(tuple(initargs))
            if error is not None:
                raise error
            name = f"{getattr(initializer, '__module__', '?')}:{getattr(initializer, '__qualname__', '?')}"
            self.initializer = _calls.PoolInitializer(text=name, kind="module", module="", function="",
                                                      initializer=initializer, initargs=tuple(initargs),
                                                      token=self.token)
        # Workers run at the caller's priority, as the stdlib's do.
        self.engine = Engine(self.workers, nice=0, start_method=start_method)
        # An open poolscope window of this user shows the pool's jobs and workers (None: no window;
        # finding out costs well under a millisecond, and the pool runs the same either way).
        script = os.path.basename(sys.argv[0]) or "python"
        self.reporter: Reporter | None = report_to_window(self.engine, script)
        # ... and the job history keeps them, as it keeps the window's and poolscope run's.
        self.recorder: Recorder | None = None
        if recording_wanted():
            self.recorder = record_engine(self.engine, script_source(script, os.getpid()), in_background=True)
        self._lock = threading.Lock()  # guards _calls, _unfinished, broken, and a call's registration
        self._calls: _CallsJob | None = None  # the open-ended job of single calls now taking calls
        self._unfinished: set[int] = set()  # ids of the pool's jobs not ended (join waits for them)
        self._jobs: dict[int, Job] = {}
        self._all_done = threading.Condition(self._lock)
        self.broken: BaseException | None = None  # the initializer failed: nothing more can run

    # -- single calls ------------------------------------------------------------------------------
    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], sink: Sink,
             *, marks_running: bool = False) -> None:
        """Run ``fn(*args, **kwargs)`` in the pool's job of single calls; its outcome goes to ``sink``."""
        error = self.pickling_error(fn)
        if error is not None:
            sink.settle(False, error)
            return
        item = (fn, args, kwargs)
        with self._lock:
            while True:
                calls = self._calls
                if calls is None:
                    calls = self._calls = _CallsJob(self, marks_running)
                index = calls.feed.appended
                calls.sinks[index] = sink
                if calls.feed.append(item):
                    return
                del calls.sinks[index]  # its job was cancelled (from a window): the next job takes it
                self._calls = None

    def close_calls(self) -> None:
        """No more single calls: the job of single calls ends once those made have run."""
        with self._lock:
            calls, self._calls = self._calls, None
        if calls is not None:
            calls.feed.close()

    # -- map jobs ----------------------------------------------------------------------------------
    def map_job(self, fn: Callable[..., Any], inputs: Iterable[Any], *, star: bool, chunksize: int | None,
                name: str, on_error: Callable[[TaskError], None], on_finish: Callable[[JobSummary], None],
                on_block: Callable[[int, bytes], None]) -> Job:
        """One engine job running ``fn`` over ``inputs`` (``fn(*x)`` with ``star``). Its results go
        to ``on_block`` a block at a time, failures to ``on_error``; none are kept."""
        if star:
            target: Any = _calls.star
            kwargs: dict[str, Any] = {"fn": fn}
        elif importable(fn):
            target, kwargs = fn, {}
        else:
            target, kwargs = _calls.one, {"fn": fn}
        spec = JobSpec.create(target, InputSpec.from_iterable(inputs), kwargs=kwargs, name=name,
                              chunksize=chunksize, max_tasks_per_worker=self.max_tasks,
                              initializer=self.initializer, keep_results=False)
        return self._submit(spec, on_error, on_finish, on_block)

    def _submit(self, spec: JobSpec, on_error: Callable[[TaskError], None],
                on_finish: Callable[[JobSummary], None], on_block: Callable[[int, bytes], None]) -> Job:
        def finished(summary: JobSummary) -> None:
            error = self.job_error(summary)
            with self._lock:
                self._unfinished.discard(summary.job_id)
                self._jobs.pop(summary.job_id, None)
                if isinstance(error, InitializerFailed) and self.broken is None:
                    self.broken = error
                self._all_done.notify_all()
            on_finish(summary)

        with self._lock:
            job = self.engine.submit(spec, on_error=on_error, on_finish=finished, on_block=on_block)
            if not job.summary().status.is_final:
                self._unfinished.add(job.id)
                self._jobs[job.id] = job
        return job

    # -- the pool's end ------------------------------------------------------------------------------
    def wait_all(self, timeout: float | None = None) -> bool:
        """Wait until every job of the pool has ended; False if ``timeout`` passed first."""
        with self._all_done:
            return self._all_done.wait_for(lambda: not self._unfinished, timeout)

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel()

    def shutdown(self, *, terminate: bool = False, wait: bool = True) -> None:
        self.close_calls()
        self.engine.shutdown(terminate=terminate, timeout=None if wait else 0)
        if wait:  # else they go at exit, after the engine's last events
            if self.reporter is not None:
                self.reporter.close(engine_ended=True)
            if self.recorder is not None:
                self.recorder.close()

    # -- outcomes --------------------------------------------------------------------------------------
    def to_exception(self, error: TaskError) -> BaseException:
        """The exception a failed task raises in the caller: its own where it was sent pickled."""
        exc: BaseException | None = None
        if error.exception is not None:
            try:
                loaded = pickle.loads(error.exception)
            except BaseException:  # noqa: BLE001 - its class does not rebuild here: said by name below
                loaded = None
            if isinstance(loaded, BaseException):
                exc = loaded
        if exc is None:
            kind, message = error.type, error.message
            if kind == "WorkerCrashed":
                exc = WorkerLost(message)
            elif kind == "WorkerStartError":
                exc = (InitializerFailed if "initializer" in message else WorkerStartFailed)(message)
                if isinstance(exc, InitializerFailed) and self.broken is None:
                    self.broken = exc  # before the first task fails with it: no call made after is taken
            elif kind in ("UnpicklableInput", "UnpicklableResult"):
                exc = PicklingFailed(message)
            else:
                exc = TaskFailed(kind, message)
        if error.traceback:
            exc.__cause__ = self.remote_traceback(f'\n"""\n{error.traceback}"""')
        return exc

    def job_error(self, summary: JobSummary) -> BaseException | None:
        """Why the job's unfinished tasks will not finish (None: every task finished or failed)."""
        whole = next((error for error in summary.errors if error.index < 0), None)
        if whole is not None and whole.type != "InputError":
            return self.to_exception(whole)
        if summary.status in (JobState.CANCELLED, JobState.TERMINATED):
            how = "terminated" if summary.status == JobState.TERMINATED else "cancelled"
            return JobCancelled(f"the task did not finish: its job {summary.name!r} was {how} "
                                "(the pool was terminated, or the job stopped from a poolscope window)")
        return None

    def pickling_error(self, value: Any) -> BaseException | None:
        """What pickling ``value`` raises (the stdlib's error for a lambda or a nested function), or None."""
        try:
            if self._picklable.get(value):
                return None
        except TypeError:  # unhashable: checked each time
            pass
        try:
            pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            return exc
        try:
            if len(self._picklable) > 4096:
                self._picklable.clear()
            self._picklable[value] = True
        except TypeError:
            pass
        return None


class _CallsJob:
    """A pool's open-ended job of single calls: its feed, and where each call's outcome goes."""

    def __init__(self, core: PoolCore, marks_running: bool) -> None:
        self.core = core
        self.feed = InputFeed(on_take=self._taken if marks_running else None)
        # Input index -> where its outcome goes. Written by callers under core._lock; popped by the
        # engine thread as outcomes come (a dict's pop is atomic).
        self.sinks: dict[int, Any] = {}
        spec = JobSpec.create(_calls.call, InputSpec.feed(self.feed, f"<{core.label} calls>"),
                              name=f"{core.label} calls", max_tasks_per_worker=core.max_tasks,
                              initializer=core.initializer, keep_results=False)
        # Made under core._lock (PoolCore.call), so the job is known before its end can be told.
        job = core.engine.submit(spec, on_result=self._result, on_error=self._error, on_finish=self._finish)
        core._unfinished.add(job.id)
        core._jobs[job.id] = job

    def _taken(self, start: int, chunk: list[Any]) -> None:
        """Engine thread: the chunk is about to be sent. A future cancelled before is not run."""
        sinks = self.sinks
        for offset in range(len(chunk)):
            sink = sinks.get(start + offset)
            if sink is not None and not sink.start():
                chunk[offset] = None
                sinks.pop(start + offset, None)

    def _result(self, index: int, _input: Any, value: Any) -> None:
        sink = self.sinks.pop(index, None)
        if sink is not None:
            sink.settle(True, value)

    def _error(self, error: TaskError) -> None:
        sink = self.sinks.pop(error.index, None)
        if sink is not None:
            sink.settle(False, self.core.to_exception(error))

    def _finish(self, summary: JobSummary) -> None:
        core = self.core
        error = core.job_error(summary) or JobCancelled("the task did not finish: its job ended")
        with core._lock:
            if core._calls is self:
                core._calls = None
            sinks, self.sinks = self.sinks, {}
            core._unfinished.discard(summary.job_id)
            core._jobs.pop(summary.job_id, None)
            if isinstance(error, InitializerFailed) and core.broken is None:
                core.broken = error
            core._all_done.notify_all()
        for sink in sinks.values():
            sink.settle(False, error)


def importable(fn: Any) -> bool:
    """Whether a worker can import ``fn`` by its module and name (then it is the job's target)."""
    if not isinstance(fn, (types.FunctionType, types.BuiltinFunctionType)):
        return False
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or not qualname or "<" in qualname:
        return False
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found is fn
