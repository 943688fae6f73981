"""``poolscope.ProcessPoolExecutor``: the ``concurrent.futures.Executor`` interface and the process
pool's constructor, on poolscope's engine (see _core.py for how calls map onto it, README
"Drop-in pools" for where it behaves otherwise, and why)."""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, InvalidStateError
from concurrent.futures.process import BrokenProcessPool, _RemoteTraceback
from typing import Any

from poolscope.core.jobs import JobSummary, TaskError
from poolscope.pools._core import PoolCore, start_method_of
from poolscope.pools._stream import ResultStream

__all__ = ["ProcessPoolExecutor"]


class _FutureSink:
    """Settles one ``submit``'s Future from the engine thread."""

    __slots__ = ("future",)

    def __init__(self, future: Future[Any]) -> None:
        self.future = future

    def start(self) -> bool:
        """The call is about to be sent to a worker: False if it was cancelled (it will not run)."""
        try:
            return self.future.set_running_or_notify_cancel()
        except RuntimeError:  # settled already (e.g. failed at submit): nothing to run
            return False

    def settle(self, ok: bool, value: Any) -> None:
        try:  # (no done() first: one pass through the future's lock, not two)
            if ok:
                self.future.set_result(value)
            else:
                self.future.set_exception(value)
        except InvalidStateError:  # cancelled or settled already
            pass


class ProcessPoolExecutor(Executor):
    """A drop-in for ``concurrent.futures.ProcessPoolExecutor`` on poolscope's engine.

    ``ProcessPoolExecutor(max_workers=None, mp_context=None, initializer=None, initargs=(), *,
    max_tasks_per_child=None)``. A task whose worker dies fails alone, with :class:`WorkerLost`
    (a ``BrokenProcessPool``), and the pool goes on; an initializer that raises breaks the pool,
    as the stdlib's does.
    """

    def __init__(self, max_workers: int | None = None, mp_context: Any = None,
                 initializer: Callable[..., Any] | None = None, initargs: Iterable[Any] = (), *,
                 max_tasks_per_child: int | None = None) -> None:
        if max_workers is not None and max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if max_tasks_per_child is not None:
            if not isinstance(max_tasks_per_child, int):
                raise TypeError("max_tasks_per_child must be an integer")
            if max_tasks_per_child <= 0:
                raise ValueError("max_tasks_per_child must be >= 1")
        self._shutdown_lock = threading.Lock()  # guards _shutdown against submit
        self._shutdown = False
        self._core = PoolCore(workers=max_workers, initializer=initializer, initargs=initargs,
                              max_tasks=max_tasks_per_child, start_method=start_method_of(mp_context),
                              remote_traceback=_RemoteTraceback, label="ProcessPoolExecutor")
        self._max_workers = self._core.workers
        # Like the stdlib's, an executor left open lets its submitted work finish at interpreter exit.
        self._atexit = _wait_at_exit(weakref.ref(self))
        atexit.register(self._atexit)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._shutdown_lock:
            if self._core.broken is not None:
                raise BrokenProcessPool(str(self._core.broken)) from self._core.broken
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future: Future[Any] = Future()
            self._core.call(fn, args, kwargs, _FutureSink(future), marks_running=True)
            return future

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int = 1) -> Iterator[Any]:
        """Results in input order as they come; ``TimeoutError`` if the next is not there within
        ``timeout`` seconds of this call. Inputs are read at once, as the stdlib reads them."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        deadline = None if timeout is None else time.monotonic() + timeout
        star = len(iterables) != 1
        # the shortest iterable ends it, as the stdlib's map does
        inputs: Any = list(zip(*iterables, strict=False)) if star else iterables[0]
        if not hasattr(inputs, "__len__"):
            inputs = list(inputs)
        with self._shutdown_lock:
            if self._core.broken is not None:
                raise BrokenProcessPool(str(self._core.broken)) from self._core.broken
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            results = _OrderedResults(self._core)
            error = self._core.pickling_error(fn)
            if error is not None or not len(inputs):
                results.stream.end(0 if error is None else 1, error)
            else:
                results.job = self._core.map_job(
                    fn, inputs, star=star, chunksize=chunksize if chunksize > 1 else None,
                    name=f"map({getattr(fn, '__qualname__', type(fn).__name__)})",
                    on_error=results.failed, on_finish=results.finished, on_block=results.stream.block)
        return results.iterate(deadline)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._shutdown_lock:
            self._shutdown = True
        core = self._core
        if cancel_futures:
            with core._lock:
                calls = core._calls
                sinks = list(calls.sinks.values()) if calls is not None else []
            for sink in sinks:
                sink.future.cancel()  # only those not yet sent to a worker are cancelled
        core.close_calls()
        if wait:
            core.wait_all()
            core.shutdown()
            atexit.unregister(self._atexit)
        else:
            core.engine.shutdown(timeout=0)  # the engine stops once what was submitted has run


class _OrderedResults:
    """``Executor.map``'s results: a job's :class:`ResultStream`, read in input order."""

    def __init__(self, core: PoolCore) -> None:
        self.core = core
        self.job: Any = None
        self.stream = ResultStream(ordered=True)

    def failed(self, error: TaskError) -> None:
        if error.index >= 0:
            self.stream.fail(error.index, self.core.to_exception(error))

    def finished(self, summary: JobSummary) -> None:
        self.stream.end(summary.total or 0, self.core.job_error(summary))

    def iterate(self, deadline: float | None) -> Iterator[Any]:
        try:
            while True:
                try:
                    value = self.stream.next(deadline)
                except StopIteration:
                    return
                yield value
        finally:
            if self.job is not None and self.stream.length is None:
                self.job.cancel()  # the caller stopped reading: what has not run will not (the stdlib cancels too)


def _wait_at_exit(executor_ref: weakref.ref[ProcessPoolExecutor]) -> Callable[[], None]:
    def wait_at_exit() -> None:
        executor = executor_ref()
        if executor is not None:
            executor.shutdown(wait=True)

    return wait_at_exit

