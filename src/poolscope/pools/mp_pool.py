"""``poolscope.Pool``: ``multiprocessing.pool.Pool``'s constructor and every public method, on
poolscope's engine (see _core.py for how calls map onto it, README "Drop-in pools" for where
it behaves otherwise, and why). What its calls return is mp_results.py's."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from multiprocessing.pool import RemoteTraceback  # type: ignore[attr-defined]
from typing import Any

from typing_extensions import Self

from poolscope.pools._core import PoolCore, in_pool_worker, start_method_of
from poolscope.pools.mp_results import ApplyResult, AsyncResult, IMapIterator, IMapUnorderedIterator, MapResult

__all__ = ["ApplyResult", "AsyncResult", "IMapIterator", "MapResult", "Pool"]

RUN, CLOSE, TERMINATE = "RUN", "CLOSE", "TERMINATE"


class Pool:
    """A drop-in for ``multiprocessing.pool.Pool`` on poolscope's engine.

    ``Pool(processes=None, initializer=None, initargs=(), maxtasksperchild=None, context=None)``.
    Workers start with spawn (or forkserver, if ``context`` says so; never fork). The initializer
    runs once per worker process; ``maxtasksperchild`` recycles a worker after that many tasks of
    one job (each map call is a job; the ``apply_async`` calls are one job).
    """

    def __init__(self, processes: int | None = None, initializer: Callable[..., Any] | None = None,
                 initargs: Iterable[Any] = (), maxtasksperchild: int | None = None, context: Any = None) -> None:
        self._state = "INIT"
        self._core: PoolCore | None = None
        if in_pool_worker():
            raise AssertionError("a Pool cannot be created in a pool's worker process (as the stdlib's daemonic "
                                 "workers are not allowed to have children); create pools in the main process")
        if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int)):
            raise TypeError(f"processes must be an int or None, not {type(processes).__name__}")
        if processes is not None and processes < 1:
            raise ValueError("Number of processes must be at least 1")
        if maxtasksperchild is not None and (not isinstance(maxtasksperchild, int) or maxtasksperchild <= 0):
            raise ValueError("maxtasksperchild must be a positive int or None")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._core = PoolCore(workers=processes, initializer=initializer, initargs=initargs,
                              max_tasks=maxtasksperchild, start_method=start_method_of(context),
                              remote_traceback=RemoteTraceback, label="Pool")
        self._processes = self._core.workers
        self._state = RUN

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__qualname__} state={self._state} pool_size={self._processes}>"

    def __reduce__(self) -> Any:
        raise NotImplementedError("pool objects cannot be passed between processes or pickled")

    def _check_running(self) -> PoolCore:
        if self._state != RUN or self._core is None:
            raise ValueError("Pool not running")
        return self._core

    # -- single calls --------------------------------------------------------------------------------
    def apply(self, func: Callable[..., Any], args: Iterable[Any] = (), kwds: dict[str, Any] | None = None) -> Any:
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func: Callable[..., Any], args: Iterable[Any] = (), kwds: dict[str, Any] | None = None,
                    callback: Callable[[Any], Any] | None = None,
                    error_callback: Callable[[BaseException], Any] | None = None) -> ApplyResult:
        core = self._check_running()
        result = ApplyResult(self, callback, error_callback)
        if core.broken is not None:
            result.settle(False, core.broken)
        else:
            core.call(func, tuple(args), dict(kwds) if kwds else {}, result)
        return result

    # -- maps ----------------------------------------------------------------------------------------
    def map(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None = None) -> list[Any]:
        return self._wait(self._map_async(func, iterable, False, chunksize, None, None))

    def starmap(self, func: Callable[..., Any], iterable: Iterable[Iterable[Any]],
                chunksize: int | None = None) -> list[Any]:
        return self._wait(self._map_async(func, iterable, True, chunksize, None, None))

    def map_async(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None = None,
                  callback: Callable[[Any], Any] | None = None,
                  error_callback: Callable[[BaseException], Any] | None = None) -> MapResult:
        return self._map_async(func, iterable, False, chunksize, callback, error_callback)

    def starmap_async(self, func: Callable[..., Any], iterable: Iterable[Iterable[Any]],
                      chunksize: int | None = None, callback: Callable[[Any], Any] | None = None,
                      error_callback: Callable[[BaseException], Any] | None = None) -> MapResult:
        return self._map_async(func, iterable, True, chunksize, callback, error_callback)

    def imap(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int = 1) -> IMapIterator:
        return self._imap(IMapIterator(self), func, iterable, chunksize)

    def imap_unordered(self, func: Callable[..., Any], iterable: Iterable[Any],
                       chunksize: int = 1) -> IMapIterator:
        return self._imap(IMapUnorderedIterator(self), func, iterable, chunksize)

    def _map_async(self, func: Callable[..., Any], iterable: Iterable[Any], star: bool, chunksize: int | None,
                   callback: Callable[[Any], Any] | None,
                   error_callback: Callable[[BaseException], Any] | None) -> MapResult:
        core = self._check_running()
        _check_chunksize(chunksize)
        if not hasattr(iterable, "__len__"):
            iterable = list(iterable)
        if star:
            iterable = [tuple(args) for args in iterable]
        result = MapResult(self, len(iterable), callback, error_callback)  # type: ignore[arg-type]
        error = core.broken or core.pickling_error(func)
        if error is not None:
            result.settle(False, error)
            return result
        if len(iterable) == 0:  # type: ignore[arg-type]
            result.settle(True, [])
            return result
        if chunksize is None:  # the stdlib's own choice: about 4 chunks a worker
            chunksize, extra = divmod(len(iterable), core.workers * 4)  # type: ignore[arg-type]
            chunksize += bool(extra)
        result._job = core.map_job(func, iterable, star=star, chunksize=_engine_chunksize(chunksize),
                                   name=_job_name("starmap" if star else "map", func),
                                   on_error=result._failed, on_finish=result._finished, on_block=result._block)
        return result

    def _imap(self, result: IMapIterator, func: Callable[..., Any], iterable: Iterable[Any],
              chunksize: int | None) -> IMapIterator:
        core = self._check_running()
        if chunksize is None or chunksize < 1:
            raise ValueError(f"Chunksize must be 1+, not {chunksize!r}")
        error = core.broken or core.pickling_error(func)
        if error is not None:
            result._stream.end(1, error)
            return result
        source: Iterable[Any] = iterable if hasattr(iterable, "__len__") else result._watch(iterable)
        unordered = isinstance(result, IMapUnorderedIterator)
        result._job = core.map_job(func, source, star=False, chunksize=_engine_chunksize(chunksize),
                                   name=_job_name("imap_unordered" if unordered else "imap", func),
                                   on_error=result._failed, on_finish=result._finished,
                                   on_block=result._stream.block)
        return result

    def _wait(self, result: MapResult) -> list[Any]:
        try:
            return result.get()  # type: ignore[no-any-return]
        except BaseException:
            if not result.ready() and result._job is not None:  # interrupted (Ctrl-C): its tasks stop
                result._job.cancel()
            raise

    # -- the pool's end ----------------------------------------------------------------------------------
    def close(self) -> None:
        """No more work: workers exit once what was submitted has run."""
        if self._state == RUN and self._core is not None:
            self._state = CLOSE
            self._core.close_calls()

    def terminate(self) -> None:
        """Stop the workers at once: work not finished fails with ``JobCancelled``."""
        self._state = TERMINATE
        if self._core is not None:
            self._core.shutdown(terminate=True)

    def join(self) -> None:
        """Wait for the workers to exit (after ``close()`` or ``terminate()``)."""
        if self._state == RUN:
            raise ValueError("Pool is still running")
        if self._state not in (CLOSE, TERMINATE) or self._core is None:
            raise ValueError("In unknown state")
        self._core.wait_all()
        self._core.shutdown()

    def __enter__(self) -> Self:
        self._check_running()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.terminate()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if getattr(self, "_state", None) == RUN:
            _warn(f"unclosed running poolscope pool {self!r}", ResourceWarning, source=self)
            core = getattr(self, "_core", None)
            if core is not None:
                try:
                    core.shutdown(terminate=True, wait=False)
                except Exception:  # noqa: BLE001, S110 - at interpreter exit the engine may be gone already
                    pass


def _check_chunksize(chunksize: int | None) -> None:
    if chunksize is not None and (isinstance(chunksize, bool) or not isinstance(chunksize, int)):
        raise TypeError(f"chunksize must be an int or None, not {type(chunksize).__name__}")
    if chunksize is not None and chunksize < 0:
        raise ValueError(f"Chunksize must be 1+, not {chunksize!r}")


def _engine_chunksize(chunksize: int | None) -> int | None:
    """The engine's chunk size for a stdlib chunksize: 1 (imap's default) is automatic (chunks of
    about 50 ms of work, measured); more is taken as given. (``map``'s None is the stdlib's choice,
    made before this.)"""
    return chunksize if chunksize is not None and chunksize > 1 else None


def _job_name(method: str, func: Callable[..., Any]) -> str:
    return f"{method}({getattr(func, '__qualname__', None) or type(func).__name__})"
