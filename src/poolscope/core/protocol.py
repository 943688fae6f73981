"""The engine <-> worker-slot protocol: one named type per message and its form on the wire,
shared by the worker loop (core/worker.py), the Dask forwarder (core/backends/dask_forwarder.py)
and the engine (core/slots.py, core/intake.py). What a Report's values are, and how a worker packs
them, is core/outcomes.py's. DESIGN.md, "Data flow", draws where each message goes.

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

Imported by every spawned worker: the standard library's ``pickle``, ``operator`` and ``typing``
only.
"""
from __future__ import annotations

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
    ``size`` values (see core/outcomes.py ``pickle_builtins``)."""

    size: int
    data: bytes


class Report(_Message):
    """The outcomes of the chunk's next ``len(values)`` tasks, in input order (see core/outcomes.py ``Outcomes``).

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


# -- values inside messages -----------------------------------------------------------------------


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


# -- a job's set-up, unpickled in the slot ------------------------------------------------------------


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
