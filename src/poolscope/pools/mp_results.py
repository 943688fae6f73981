"""What ``poolscope.Pool``'s calls return (pools/mp_pool.py), as ``multiprocessing.pool``'s do:
``ApplyResult`` (``AsyncResult``), ``MapResult`` and the ``imap`` iterators, each settled from
the engine thread by its job's outcomes.
"""

from __future__ import annotations

import collections
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import TimeoutError as MpTimeoutError
from typing import TYPE_CHECKING, Any

from poolscope.core.jobs import JobSummary, TaskError
from poolscope.core.results import load_block
from poolscope.pools._stream import ResultStream

if TYPE_CHECKING:
    from poolscope.pools.mp_pool import Pool

__all__ = ["ApplyResult", "AsyncResult", "IMapIterator", "IMapUnorderedIterator", "MapResult"]

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
