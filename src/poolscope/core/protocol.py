"""The engine <-> worker-slot protocol: one named type per message, the task status codes, and the
packing of task outcomes into a report, shared by the worker loop (core/worker.py), the Dask
forwarder (core/backends/dask_forwarder.py) and the engine (core/intake.py). DESIGN.md, "Data flow", draws
where each message goes.

Every message is a tuple of named fields, declared as a ``typing.NamedTuple`` (which the type
checker reads) and made at run time by ``_Message``, at a tenth of the cost to import; a reader
dispatches on its type. On the wire it is its fields behind a small number naming its type
(:func:`encode`, :func:`from_engine`, :func:`from_worker`): pickling the class itself by name
cost each message a module lookup on both ends, some 5 to 10 us, which a chunk of one task pays
three times. (Values inside a message, PickledValues, Progress and ErrorInfo, pickle by their
class.) User values (a job's kwargs, a chunk's inputs) travel pickled inside the message, as
bytes: the worker's reader thread unpickles only the envelope, made of these types, and the main
thread unpickles the user's part when it gets to it, so whatever that raises (or a
crash while it runs) is charged to the job or chunk it belongs to, never to the channel.

Imported by every spawned worker: the standard library's ``io``, ``pickle``, ``operator`` and
``typing`` only.
"""

from __future__ import annotations

import io
import pickle
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from typing import NamedTuple as _Message
else:
    from operator import itemgetter as _itemgetter

    class _MessageType(type):
        """Makes a class declared like a ``typing.NamedTuple`` (fields as annotations) into a tuple
        of those fields, with a name for each: what typing.NamedTuple makes, without evaluating
        code per class (typing.NamedTuple's 20 classes took 2.4 ms of every worker's start)."""

        def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
            if not bases:  # _Message itself
                return super().__new__(mcls, name, (tuple,), namespace)
            fields = tuple(namespace.get("__annotations__", {}))
            defaults = tuple(namespace[field] for field in fields if field in namespace)  # the last fields'
            namespace.update({"__slots__": (), "_fields": fields, "_defaults": defaults})
            for position, field in enumerate(fields):
                namespace[field] = property(_itemgetter(position), doc=f"{name}.{field}")
            return super().__new__(mcls, name, bases, namespace)

    class _Message(metaclass=_MessageType):
        __slots__ = ()
        _fields: tuple[str, ...] = ()
        _defaults: tuple[Any, ...] = ()  # of the last fields

        def __new__(cls, *values: Any) -> Any:
            missing = len(cls._fields) - len(values)
            if missing > 0 and missing <= len(cls._defaults):
                values += cls._defaults[len(cls._defaults) - missing:]
            elif missing:
                raise TypeError(f"{cls.__name__} takes {len(cls._fields)} values ({', '.join(cls._fields)}), "
                                f"not {len(values)}")
            return tuple.__new__(cls, values)

        def __getnewargs__(self) -> tuple[Any, ...]:
            return tuple(self)

        def __repr__(self) -> str:
            pairs = zip(self._fields, self, strict=True)
            return f"{type(self).__name__}({', '.join(f'{n}={v!r}' for n, v in pairs)})"


# -- engine -> worker ------------------------------------------------------------------------------


class SetUpJob(_Message):
    """Set a job up before its first chunk: ``setup`` is pickled (Target, kwargs, initializer | None)."""

    job_id: int
    setup: bytes


class RunChunk(_Message):
    """Run the job's tasks for inputs ``start``, ``start + 1``, ...: ``inputs`` is the pickled list
    (or range) of them."""

    chunk_id: int
    job_id: int
    start: int
    inputs: bytes


class CancelJob(_Message):
    """Drop the job's queued chunks; its running task sees ``cancel_requested()``."""

    job_id: int


class TerminateJob(_Message):
    """To a slot that cannot be killed (threads, Dask): stop the job's tasks as best it can."""

    job_id: int


class ForgetJob(_Message):
    """The job is over: drop its target (and end the processes its tasks left running)."""

    job_id: int


class Revoke(_Message):
    """Give this chunk back if it has not started (answered by Revoked, or by its Started)."""

    chunk_id: int


class Stop(_Message):
    """Finish what is held and exit."""


# -- worker -> engine ------------------------------------------------------------------------------


class Ready(_Message):
    """The slot runs its loop and takes chunks."""

    pid: int


class Started(_Message):
    """The chunk's first task is about to run (sent before its inputs are unpickled)."""

    chunk_id: int


