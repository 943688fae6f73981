"""A job's results by input index, kept pickled: the latest in memory, the rest in a temporary file.

A job of a million tasks must not grow the memory of the process that watches it (the window),
and must lose none of its results. So the engine keeps each report's results as one block of
consecutive input indexes, pickled as one list (the worker pickles plain results itself; see
core/worker.py ``PickledValues``), and once a job's blocks in memory pass ``MEMORY_LIMIT`` bytes
it writes them to a temporary file and lets them go. The file has no name on disk
(``tempfile.TemporaryFile``): it goes away with the store, or with the process however it ends.

Keeping blocks pickled costs the engine thread nothing per task (it never unpickles plain
results, nor measures objects), which matters: that thread shares the GIL with the window.

The engine thread never builds a result of the user's classes: it checks that each result
pickled on its own would unpickle with a stand-in for every class it names
(:func:`check_pickled`), so no user module is ever imported there, and stores the bytes. A
result is unpickled where it is asked for (``Job.wait()``, ``Job.results()``,
``Job.iter_results()``, an ``on_result`` callback), in the caller's process, with a
:class:`ResultLoader` that imports the classes' modules as a worker would. The window never asks
for them: its "Save results…" has them turned into JSON-ready values in a child process
(:class:`JsonReadyBlocks`).

The engine thread writes; any thread may read (``Job.results()`` while the job runs, or
``Job.wait()``). One lock serialises them. (Unpickling blocks in a thread blocked in ``Job.wait()``
as they arrive, rather than all at the end, was tried: 10% faster for 1M no-op tasks, 12% slower
for 100k, as that thread takes the GIL from the engine's; not kept.)
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import copyreg
import io
import itertools
import multiprocessing
import operator
import os
import pickle
import re
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from poolscope.core.protocol import STATUS_PICKLED

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


# -- checking a result without building it: the engine thread ------------------------------------

class _StandInType(type):
    def __getattr__(cls, name: str) -> Any:  # getattr(SomeClass, "MEMBER") in a reduce: still a stand-in
        return cls


class _StandIn(metaclass=_StandInType):
    """What every class or function a checked pickle names becomes: accepts whatever unpickling
    does with it (call, ``__new__``, state, appended or set items) and runs no code of its own in
    the common cases (``__setstate__``, ``append`` and ``extend`` are ``id``: C, and unbound)."""

    __setstate__ = id
    append = id
    extend = id

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


class _CheckUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:  # never imports: see check_pickled
        return _StandIn


CHECK_SLICE = 2000  # pickles checked per run of C calls, so the engine thread holds the GIL briefly

# Whether a pickle may name a global (a class, a function): it contains the STACK_GLOBAL opcode's
# byte, the only opcode a protocol 4 or 5 pickler writes for one (workers pickle with the highest
# protocol), as an opcode or by chance inside its data. A pickle without it builds only built-in
# containers and scalars, so pickle.loads checks it at full C speed and imports nothing. EXT1/2/4
# name a global only through copyreg's extension registry of this process; if something
# registered one, pickles with their bytes are suspects too (as are GLOBAL and INST then, for good
# measure).
_STACK_GLOBAL = b"\x93"
_call = operator.methodcaller("__call__")  # operator.call, which Python 3.10 lacks
_NAMES_A_GLOBAL = re.compile(rb"[\x93\x82\x83\x84ci]").search


def _suspect_positions(part: list[bytes]) -> list[int]:
    """The positions in ``part`` of the pickles that may name a global, in order.

    Looks for the byte in the slice joined (C speed), then takes a Python step per pickle that
    has it only: a flood of tuples pays almost nothing per result."""
    if copyreg._inverted_registry:  # type: ignore[attr-defined]
        return [position for position, found in enumerate(map(_NAMES_A_GLOBAL, part)) if found]
    joined = b"".join(part)
    at = joined.find(_STACK_GLOBAL)
    if at < 0:
        return []
    ends = list(itertools.accumulate(map(len, part)))
    positions = []
    while at >= 0:
        position = bisect.bisect_right(ends, at)
        positions.append(position)
        at = joined.find(_STACK_GLOBAL, ends[position])  # on from the next pickle
    return positions


def check_pickled(pickled: list[bytes]) -> bool:
    """Whether every one of ``pickled`` (each a result pickled on its own) unpickles, structurally.

    Imports nothing and runs none of the user's code: every class or function a pickle names is
    replaced by a stand-in, so a result of a class defined in a user's file passes here (the
    caller's :class:`ResultLoader` builds it), while a truncated or malformed pickle fails. The
    objects made are dropped at once. A slice at a time, in C but for a step per pickle that
    may name a class.

    The pickles that may name a class are checked as one stream by one unpickler (building an
    unpickler per pickle cost more than the check): each ``load()`` must end exactly where its
    pickle does, so one cut short (which would read on into the next) fails the whole check.
    """
    loads = pickle.loads
    try:
        for start in range(0, len(pickled), CHECK_SLICE):
            part = pickled[start : start + CHECK_SLICE]
            positions = _suspect_positions(part)
            if len(positions) * 8 < len(part):  # a few: the runs between them through pickle.loads
                previous = 0
                for position in positions:
                    collections.deque(map(loads, part[previous:position]), maxlen=0)
                    previous = position + 1
                collections.deque(map(loads, part[previous:]), maxlen=0)
                suspects = [part[position] for position in positions]
            else:  # many (results of a class): the others picked out in C
                named = [False] * len(part)
                for position in positions:
                    named[position] = True
                collections.deque(map(loads, itertools.compress(part, map(operator.not_, named))), maxlen=0)
                suspects = list(itertools.compress(part, named))
            if suspects:
                stream = io.BytesIO(b"".join(suspects))
                unpickler = _CheckUnpickler(stream)
                count = len(suspects)
                # load(), tell(), load(), tell(), ...: the positions each load ended at, in C
                calls = itertools.chain.from_iterable(zip(itertools.repeat(unpickler.load, count),
                                                          itertools.repeat(stream.tell, count), strict=True))
                if list(map(_call, calls))[1::2] != list(itertools.accumulate(map(len, suspects))):
                    return False
    except BaseException:  # noqa: BLE001 - one of them does not unpickle
        return False
    return True


def check_one_pickled(data: bytes) -> None:
    """Raise what unpickling ``data`` raises, with stand-ins for what it names (see check_pickled)."""
    _CheckUnpickler(io.BytesIO(data)).load()


# -- building results where they are asked for: the caller's process -----------------------------

class _TargetUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, loader: ResultLoader) -> None:
        super().__init__(io.BytesIO(data))
        self._loader = loader

    def find_class(self, module: str, name: str) -> Any:
        return self._loader.find_class(module, name)


class UnreadableResult:
    """Stands for a result that a worker pickled but that cannot be built in the caller's process
    (its class refuses the arguments it is rebuilt with, or its module no longer imports). The
    engine cannot know that without running the user's code, so the task counts as done; the
    other results are read as usual."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"<result could not be unpickled: {self.message}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnreadableResult) and other.message == self.message

    __hash__ = None  # type: ignore[assignment]


