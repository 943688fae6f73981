"""Task outcomes as a Report carries them: the status codes, the packing of a report's values
(:class:`Outcomes`, one pickle for results of built-in types), and a task's failure as text.

Shared by the worker loop (core/worker.py), what runs on a Dask worker
(core/backends/dask_remote.py) and the engine's side (core/intake.py, core/results/), which reads
the status codes. The messages themselves, ErrorInfo and PickledValues included, are
core/protocol.py's.

Imported by every spawned worker: the standard library's ``io`` and ``pickle`` only (``traceback``
when a task fails).
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from poolscope.core.protocol import ErrorInfo, PickledValues

# A report's values[i] is read by statuses[i] (a bytes); statuses None means every one is
# STATUS_VALUE. That is the fast path for the common case of results of built-in types: they
# travel as PickledValues, one list pickled once, which the engine stores as it is
# (core/results/store.py).
STATUS_PICKLED = 0  # the return value, pickled in the worker on its own (so unpickling can fail alone)
STATUS_ERROR = 1  # an ErrorInfo
STATUS_CANCELLED = 2  # None
STATUS_VALUE = 3  # the return value itself: a plain type that always pickles and unpickles
# Types whose values can never fail to pickle or to unpickle: sent as they are, in one batch.
PLAIN_TYPES = frozenset({int, float, str, bytes, bool, type(None), complex})


class NotBuiltin(Exception):
    """Raised while pickling by :class:`_BuiltinsPickler` at an object not of a built-in type."""


class _BuiltinsPickler(pickle.Pickler):
    """Pickles numbers, strings, bytes and the built-in containers of them, and refuses the rest.

    The C pickler writes None, bool, int, float, str, bytes, bytearray, list, tuple, dict, set
    and frozenset itself and asks ``reducer_override`` about any other object: so the check costs
    nothing per value of those types, and what is written names no class or function (only
    ``builtins.complex``, reduced here), so unpickling it imports and runs nothing.
    """

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is complex:
            return complex, (obj.real, obj.imag)
        if obj is complex:
            return NotImplemented  # written by name: builtins.complex
        raise NotBuiltin(type(obj).__name__)


def pickle_builtins(values: list[Any]) -> bytes:
    """``values`` pickled as one list if every one is of built-in types only (see
    :class:`_BuiltinsPickler`); raises :class:`NotBuiltin`, or what pickling raised (e.g.
    RecursionError), if not."""
    buffer = io.BytesIO()
    _BuiltinsPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(values)
    return buffer.getvalue()


class Outcomes:
    """Task outcomes gathered for the next report, packed as :class:`Report` carries them.

    ``statuses`` stays None while every outcome is a task's return value: those are kept as they
    are (one ``list.extend`` per batch) and pickled as one list when the report is packed, by a
    pickler that refuses anything but built-in types (:func:`pickle_builtins`), so a chunk of
    numbers, strings, tuples or dicts of them costs no Python step per task here. Only if that
    refuses (a value of another class), or once a task fails or is cancelled, is each value
    encoded on its own (:func:`encode_result`). Like the standard library's pool, which pickles
    a chunk's results when the chunk ends, a value is pickled when its report is (at most
    REPORT_INTERVAL after its task ended): a task that returns an object it changes later
    reports it as it is then.
    """

    __slots__ = ("statuses", "values")

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.statuses: bytearray | None = None  # None while every outcome is a return value, not encoded yet

    def __len__(self) -> int:
        return len(self.values)

    def add(self, status: int, value: Any) -> None:
        """One task's outcome (encoded, as :func:`encode_result` gives it)."""
        if self.statuses is None:
            if status == STATUS_VALUE:  # a plain value: as a return value kept as it is
                self.values.append(value)
                return
            self._encode_each()
        assert self.statuses is not None
        self.statuses.append(status)
        self.values.append(value)

    def add_results(self, results: list[Any]) -> None:
        """The return values of consecutive tasks."""
        if self.statuses is None:
            self.values.extend(results)
        else:
            for result in results:
                self.add(*encode_result(result))

    def _encode_each(self) -> None:
        """From now on each outcome is encoded on its own: so are the return values kept so far."""
        kept, self.values, self.statuses = self.values, [], bytearray()
        for result in kept:
            status, value = encode_result(result)
            self.statuses.append(status)
            self.values.append(value)

    def pack(self) -> tuple[bytes | None, list[Any] | PickledValues]:
        """``(statuses, values)`` for a Report; then empty again, ready for the next one."""
        values: list[Any] | PickledValues
        if self.statuses is None and self.values:
            try:
                values = PickledValues(len(self.values), pickle_builtins(self.values))
            except Exception:  # noqa: BLE001 - a value of another type, or too deep: each is encoded on its own
                self._encode_each()
            else:
                self.values = []
                return None, values
        if self.statuses is None:
            return None, []
        statuses, values = bytes(self.statuses), self.values
        self.values = []
        self.statuses = None
        return statuses, values


def encode_result(result: Any) -> tuple[int, Any]:
    """A task's return value as (status, value) for a report: plain, pickled, or the pickling error."""
    if type(result) in PLAIN_TYPES:
        return STATUS_VALUE, result
    try:
        return STATUS_PICKLED, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: BLE001
        message = f"the task's result ({type(result).__name__}) could not be pickled: {type(exc).__name__}: {exc}"
        return STATUS_ERROR, ErrorInfo("UnpicklableResult", message, format_traceback(exc))


def describe_exception(exc: BaseException, *, with_traceback: bool = True,
                       with_exception: bool = False) -> ErrorInfo:
    """``exc`` as text (and, ``with_exception``, pickled: a few microseconds, paid by a failed task)."""
    pickled = pickle_exception(exc) if with_exception else None
    try:
        return ErrorInfo(type(exc).__name__, str(exc), format_traceback(exc) if with_traceback else "", pickled)
    except BaseException:  # noqa: BLE001 - e.g. MemoryError again, or a __str__ that raises
        return ErrorInfo(type(exc).__name__, "<the exception could not be described>", "", pickled)


def pickle_exception(exc: BaseException) -> bytes | None:
    """A task's exception pickled, for the caller to raise it again; None if it does not pickle."""
    try:
        return pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # noqa: BLE001 - its __reduce__ is user code
        return None


def format_traceback(exc: BaseException) -> str:
    import traceback  # here: a worker whose tasks do not fail never needs it

    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
