"""``poolscope.Pool``: ``multiprocessing.pool.Pool``'s constructor and every public method, on
poolscope's engine (see _core.py for how calls map onto it, README "Drop-in pools" for where
it behaves otherwise, and why)."""

from __future__ import annotations

import collections
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import TimeoutError as MpTimeoutError
from multiprocessing.pool import RemoteTraceback  # type: ignore[attr-defined]
from typing import Any

from typing_extensions import Self

from poolscope.core.jobs import JobSummary, TaskError
from poolscope.core.results import load_block
from poolscope.pools._core import PoolCore, in_pool_worker, start_method_of
from poolscope.pools._stream import ResultStream

__all__ = ["ApplyResult", "AsyncResult", "IMapIterator", "MapResult", "Pool"]

RUN, CLOSE, TERMINATE = "RUN", "CLOSE", "TERMINATE"
READ_EVERY = 0.01  # seconds: how often a waiting get() reads the map's results that have come


class ApplyResult:
    """What ``apply_async`` returns: ``get(timeout)``, ``wait(timeout)``, ``ready()``, ``successful()``."""

    def __init__(self, pool: Pool | None, callback: Callable[[Any], Any] | None,
                 error_callback: Callable[[BaseException], Any] | None) -> None:
        self._pool = pool  # kept until settled, as the stdlib keeps it
        # Held until the outcome is set (released by settle), waited on by acquiring it: a lock is
        # made and released in C, where an Event costs microseconds of Python a result.
        self._pending = threading.Lock()
        self._pending.acquire()
        self._done = False
        self._callback = callback
        self._error_callback = error_callback
        self._success = False
        self._value: Any = None

    def ready(self) -> bool:
        return self._done

    def successful(self) -> bool:
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._success

    def wait(self, timeout: float | None = None) -> None:
        self._wait_done(timeout)

    def _wait_done(self, timeout: float | None) -> bool:
        if self._done:
            return True
        if self._pending.acquire(True, -1 if timeout is None else max(0.0, timeout)):
            self._pending.release()
            return True
        return False

    def get(self, timeout: float | None = None) -> Any:
        self.wait(timeout)
        if not self.ready():
            raise MpTimeoutError
        if self._success:
            return self._value
        raise self._value

    def settle(self, ok: bool, value: Any) -> None:
        """Engine thread (or the caller, for an error found at once): the outcome, then callbacks."""
        if self._done:
            return
        self._success, self._value = ok, value
        try:
            if ok and self._callback is not None:
                self._callback(value)
            if not ok and self._error_callback is not None:
                self._error_callback(value)
        finally:  # a callback that raises (reported by the engine, once a job) never leaves get() waiting
            self._done = True
            self._pending.release()
            self._pool = None

    __class_getitem__: Any = classmethod(types.GenericAlias)  # AsyncResult[int], as the stdlib's


AsyncResult = ApplyResult


class MapResult(ApplyResult):
    """What ``map_async``/``starmap_async`` return: the list of results, or the first failure by
    input order once every task has ended.

    The results come a block at a time (``ResultStore.on_block``, on the engine thread) and are
    unpickled by whoever waits in ``get()`` while the job runs, as the stdlib's result thread
    unpickles them: by the end only the last blocks are left to read.
    """

    def __init__(self, pool: Pool, length: int, callback: Callable[[Any], Any] | None,
                 error_callback: Callable[[BaseException], Any] | None) -> None:
        super().__init__(pool, callback, error_callback)
        self._job: Any = None
        self._first_error: TaskError | None = None  # engine thread: the failure of the lowest index
        self._list: list[Any] = [None] * length  # filled as blocks are read, by index
        # Blocks of results not yet read: appended by the engine thread, taken under _reading
        self._blocks: collections.deque[tuple[int, bytes]] = collections.deque()
        self._reading = threading.Lock()

    def _block(self, start: int, data: bytes) -> None:
        self._blocks.append((start, data))

    def _read_blocks(self) -> None:
        with self._reading:
            while self._blocks:
                start, data = self._blocks.popleft()
                values = load_block(data)
                self._list[start : start + len(values)] = values

    def _failed(self, error: TaskError) -> None:
        if error.index >= 0 and (self._first_error is None or error.index < self._first_error.index):
            self._first_error = error

    def _finished(self, summary: JobSummary) -> None:
        """Engine thread: the job ended."""
        assert self._pool is not None and self._pool._core is not None
        core = self._pool._core
        error = core.job_error(summary)
        if error is None and self._first_error is not None:
            error = core.to_exception(self._first_error)
        if error is not None:
            self.settle(False, error)
        elif self._callback is not None:  # the callback wants the list now
            self._read_blocks()
            self.settle(True, self._list)
        else:
            self._success = True
            self._done = True
            self._pending.release()
            self._pool = None

    def wait(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            if self._wait_done(READ_EVERY if left is None else min(READ_EVERY, left)):
                return
            if self._blocks:
                self._read_blocks()

    def get(self, timeout: float | None = None) -> Any:
        self.wait(timeout)
        if not self.ready():
            raise MpTimeoutError
        if self._success:
            self._read_blocks()
            return self._list
        raise self._value


class IMapIterator:
    """What ``imap`` returns: results in input order as they come; ``next(timeout)``.
    (``imap_unordered``'s: in the order they finish.)"""

    def __init__(self, pool: Pool, ordered: bool = True) -> None:
        self._pool: Pool | None = pool
        self._stream = ResultStream(ordered)
        self._source_error: BaseException | None = None  # what the caller's iterable raised
        self._job: Any = None

    def __iter__(self) -> Iterator[Any]:
        return self

    def next(self, timeout: float | None = None) -> Any:
        try:
            return self._stream.next(None if timeout is None else time.monotonic() + timeout)
        except TimeoutError:
            raise MpTimeoutError from None
        except StopIteration:
            self._pool = None
            raise

    __next__ = next

    def _failed(self, error: TaskError) -> None:
        if error.index >= 0 and self._pool is not None and self._pool._core is not None:
            self._stream.fail(error.index, self._pool._core.to_exception(error))

    def _finished(self, summary: JobSummary) -> None:
        """Engine thread: the job ended. The iterable's own error comes after the inputs it gave,
        as in the stdlib; a job stopped before its end fails what did not finish with why."""
        core = self._pool._core if self._pool is not None else None
        error = self._source_error or (core.job_error(summary) if core is not None else None)
        length = summary.total if summary.total is not None else summary.done + summary.failed + summary.cancelled
        if error is not None and (self._source_error is not None or summary.total is None):
            length += 1  # the error, after what ran
        self._stream.end(length, error)

    def _watch(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """The caller's iterable, read on the engine thread: what it raises is kept, to be raised
        by ``next()`` in its place, as the stdlib does."""
        try:
            yield from iterable
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            self._source_error = exc


class IMapUnorderedIterator(IMapIterator):
    def __init__(self, pool: Pool) -> None:
        super().__init__(pool, ordered=False)


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
