"""A job's results by input index: the latest in memory, the rest in an unnamed temporary file.

A job of a million tasks must not grow the memory of the process that watches it (the window),
and must lose none of its results. So the engine keeps each report's results as one block
(consecutive input indexes) and, once a job's blocks in memory pass ``memory_limit`` bytes
(estimated), pickles them to a temporary file and lets them go. The file has no name on disk
(``tempfile.TemporaryFile``): it goes away with the store, or with the process however it ends.

The engine thread writes; any thread may read (``Job.results()`` while the job runs, or
``Job.wait()``). One lock serialises them.

Results reach the engine through a pipe, so they pickle; should one not pickle again here (an
object whose pickling depends on where it runs), its block stays in memory.
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
import threading
from typing import IO, Any

MEMORY_LIMIT = 2 * 1024 * 1024  # bytes of results a job keeps in memory before spilling them
_POINTER = 8  # bytes a list spends per entry


class ResultStore:
    """Results of one job. Tasks that have not finished, failed or were cancelled read as None."""

    def __init__(self, memory_limit: int | None = None) -> None:
        self.memory_limit = MEMORY_LIMIT if memory_limit is None else memory_limit
        self._lock = threading.Lock()
        self._blocks: list[tuple[int, list[Any]]] = []  # (first index, values) in memory
        self._unpicklable: list[tuple[int, list[Any]]] = []  # blocks that would not spill
        self._memory = 0  # estimated bytes held by _blocks
        self._file: IO[bytes] | None = None  # opened on the first spill
        self._spilled: list[tuple[int, int]] = []  # (offset, length) of each pickled batch of blocks
        self._spilled_bytes = 0

    def put_block(self, start: int, values: list[Any]) -> None:
        """Store the results of inputs start, start + 1, ... (the list is kept, not copied)."""
        if not values:
            return
        size = _POINTER * len(values) + sum(map(sys.getsizeof, values))
        with self._lock:
            self._blocks.append((start, values))
            self._memory += size
            if self._memory > self.memory_limit:
                self._spill()

    @property
    def spilled_bytes(self) -> int:
        """Bytes written to the temporary file so far."""
        return self._spilled_bytes

    @property
    def memory_bytes(self) -> int:
        """Estimated bytes of results held in memory now."""
        return self._memory

    def ordered(self, length: int) -> list[Any]:
        """Every result by input index, as a new list of ``length`` (None where there is none)."""
        results: list[Any] = [None] * length
        with self._lock:
            for start, values in self._read_spilled():
                results[start : start + len(values)] = values
            for start, values in self._blocks + self._unpicklable:
                results[start : start + len(values)] = values
        del results[length:]  # a block can only reach past length if length was given too short
        return results

    def close(self) -> None:
        """Drop every result and the temporary file."""
        with self._lock:
            self._blocks = []
            self._unpicklable = []
            self._memory = 0
            self._spilled = []
            if self._file is not None:
                self._file.close()
                self._file = None

    # -- with the lock held ---------------------------------------------------------------------
    def _spill(self) -> None:
        try:
            payload = pickle.dumps(self._blocks, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - keep what will not pickle; spill the rest
            picklable = []
            for block in self._blocks:
                try:
                    pickle.dumps(block, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:  # noqa: BLE001
                    self._unpicklable.append(block)
                else:
                    picklable.append(block)
            payload = pickle.dumps(picklable, protocol=pickle.HIGHEST_PROTOCOL)
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="poolscope-results-")
        self._file.seek(0, os.SEEK_END)
        offset = self._file.tell()
        self._file.write(payload)
        self._file.flush()
        self._spilled.append((offset, len(payload)))
        self._spilled_bytes += len(payload)
        self._blocks = []
        self._memory = 0

    def _read_spilled(self) -> list[tuple[int, list[Any]]]:
        if self._file is None:
            return []
        blocks: list[tuple[int, list[Any]]] = []
        for offset, length in self._spilled:
            self._file.seek(offset)
            blocks.extend(pickle.loads(self._file.read(length)))
        return blocks