class ResultLoader:
    """Unpickles a job's results in the caller's process (the library, ``poolscope run``).

    A class of a file target is found in that file, loaded as a worker loads it (its module
    name, ``poolscope_file_<stem>_<hash>``, exists only where the file was loaded), a module of
    a sibling of the file from the file's folder, any other module by the lookup rule
    (core/targets.py :func:`~poolscope.core.targets.import_for_results`). Never called in the
    window's process.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self._classes: dict[tuple[str, str], Any] = {}
        self._prepared = False

    def __call__(self, data: bytes) -> Any:
        """The result ``data`` pickles, or an :class:`UnreadableResult` saying why it cannot be built."""
        try:
            return self.load(data)
        except KeyboardInterrupt:  # the user's Ctrl-C, not the result's
            raise
        except BaseException as exc:  # noqa: BLE001 - one result that cannot be built (even one whose
            # rebuilding calls sys.exit) does not hide the others, nor end the caller
            return UnreadableResult(f"{type(exc).__name__}: {exc}")

    def load(self, data: bytes) -> Any:
        """The result ``data`` pickles; raises what building it raises."""
        if not self._prepared:
            from poolscope.core.targets import prepare_lookup

            prepare_lookup(self.target)  # the project folder first on sys.path, as Target.load puts it
            self._prepared = True
        try:  # at C speed: sys.path now follows the lookup rule, and a file target once loaded is in sys.modules
            return pickle.loads(data)
        except (ImportError, AttributeError):  # a file target's module not loaded yet, or a sibling of it
            return _TargetUnpickler(data, self).load()

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        found = self._classes.get(key)
        if found is None:
            from poolscope.core.targets import import_for_results

            found = import_for_results(self.target, module)
            for part in name.split("."):
                found = getattr(found, part)
            self._classes[key] = found
        return found


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


def file_json_ready_items(path: str, target: Target) -> Iterator[tuple[int, Any]]:
    """(input index, JSON-ready result) of a results file; results of the user's classes made
    JSON-ready in a child process (:class:`JsonReadyBlocks`), so the caller may be the window."""
    with JsonReadyBlocks(target) as convert:
        for start, data in file_blocks_in_order(path):
            yield from enumerate(convert(data), start)


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
        from poolscope.core.jobs import json_safe

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


# -- JSON-ready results for the window: made in a child process -----------------------------------

class JsonReadyBlocks:
    """A child process that turns stored blocks into lists of JSON-ready values (``json_safe``).

    It unpickles with a :class:`ResultLoader`, so the user's classes (and their ``repr``, which
    ``json_safe`` writes for what JSON cannot hold) run there, never in this process. One block
    goes over the pipe at a time and its values come back (plain values only) before the next.
    Started on the first block that needs it: a job of plain results never starts one. If the
    child dies (a module that exits at import), ``OSError`` says so.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        # Ours: the parent's end of a duplex pipe. We send a block's bytes, it sends back the
        # block's values made JSON-ready (a list of plain values), or ("error", text).
        self._conn: Any = None
        self._process: Any = None

    def __enter__(self) -> Callable[[bytes], list[Any]]:
        return self.convert

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()  # the child reads end-of-file and exits
        if self._process is not None:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()

    def convert(self, data: bytes) -> list[Any]:
        block = pickle.loads(data)  # plain values and bytes only (see _load)
        if not isinstance(block, EncodedBlock) or STATUS_PICKLED not in block.statuses:
            from poolscope.core.jobs import json_safe

            return [json_safe(value) for value in (block.values if isinstance(block, EncodedBlock) else block)]
        if self._process is None:
            context = multiprocessing.get_context("spawn")
            self._conn, child = context.Pipe()
            self._process = context.Process(target=_json_ready_child, args=(child, self.target),
                                             name="poolscope-save-results", daemon=True)
            self._process.start()
            child.close()
        try:
            self._conn.send_bytes(data)
            reply = self._conn.recv()
        except (EOFError, OSError):
            self._process.join(5)
            raise OSError(f"the process that reads the results of {self.target.text} ended "
                          f"(exit code {self._process.exitcode})") from None
        if isinstance(reply, tuple):
            raise OSError(f"reading the results of {self.target.text} failed: {reply[1]}")
        values: list[Any] = reply
        return values


def _json_ready_child(conn: Any, target: Target) -> None:
    """Runs in the child process of :class:`JsonReadyBlocks`: block bytes in, JSON-ready lists out."""
    from poolscope.core.jobs import json_safe

    loads = ResultLoader(target)

    def ready(value: bytes) -> Any:
        return json_safe(loads(value))  # an UnreadableResult is written as its repr

    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            block = pickle.loads(data)
            conn.send([ready(value) if status == STATUS_PICKLED else json_safe(value)
                       for status, value in zip(block.statuses, block.values, strict=True)])
        except Exception as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}"))

