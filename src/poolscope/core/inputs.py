"""Input specs: what a job runs its target over, parsed and checked before anything starts.

``range:STOP``, ``range:START:STOP[:STEP]``, ``json:[...]`` (a JSON list) and ``file:PATH`` (one
input per non-blank line, JSON-decoded where it parses, else the line as a string). Inputs are
streamed: ``iterate()`` yields them one at a time and ``range:100000000`` never builds a list.
An :class:`InputFeed` is open-ended: its inputs are appended while the job runs, until it is
closed (the drop-in pools' ``apply_async`` and ``submit`` calls, poolscope.pools).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from poolscope.core.errors import SpecError

FIELD = "inputs"
KINDS = ("range", "json", "file")


@dataclass(frozen=True)
class InputSpec:
    """A parsed input spec. ``total`` is the number of inputs where it is known without running."""

    text: str
    total: int | None
    _range: range | None = field(default=None, repr=False)
    _items: tuple[Any, ...] | None = field(default=None, repr=False)
    _path: str | None = field(default=None, repr=False)
    _iterable: Iterable[Any] | None = field(default=None, repr=False, compare=False)
    _feed: InputFeed | None = field(default=None, repr=False, compare=False)

    @classmethod
    def feed(cls, feed: InputFeed, text: str = "<open-ended inputs>") -> InputSpec:
        """Inputs appended to ``feed`` while the job runs; the job ends once it is closed and
        every input appended has run. Its total is unknown until then."""
        return cls(text=text, total=None, _feed=feed)

    @classmethod
    def from_iterable(cls, values: Iterable[Any]) -> InputSpec:
        """Inputs given as Python values (library use). Iterated once, lazily."""
        if isinstance(values, (str, bytes)):
            raise SpecError(FIELD, "must be an input spec string or an iterable of inputs")
        try:
            total: int | None = len(values)  # type: ignore[arg-type]
        except TypeError:
            total = None
        if isinstance(values, range):
            return cls(text=_range_text(values), total=len(values), _range=values)
        return cls(text=f"<{type(values).__name__} of {total if total is not None else '?'} inputs>",
                   total=total, _iterable=values)

    @property
    def repeatable(self) -> bool:
        """Whether :meth:`iterate` gives the inputs again (false for a one-shot iterator or a feed)."""
        return self._feed is None and (self._iterable is None or isinstance(self._iterable, Sequence))

    def open(self) -> InputReader:
        """A reader that hands out the inputs a chunk at a time (see :class:`InputReader`).

        Whatever the source raises, here or later, the reader keeps (see ``InputReader.error``).
        """
        if self._range is not None:
            return InputReader(self._range)
        if self._feed is not None:
            return self._feed
        try:
            iterator = self.iterate()
        except BaseException as exc:  # noqa: BLE001 - e.g. a user's __iter__ that raises
            reader = InputReader(iter(()))
            reader.error = exc
            return reader
        return InputReader(iterator)

    def iterate(self) -> Iterator[Any]:
        """The inputs, one at a time, in order."""
        if self._range is not None:
            return iter(self._range)
        if self._items is not None:
            return iter(self._items)
        if self._path is not None:
            return _iterate_file(self._path)
        if self._feed is not None:
            raise ValueError("an open-ended feed's inputs are taken by its job, not iterated")
        assert self._iterable is not None
        return iter(self._iterable)


class InputReader:
    """A job's inputs, taken in order a chunk at a time.

    A range is sliced, so a chunk of a range is a ``range`` too: it pickles in a few bytes however
    many inputs it holds (a chunk of 20,000 ints would be about 100 kB to pickle, send and unpickle).

    The source is user code (a generator, a file being read) and runs on the engine's thread: what
    it raises, ``SystemExit`` included, ends the inputs there and is kept in :attr:`error`, and
    the inputs read before it are still handed out.
    """

    def __init__(self, source: range | Iterator[Any]) -> None:
        self._range = source if isinstance(source, range) else None
        self._iterator = None if isinstance(source, range) else source
        self._taken = 0
        self.error: BaseException | None = None  # what the source raised; nothing is taken after it
        self.ended = False  # no input is left: set by take() when it gives fewer than asked for
        # Called (from any thread) when inputs arrive after take() found none; the engine sets it
        # to wake its thread. Only an open-ended feed calls it.
        self.on_more: Callable[[], None] | None = None

    @property
    def ready(self) -> bool:
        """Whether take() has anything to give now, or the end to tell (always, but for a feed
        that is waiting for inputs)."""
        return True

    def discard(self) -> int:
        """Give no more inputs (the job was cancelled); return how many were waiting, where known."""
        return 0

    def take(self, count: int) -> Sequence[Any]:
        """The next ``count`` inputs, fewer at the end (or where the source raised)."""
        if self._range is not None:
            chunk: Sequence[Any] = self._range[self._taken : self._taken + count]
        elif self.error is not None:
            chunk = []
        else:
            assert self._iterator is not None
            chunk = []
            try:
                # extend() keeps what the iterator yielded before it raised, at C speed
                chunk.extend(itertools.islice(self._iterator, count))
            except BaseException as exc:  # noqa: BLE001 - kept for the job to fail with
                self.error = exc
                self._iterator = None
        self._taken += len(chunk)
        if len(chunk) < count:
            self.ended = True
        return chunk


class InputFeed(InputReader):
    """Open-ended inputs: appended by callers while the job runs, taken by the engine thread.

    The drop-in pools (poolscope.pools) feed one long job with their ``apply_async`` and
    ``submit`` calls this way, so 100,000 small calls are chunked like the inputs of one job and
    never cost a job each. The job ends once the feed is :meth:`close`-d and every input appended
    has been taken and run. The engine thread is woken (``on_more``) only when inputs arrive
    after a take found none, so a caller appending fast costs it nothing per input.

    ``on_take(start, chunk)`` (optional) is called on the engine thread with the index of the
    first input of each chunk taken and the chunk (a list it may change in place), before the
    chunk is sent: the pools mark their futures running there.
    """

    def __init__(self, on_take: Callable[[int, list[Any]], None] | None = None) -> None:
        super().__init__(iter(()))
        self.on_take = on_take
        self._lock = threading.Lock()  # guards the fields below: callers append, the engine thread takes
        self._items: list[Any] = []  # appended, not yet taken, in order
        self._appended = 0  # inputs appended so far (the next one's index)
        self._closed = False  # no more inputs will come
        self._discarded = False  # the job was cancelled: inputs appended are dropped
        self._starved = True  # the last take found nothing left: the next append wakes the engine

    @property
    def appended(self) -> int:
        return self._appended

    @property
    def closed(self) -> bool:
        return self._closed

    def append(self, value: Any) -> bool:
        """Add one input (index: :attr:`appended` before the call). False if the feed is closed
        or was discarded: the input will not run."""
        with self._lock:
            if self._closed or self._discarded:
                return False
            self._items.append(value)
            self._appended += 1
            wake, self._starved = self._starved, False
        if wake and self.on_more is not None:
            self.on_more()
        return True

    def close(self) -> None:
        """No more inputs: the job ends once those appended have run."""
        with self._lock:
            self._closed = True
        if self.on_more is not None:
            self.on_more()

    @property
    def ready(self) -> bool:
        return bool(self._items) or self._closed and not self.ended

    def discard(self) -> int:
        with self._lock:
            self._discarded = True
            dropped = len(self._items)
            self._items.clear()
            return dropped

    def take(self, count: int) -> Sequence[Any]:
        with self._lock:
            chunk = self._items[:count]
            del self._items[:count]
            start = self._taken
            self._taken += len(chunk)
            if not self._items:
                self._starved = True
                if self._closed and len(chunk) < count:
                    self.ended = True
        if chunk and self.on_take is not None:
            try:
                self.on_take(start, chunk)
            except BaseException as exc:  # noqa: BLE001 - the pool's hook: it fails the job as a source's error does
                self.error = exc
                self.ended = True
        return chunk


def parse_inputs(text: str) -> InputSpec:
    """Parse an input spec string, raising :class:`SpecError` (field ``inputs``) if it is bad."""
    text = text.strip()
    kind, sep, rest = text.partition(":")
    if not sep or kind not in KINDS:
        raise SpecError(FIELD, f"{text!r} is not an input spec; use range:STOP, range:START:STOP[:STEP], "
                               "json:[...] or file:PATH")
    if kind == "range":
        return _parse_range(text, rest)
    if kind == "json":
        return _parse_json(text, rest)
    return _parse_file(text, rest)


def _parse_range(text: str, rest: str) -> InputSpec:
    parts = rest.split(":")
    if not rest.strip() or len(parts) > 3:
        raise SpecError(FIELD, f"{text!r}: a range is range:STOP or range:START:STOP[:STEP]")
    numbers = []
    for part in parts:
        try:
            numbers.append(int(part.strip()))
        except ValueError:
            raise SpecError(FIELD, f"{text!r}: {part.strip()!r} is not a whole number") from None
    if len(numbers) == 3 and numbers[2] == 0:
        raise SpecError(FIELD, f"{text!r}: the step must not be 0")
    values = range(*numbers)
    if len(values) == 0:
        raise SpecError(FIELD, f"{text!r} is empty: it has no inputs")
    return InputSpec(text=text, total=len(values), _range=values)


def _parse_json(text: str, rest: str) -> InputSpec:
    try:
        value = json.loads(rest)
    except json.JSONDecodeError as exc:
        raise SpecError(FIELD, f"invalid JSON after 'json:': {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, list):
        raise SpecError(FIELD, f"json: must be a JSON list like [1, 2, 3], not {type(value).__name__}")
    if not value:
        raise SpecError(FIELD, "json:[] is empty: it has no inputs")
    return InputSpec(text=text, total=len(value), _items=tuple(value))


def _parse_file(text: str, rest: str) -> InputSpec:
    path = os.path.expanduser(rest.strip())
    if not path:
        raise SpecError(FIELD, "file: needs a path, e.g. file:inputs.txt")
    try:
        with open(path, "rb") as handle:
            total = sum(1 for line in handle if line.strip())
    except FileNotFoundError:
        raise SpecError(FIELD, f"input file {path!r} does not exist") from None
    except IsADirectoryError:
        raise SpecError(FIELD, f"input file {path!r} is a directory") from None
    except OSError as exc:
        raise SpecError(FIELD, f"input file {path!r} cannot be read: {exc.strerror}") from None
    if total == 0:
        raise SpecError(FIELD, f"input file {path!r} has no inputs (no non-blank lines)")
    return InputSpec(text=text, total=total, _path=os.path.abspath(path))


def _iterate_file(path: str) -> Iterator[Any]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                yield line


def _range_text(values: range) -> str:
    return f"range:{values.start}:{values.stop}:{values.step}"