class Progress(_Message):
    """The latest ``progress(done, total)`` of the task running input ``input_index``."""

    input_index: int
    done: float
    total: float | None


class PickledValues(_Message):
    """A report's values when all are of built-in types: ``pickle.loads(data)`` is the list of
    ``size`` values (see :func:`pickle_builtins`)."""

    size: int
    data: bytes


class Report(_Message):
    """The outcomes of the chunk's next ``len(values)`` tasks, in input order (see :class:`Outcomes`).

    ``busy`` is the seconds the chunk ran, once ``finished``; 0.0 before.
    """

    chunk_id: int
    statuses: bytes | None
    values: list[Any] | PickledValues
    progress: Progress | None
    finished: bool
    busy: float


class Dropped(_Message):
    """A chunk of a cancelled job, not run."""

    chunk_id: int


class Revoked(_Message):
    """The answer to Revoke: the chunk will not run here."""

    chunk_id: int


class Unreadable(_Message):
    """The chunk's inputs failed to unpickle in the worker; none of its tasks ran."""

    chunk_id: int
    type_name: str
    message: str
    traceback: str


class SetupFailed(_Message):
    """The job could not be set up in this slot (its target, kwargs or initializer)."""

    job_id: int
    type_name: str
    message: str
    traceback: str


class Notice(_Message):
    """Something about the job the user should read."""

    job_id: int
    text: str


class Loaded(_Message):
    """Files of the user's own code this worker process loaded since its last Loaded: path ->
    (mtime_ns, size) when loaded (core/targets.py ``user_code_files``). Sent after a job's set-up,
    before its first report; the engine replaces the worker when one of them changes."""

    files: dict[str, tuple[int, int]]


class Stale(_Message):
    """A file this worker loaded changed before it set the job up (a change the engine had not
    heard of yet, see Loaded): it exits without running the job's tasks, which run on a fresh one."""

    job_id: int


ToWorker = SetUpJob | RunChunk | CancelJob | TerminateJob | ForgetJob | Revoke | Stop
ToEngine = Ready | Started | Report | Dropped | Revoked | Unreadable | SetupFailed | Notice | Loaded | Stale

# -- the wire ---------------------------------------------------------------------------------------
_TYPES: tuple[type, ...] = (SetUpJob, RunChunk, CancelJob, TerminateJob, ForgetJob, Revoke, Stop, Ready, Started,
                            Report, Dropped, Revoked, Unreadable, SetupFailed, Notice, Loaded, Stale)
_TAGS = {kind: tag for tag, kind in enumerate(_TYPES)}
_new = tuple.__new__


def encode(message: ToWorker | ToEngine) -> bytes:
    """The bytes of a message for a pipe's ``send_bytes``: its type's number, then its fields."""
    return pickle.dumps((_TAGS[type(message)], *message), protocol=pickle.HIGHEST_PROTOCOL)


def _decode(data: bytes) -> Any:
    raw = pickle.loads(data)
    return _new(_TYPES[raw[0]], raw[1:])


def from_engine(data: bytes) -> ToWorker:
    """A message the engine sent (bytes from ``recv_bytes``), as its type."""
    return cast(ToWorker, _decode(data))


def from_worker(data: bytes) -> ToEngine:
    """A message a worker slot sent (bytes from ``recv_bytes``), as its type."""
    return cast(ToEngine, _decode(data))


# -- task outcomes ---------------------------------------------------------------------------------
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


class ErrorInfo(_Message):
    """What a task (or a set-up) raised, as text: it crosses to a process that may lack its class.
    A task's own exception also comes pickled, for a caller that raises it again (the drop-in pools)."""

    type_name: str
    message: str
    traceback: str
    exception: bytes | None = None  # the exception pickled (a task's; None if it does not pickle)

    @property
    def text(self) -> tuple[str, str, str]:
        """(type name, message, traceback): what a SetupFailed or an Unreadable carries."""
        return self.type_name, self.message, self.traceback


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


class SetupError(Exception):
    """A job's settings could not be unpickled in a slot (the job fails: "worker could not start")."""


def load_job(setup: bytes) -> tuple[Any, dict[str, Any], Any]:
    """A SetUpJob's setup: (Target, kwargs, initializer Target or None). Says what failed to unpickle."""
    try:
        target, kwargs, initializer = pickle.loads(setup)
    except BaseException as exc:  # the job fails with this as its reason
        raise SetupError(f"the job's keyword arguments could not be unpickled here: "
                         f"{type(exc).__name__}: {exc}") from exc
    return target, kwargs, initializer
