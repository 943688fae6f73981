"""A job's results kept as pickled blocks of consecutive input indexes: in memory, in a temporary
file, or written through to the job's results file; and that file read back by any process.

A block is one report's results, pickled as one list (the worker pickles plain results itself;
see core/worker.py ``PickledValues``); once a job's blocks in memory pass ``MEMORY_LIMIT`` bytes
they move to a temporary file with no name on disk (``tempfile.TemporaryFile``), which goes away
with the store, or with the process however it ends. Keeping blocks pickled costs the engine
thread nothing per task (it never unpickles plain results, nor measures objects), which matters:
that thread shares the GIL with the window.

The engine thread writes; any thread may read (``Job.results()`` while the job runs, or
``Job.wait()``). One lock serialises them. (Unpickling blocks in a thread blocked in ``Job.wait()``
as they arrive, rather than all at the end, was tried: 10% faster for 1M no-op tasks, 12% slower
for 100k, as that thread takes the GIL from the engine's; not kept.)
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from poolscope.core.outcomes import STATUS_PICKLED

if TYPE_CHECKING:
    from poolscope.core.targets import Target

MEMORY_LIMIT = 2 * 1024 * 1024  # bytes of pickled results a job keeps in memory before spilling them


class EncodedBlock(NamedTuple):
    """Results as a worker reported them: ``values[i]`` pickled on its own where ``statuses[i]`` is
    STATUS_PICKLED, else the value itself. Stored so, the engine thread never builds the objects."""

    statuses: bytes
    values: list[Any]

    def decode(self, loads: Callable[[bytes], Any]) -> list[Any]:
        return [loads(value) if status == STATUS_PICKLED else value
                for status, value in zip(self.statuses, self.values, strict=True)]


def load_block(data: bytes, loads: Callable[[bytes], Any] = pickle.loads) -> list[Any]:
    """The results of one stored block (as ``ResultStore.on_block`` is given it), built with ``loads``."""
    return _load(data, loads)


def _load(data: bytes, loads: Callable[[bytes], Any]) -> list[Any]:
    # The block itself holds plain values and bytes only (never a user's class): pickle.loads is safe.
    block = pickle.loads(data)
    return block.decode(loads) if isinstance(block, EncodedBlock) else block


# -- a job's results file: written through as results come, readable by any process -------------
#
# The job history (core/history/) has every job's results written to a file named for the job, as
# they are stored: the file starts with RESULTS_MAGIC, then one frame per block, a header
# FRAME_HEADER (first input index, length of the data) and the block's pickled data, as the store
# keeps it. Each frame is handed to the OS in full (os.write) before the engine counts its tasks as
# done, so a process killed at any time (SIGKILL) leaves every block it counted on disk; a frame cut
# short by a kill mid-write is its last, and readers stop before it.

RESULTS_MAGIC = b"POOLSCOPE-RESULTS 1\n"
FRAME_HEADER = struct.Struct("<QQ")  # (first input index, bytes of pickled data that follow)


def read_results_file(path: str) -> Iterator[tuple[int, bytes]]:
    """(first input index, pickled block) of each whole frame of a results file, in file order.

    Raises ``OSError`` if the file cannot be read and ``ValueError`` if it is no results file."""
    with open(path, "rb") as stream:
        if stream.read(len(RESULTS_MAGIC)) != RESULTS_MAGIC:
            raise ValueError(f"{path} is not a poolscope results file")
        while True:
            header = stream.read(FRAME_HEADER.size)
            if len(header) < FRAME_HEADER.size:
                return
            start, length = FRAME_HEADER.unpack(header)
            data = stream.read(length)
            if len(data) < length:  # cut short by a kill mid-write: its tasks were never counted
                return
            yield start, data


def file_blocks_in_order(path: str) -> Iterator[tuple[int, bytes]]:
    """The blocks of a results file by first index (a job's reports come in any order). Keeps
    only their places in memory; reads each block's data again when its turn comes."""
    places: list[tuple[int, int, int]] = []  # (start, offset of the data, length)
    offset = len(RESULTS_MAGIC)
    for start, data in read_results_file(path):
        places.append((start, offset + FRAME_HEADER.size, len(data)))
        offset += FRAME_HEADER.size + len(data)
    places.sort()
    with open(path, "rb") as stream:
        for start, where, length in places:
            stream.seek(where)
            yield start, stream.read(length)


def file_items(path: str, loads: Callable[[bytes], Any] = pickle.loads) -> Iterator[tuple[int, Any]]:
    """(input index, result) of every result in a results file, in input order; ``loads`` builds
    each result pickled on its own (a :class:`ResultLoader`, in a process allowed to run the user's
    code: ``poolscope results``, never the window)."""
    for start, data in file_blocks_in_order(path):
        yield from enumerate(_load(data, loads), start)


def count_file_results(path: str) -> int:
    """How many results a results file holds (whole frames only)."""
    count = 0
    for _, data in read_results_file(path):
        block = pickle.loads(data)  # plain values and bytes only (see _load)
        count += len(block.values) if isinstance(block, EncodedBlock) else len(block)
    return count


class ResultStore:
    """Results of one job. Tasks that have not finished, failed or were cancelled read as None."""

    def __init__(self, memory_limit: int | None = None, *, keep: bool = True) -> None:
        self.memory_limit = MEMORY_LIMIT if memory_limit is None else memory_limit
        self.keep = keep  # False: results are dropped as they come (JobSpec.keep_results)
        # Called with (first index, block) as each block is stored, on the storing thread (the
        # engine's): where a caller reads a job's results while it runs (the drop-in pools' map,
        # which unpickles them meanwhile, as the stdlib does). It must be quick and never raise.
        self.on_block: Callable[[int, bytes], None] | None = None
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
        # Written through (see write_through): the named results file, its descriptor (opened on
        # the first block, by the thread that stores; closed by finish_writing) and its length.
        self.path: str | None = None
        self._fd: int | None = None
        self._file_end = 0

    def write_through(self, path: str) -> None:
        """Write every block to the results file ``path`` as it is stored, before ``put_*``
        returns (so before the engine counts its tasks), and keep none in memory. Called before the
        first block. If the file cannot be written, results stay in memory as when a spill fails."""
        with self._lock:
            self.path = path

    def finish_writing(self) -> None:
        """No more blocks will come: close the results file (it stays; reads open it again)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def put_pickled(self, start: int, data: bytes) -> None:
        """Store a block already pickled: ``pickle.loads(data)`` is the results of start, start + 1, ..."""
        if self.on_block is not None:
            self.on_block(start, data)
        if not self.keep:
            return
        with self._lock:
            if self.path is not None and self.spill_error is None and self._write_frame(start, data):
                return
            self._blocks.append((start, data))
            self._memory += len(data)
            if self._memory > self.memory_limit and self.spill_error is None:
                self._spill()

    def put_encoded(self, start: int, statuses: bytes, values: list[Any]) -> None:
        """Store results as a worker encoded them (see :class:`EncodedBlock`); all must unpickle."""
        if not self.keep and self.on_block is None:
            return
        self.put_pickled(start, pickle.dumps(EncodedBlock(statuses, values), protocol=pickle.HIGHEST_PROTOCOL))

    def put(self, start: int, values: list[Any]) -> None:
        """Store the results of inputs start, start + 1, ... (each of them a finished task)."""
        if not values or not self.keep:
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

    def ordered(self, length: int, loads: Callable[[bytes], Any] = pickle.loads) -> list[Any]:
        """Every result by input index, as a new list of ``length`` (None where there is none).

        ``loads`` unpickles each result pickled on its own (a :class:`ResultLoader` for a job of
        user code)."""
        results: list[Any] = [None] * length
        for start, values in self._blocks_in_order(loads):
            results[start : start + len(values)] = values
        del results[length:]  # a block can only reach past length if length was given too short
        return results

    def items(self, loads: Callable[[bytes], Any] = pickle.loads) -> Iterator[tuple[int, Any]]:
        """(input index, result) of every finished task stored so far, in input order.

        Reads one block at a time, so a million results on file never need to be in memory at once.
        ``loads`` as for :meth:`ordered`.
        """
        for start, values in self._blocks_in_order(loads):
            yield from enumerate(values, start)

    def json_ready_items(self, target: Target) -> Iterator[tuple[int, Any]]:
        """(input index, result made JSON-ready by ``json_safe``) of every finished task so far.

        Results pickled on their own may be of the user's classes: a child process unpickles
        them (:class:`JsonReadyBlocks`), so this process never imports the user's code (the
        window's "Save results…"). Plain results are read here.
        """
        from poolscope.core.json_form import json_safe
        from poolscope.core.results.saving import JsonReadyBlocks  # here: saving.py imports this module

        with JsonReadyBlocks(target) as convert:
            for start, source in self._raw_blocks_in_order():
                if isinstance(source, list):  # kept as objects by put(): already in this process
                    yield from enumerate(map(json_safe, source), start)
                else:
                    yield from enumerate(convert(source), start)

    # -- with the lock held ---------------------------------------------------------------------
    def _write_frame(self, start: int, data: bytes) -> bool:
        """Append one frame to the results file, whole, to the OS; False (and said once) if it cannot be."""
        assert self.path is not None
        frame = FRAME_HEADER.pack(start, len(data)) + data
        try:
            if self._fd is None and self._file_end:  # a block after finish_writing: appended
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            elif self._fd is None:
                os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
                self._write_all(RESULTS_MAGIC)
                self._file_end = len(RESULTS_MAGIC)
            self._write_all(frame)
        except OSError as exc:  # e.g. a full disk: lose the file, never a result
            self.spill_error = f"{type(exc).__name__}: {exc}"
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._file_end)  # no half frame: readers stop at the last whole one
            if self.on_spill_error is not None:
                self.on_spill_error(self.spill_error)
            return False
        self._spilled.append((start, -(self._file_end + FRAME_HEADER.size), len(data)))  # negative: in the named file
        self._file_end += len(frame)
        self._spilled_bytes += len(data)
        return True

    def _write_all(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def _spill(self) -> None:
        """Move the blocks in memory to the file; if it cannot be written, keep them (and say why)."""
        try:
            if self._file is None:
                # open for the store's life, closed by close(): no with-block fits
                self._file = tempfile.TemporaryFile(prefix="poolscope-results-")  # noqa: SIM115
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
    def _blocks_in_order(self, loads: Callable[[bytes], Any]) -> Iterator[tuple[int, list[Any]]]:
        for start, source in self._raw_blocks_in_order():
            yield start, source if isinstance(source, list) else _load(source, loads)

    def _raw_blocks_in_order(self) -> Iterator[tuple[int, bytes | list[Any]]]:
        """Each block as stored (pickled bytes, or a list kept as objects), by first index."""
        with self._lock:
            where: list[tuple[int, bytes | tuple[int, int] | list[Any]]] = [
                *((start, (offset, length)) for start, offset, length in self._spilled),
                *self._blocks, *self._unpicklable]
        where.sort(key=lambda block: block[0])
        with contextlib.ExitStack() as closing:
            named: IO[bytes] | None = None  # the results file (write_through), opened for reading once
            for start, source in where:
                if isinstance(source, tuple) and source[0] < 0:  # in the results file: offset negated
                    if named is None:
                        assert self.path is not None
                        named = closing.enter_context(open(self.path, "rb"))
                    named.seek(-source[0])
                    yield start, named.read(source[1])
                else:
                    yield from self._raw_block(start, source)

    def _raw_block(self, start: int,
                   source: bytes | tuple[int, int] | list[Any]) -> Iterator[tuple[int, bytes | list[Any]]]:
        if isinstance(source, tuple):  # in the temporary file, which only grows: the offsets stay right
            with self._lock:
                assert self._file is not None
                self._file.seek(source[0])
                data = self._file.read(source[1])
            yield start, data
        else:
            yield start, source
