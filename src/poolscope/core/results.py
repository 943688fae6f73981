"""A job's results by input index, kept pickled: the latest in memory, the rest in a temporary file.

A job of a million tasks must not grow the memory of the process that watches it (the window),
and must lose none of its results. So the engine keeps each report's results as one block of
consecutive input indexes, pickled as one list (the worker pickles plain results itself; see
core/worker.py ``PickledValues``), and once a job's blocks in memory pass ``MEMORY_LIMIT`` bytes
it writes them to a temporary file and lets them go. The file has no name on disk
(``tempfile.TemporaryFile``): it goes away with the store, or with the process however it ends.

Keeping blocks pickled costs the engine thread nothing per task (it never unpickles plain
results, nor measures objects), which matters: that thread shares the GIL with the window.

The engine thread writes; any thread may read (``Job.results()`` while the job runs, or
``Job.wait()``). One lock serialises them. (Unpickling blocks in a thread blocked in ``Job.wait()``
as they arrive, rather than all at the end, was tried: 10% faster for 1M no-op tasks, 12% slower
for 100k, as that thread takes the GIL from the engine's; not kept.)
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any, NamedTuple

from poolscope.core.worker import STATUS_PICKLED

MEMORY_LIMIT = 2 * 1024 * 1024  # bytes of pickled results a job keeps in memory before spilling them


class EncodedBlock(NamedTuple):
    """Results as a worker reported them: ``values[i]`` pickled on its own where ``statuses[i]`` is
    STATUS_PICKLED, else the value itself. Stored so, the engine thread never builds the objects."""

    statuses: bytes
    values: list[Any]

    def decode(self) -> list[Any]:
        loads = pickle.loads
        return [loads(value) if status == STATUS_PICKLED else value
                for status, value in zip(self.statuses, self.values)]


def _load(data: bytes) -> list[Any]:
    block = pickle.loads(data)
    return block.decode() if isinstance(block, EncodedBlock) else block


class ResultStore:
    """Results of one job. Tasks that have not finished, failed or were cancelled read as None."""

    def __init__(self, memory_limit: int | None = None) -> None:
        self.memory_limit = MEMORY_LIMIT if memory_limit is None else memory_limit
        # Told why, once, if the file cannot be written (results then stay in memory); called
        # by the thread that stores the results (the engine's).
        self.on_spill_error: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._blocks: list[tuple[int, bytes]] = []  # (first index, pickled list of values) in memory
        self._memory = 0  # bytes in _blocks
        self._unpicklable: list[tuple[int, list[Any]]] = []  # blocks that would not pickle, kept as they are
        self._file: IO[bytes] | None = None  # opened on the first spill
        self._spilled: list[tuple[int, int, int]] = []  # (first index, offset, length) of each block on file
        self._spilled_bytes = 0
        self.spill_error: str | None = None  # why the file could not be written; results then stay in memory

    def put_pickled(self, start: int, data: bytes) -> None:
        """Store a block already pickled: ``pickle.loads(data)`` is the results of start, start + 1, ..."""
        with self._lock:
            self._blocks.append((start, data))
            self._memory += len(data)
            if self._memory > self.memory_limit and self.spill_error is None:
                self._spill()

    def put_encoded(self, start: int, statuses: bytes, values: list[Any]) -> None:
        """Store results as a worker encoded them (see :class:`EncodedBlock`); all must unpickle."""
        self.put_pickled(start, pickle.dumps(EncodedBlock(statuses, values), protocol=pickle.HIGHEST_PROTOCOL))

    def put(self, start: int, values: list[Any]) -> None:
        """Store the results of inputs start, start + 1, ... (each of them a finished task)."""
        if not values:
            return
        try:
            data = pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - it came through a pipe, so this is rare: keep it as it is
            with self._lock:
                self._unpicklable.append((start, values))
            return
        self.put_pickled(start, data)

    @property
    def spilled_bytes(self) -> int:
        """Bytes written to the temporary file so far."""
        return self._spilled_bytes

    @property
    def memory_bytes(self) -> int:
        """Bytes of pickled results held in memory now."""
        return self._memory

    def ordered(self, length: int) -> list[Any]:
        """Every result by input index, as a new list of ``length`` (None where there is none)."""
        results: list[Any] = [None] * length
        for start, values in self._blocks_in_order():
            results[start : start + len(values)] = values
        del results[length:]  # a block can only reach past length if length was given too short
        return results

    def items(self) -> Iterator[tuple[int, Any]]:
        """(input index, result) of every finished task stored so far, in input order.

        Reads one block at a time, so a million results on file never need to be in memory at once.
        """
        for start, values in self._blocks_in_order():
            yield from enumerate(values, start)

    # -- with the lock held ---------------------------------------------------------------------
    def _spill(self) -> None:
        """Move the blocks in memory to the file; if it cannot be written, keep them (and say why)."""
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="poolscope-results-")
            offset = self._file.seek(0, os.SEEK_END)
            self._file.write(b"".join(data for _, data in self._blocks))
            self._file.flush()
        except OSError as exc:  # e.g. a full disk: lose the memory bound, never a result
            self.spill_error = f"{type(exc).__name__}: {exc}"
            if self.on_spill_error is not None:
                self.on_spill_error(self.spill_error)
            return
        for start, data in self._blocks:
            self._spilled.append((start, offset, len(data)))
            offset += len(data)
        self._spilled_bytes += self._memory
        self._blocks = []
        self._memory = 0

    # -- reading: a snapshot of where the blocks are, then each one loaded in turn ---------------
    def _blocks_in_order(self) -> Iterator[tuple[int, list[Any]]]:
        with self._lock:
            where: list[tuple[int, bytes | tuple[int, int] | list[Any]]] = [
                *((start, (offset, length)) for start, offset, length in self._spilled),
                *self._blocks, *self._unpicklable]
        where.sort(key=lambda block: block[0])
        for start, source in where:
            if isinstance(source, bytes):
                yield start, _load(source)
            elif isinstance(source, tuple):  # on file, which only grows: the offsets stay right
                with self._lock:
                    assert self._file is not None
                    self._file.seek(source[0])
                    data = self._file.read(source[1])
                yield start, _load(data)
            else:
                yield start, source

