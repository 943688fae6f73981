"""One map job's outcomes, handed from the engine thread to the caller reading them: blocks of
results unpickled by the reader, in input order (``imap``, ``Executor.map``) or as they come
(``imap_unordered``), failures raised in their place (see pools/_core.py for how calls map onto
the engine).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

from poolscope.core.results import load_block
from poolscope.pools.errors import JobCancelled


class ResultStream:
    """One job's outcomes for a reader taking them in input order (``imap``, ``Executor.map``) or
    as they come (``imap_unordered``).

    The engine thread hands over blocks of results as they are stored (``on_block``: pickled, a
    block per report) and failures one by one (``on_error``), then the end (:meth:`end`); the
    reader unpickles the blocks as it gets to them, so the engine thread does no step per task.
    An index that neither a block nor a failure covered by the end fails with the end's error
    (the job was cancelled or terminated, or the caller's iterable raised).
    """

    def __init__(self, ordered: bool) -> None:
        self.ordered = ordered
        self.cond = threading.Condition(threading.Lock())  # guards the fields below, but the reader's own
        self.blocks: dict[int, bytes] = {}  # ordered: first index -> a block not yet read
        self.failures: dict[int, BaseException] = {}  # ordered: index -> its task's exception
        # unordered: (is block, data or exception)
        self.arrivals: collections.deque[tuple[bool, Any]] = collections.deque()
        self.length: int | None = None  # outcomes in all, once the job has ended
        self.end_error: BaseException | None = None  # what an index nothing covered fails with
        # The reader's own (one reader at a time, under read_lock)
        self.read_lock = threading.Lock()
        self.next_index = 0  # ordered: the next index to hand out
        self.given = 0  # outcomes handed out
        self.current: list[Any] = []  # values read and not yet handed out, in order
        self.current_start = 0  # ordered: the index of current[0]

    # -- engine thread ---------------------------------------------------------------------------------
    def block(self, start: int, data: bytes) -> None:
        with self.cond:
            if self.ordered:
                self.blocks[start] = data
            else:
                self.arrivals.append((True, data))
            self.cond.notify()

    def fail(self, index: int, error: BaseException) -> None:
        with self.cond:
            if self.ordered:
                self.failures[index] = error
            else:
                self.arrivals.append((False, error))
            self.cond.notify()

    def end(self, length: int, error: BaseException | None) -> None:
        with self.cond:
            self.length = length
            self.end_error = error
            self.cond.notify_all()

    # -- the reader ------------------------------------------------------------------------------------
    def next(self, deadline: float | None) -> Any:
        """The next outcome's value (or raise its exception); StopIteration at the end;
        TimeoutError past ``deadline`` (``time.monotonic()``)."""
        with self.read_lock:
            return self._next_ordered(deadline) if self.ordered else self._next_unordered(deadline)

    def _next_ordered(self, deadline: float | None) -> Any:
        index = self.next_index
        offset = index - self.current_start
        if 0 <= offset < len(self.current):
            self.next_index += 1
            self.given += 1
            value = self.current[offset]
            if offset + 1 == len(self.current):
                self.current = []
            return value
        with self.cond:
            while True:
                failure = self.failures.pop(index, None)
                data = self.blocks.pop(index, None) if failure is None else None
                if failure is not None or data is not None:
                    break
                if self.length is not None:
                    if index >= self.length:
                        raise StopIteration
                    failure = self.end_error or JobCancelled("the task did not finish: its job ended")
                    break
                self._wait(deadline)
        self.next_index += 1
        self.given += 1
        if failure is not None:
            raise failure
        assert data is not None
        values = load_block(data)
        self.current, self.current_start = values, index
        if len(values) == 1:
            self.current = []
        return values[0]

    def _next_unordered(self, deadline: float | None) -> Any:
        while not self.current:
            with self.cond:
                while not self.arrivals:
                    if self.length is not None:
                        if self.given >= self.length:
                            raise StopIteration
                        self.given += 1
                        raise self.end_error or JobCancelled("the task did not finish: its job ended")
                    self._wait(deadline)
                is_block, item = self.arrivals.popleft()
            if not is_block:
                self.given += 1
                raise item
            self.current = load_block(item)
            self.current.reverse()  # handed out from the end
        self.given += 1
        return self.current.pop()

    def _wait(self, deadline: float | None) -> None:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise TimeoutError
        self.cond.wait(left)
