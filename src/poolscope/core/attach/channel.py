"""What both sides of the channel share: where it lives and how it is kept private, what crosses
it (plain tuples, and the event vocabulary only), and what the window's listener hands on.
The picture of the whole channel is in ``poolscope.core.attach``'s docstring."""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import socket
import stat
import struct
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from poolscope.core import events

#: Overrides the directory of the socket and key (tests; ``poolscope watch --headless`` uses one
#: of its own so the script's pools report to it rather than to a window).
RUNTIME_DIR_ENV = "POOLSCOPE_RUNTIME_DIR"
SOCKET_NAME = "window.sock"
KEY_NAME = "window.key"
LOCK_NAME = "window.lock"  # held (flock) by the one window that listens
KEY_BYTES = 32
PROTOCOL = 1
#: Seconds a script waits for the window's half of the handshake (a live window answers in well
#: under a millisecond; this bounds what a hung one can cost).
SCRIPT_HANDSHAKE_TIMEOUT = 1.0
#: Seconds the window gives a peer to complete the handshake and say hello.
WINDOW_HANDSHAKE_TIMEOUT = 2.0
#: Seconds Reporter.close() waits for the queued batches to go out.
CLOSE_TIMEOUT = 2.0
#: Seconds Reporter.close() waits, while its engine still runs, for the engine's next batch: a
#: job's Job.wait() returns before the engine publishes its JobFinished (and a short job's every
#: event), which it does within PUBLISH_INTERVAL (0.1 s). Not waited when the engine has shut down.
FINAL_EVENTS_WAIT = 0.25
_RECV_LIMIT = 256 * 1024 * 1024  # one message at most (a batch is a few KB)


class AttachError(OSError):
    """The runtime directory cannot be used safely (another user owns it, or it is open to others)."""


class _Engine(Protocol):
    """What a Reporter needs of an engine (core/engine.py Engine)."""

    def subscribe(self, callback: Callable[[list[Any]], None]) -> Callable[[], None]: ...

    def worker_pids(self) -> list[int]: ...

    def cancel(self, job: int) -> None: ...

    def terminate(self, job: int) -> None: ...


# -- where: the runtime directory ---------------------------------------------------------------


def runtime_dir() -> str:
    """The directory of the socket and key: ``$POOLSCOPE_RUNTIME_DIR``, else
    ``$XDG_RUNTIME_DIR/poolscope``, else ``/tmp/poolscope-<uid>``."""
    override = os.environ.get(RUNTIME_DIR_ENV)
    if override:
        return override
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        return os.path.join(base, "poolscope")
    return os.path.join("/tmp", f"poolscope-{os.getuid()}")


def _check_private(path: str, *, directory: bool) -> os.stat_result:
    """lstat ``path`` and insist it is this user's, not a symlink, and closed to group and others."""
    info = os.lstat(path)
    kind_ok = stat.S_ISDIR(info.st_mode) if directory else not stat.S_ISLNK(info.st_mode)
    if not kind_ok:
        raise AttachError(f"{path} is not a {'directory' if directory else 'file'}")
    if info.st_uid != os.getuid():
        raise AttachError(f"{path} belongs to uid {info.st_uid}, not to this user ({os.getuid()})")
    if info.st_mode & 0o077:
        raise AttachError(f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):o})")
    return info


def _make_private_dir(path: str) -> None:
    """Create ``path`` with mode 0700 (its parent too, if it is the XDG one's child), or check it."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        info = os.lstat(path)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and info.st_mode & 0o077:
            os.chmod(path, 0o700)  # ours, but left open (e.g. a umask): close it
    _check_private(path, directory=True)


def _read_key(directory: str) -> bytes | None:
    path = os.path.join(directory, KEY_NAME)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
        key = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    return key if len(key) == KEY_BYTES else None


def _peer_uid(sock: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of a Unix socket, as the kernel recorded it."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    return pid, uid


def _set_timeouts(sock: socket.socket, seconds: float) -> None:
    """Kernel send/receive time limits on a blocking socket (0: none). ``Connection`` reads the fd
    with os.read, so a Python-level socket timeout (a non-blocking fd) would not do."""
    whole = int(seconds)
    value = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def window_listening(directory: str | None = None) -> bool:
    """Whether a window listens now (its socket accepts a connection)."""
    path = os.path.join(directory or runtime_dir(), SOCKET_NAME)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        _set_timeouts(sock, 0.5)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


# -- what crosses: plain tuples, and the event vocabulary -------------------------------------


class _EventUnpickler(pickle.Unpickler):
    """Unpickles only poolscope's event vocabulary and plain values: a pickle that names any
    other class or function is refused, so nothing of the peer's code is imported or run."""

    ALLOWED: ClassVar[dict[str, set[str]]] = {
        # every event of the vocabulary, as core/events.py defines it (a new event needs no entry here)
        events.__name__: {name for name, value in vars(events).items()
                          if dataclasses.is_dataclass(value) and getattr(value, "__module__", "") == events.__name__},
        "poolscope.core.jobs": {"JobState", "JobSummary", "TaskError"},
        "copyreg": {"_reconstructor", "__newobj__"},
        "builtins": {"object", "dict", "list", "tuple", "set", "frozenset"},
        "collections": {"Counter"},
    }

    def find_class(self, module: str, name: str) -> Any:
        if name in self.ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of the event vocabulary")


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles plain values only (the window's commands): no class or function at all."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name}: a command holds plain values only")


def _loads(data: bytes, unpickler: type[pickle.Unpickler]) -> Any:
    return unpickler(io.BytesIO(data)).load()


# -- what the window's listener hands on (AttachListener.incoming) ------------------------------


@dataclasses.dataclass(frozen=True)
class ScriptSource:
    """One attached script: who it said it is, and how the window tells it apart."""

    key: int  # unique among the listener's connections (1, 2, ...)
    name: str  # what it called itself (report_to_window's ``source``, e.g. its file name)
    pid: int  # its process id, as the kernel reported it (SO_PEERCRED), not as it claimed
    argv: tuple[str, ...] = ()
    workers: tuple[int, ...] = ()  # pids of its workers already up when it attached

    @property
    def label(self) -> str:
        """How the window names it: "script.py (pid 1234)"."""
        return f"{self.name} (pid {self.pid})"


@dataclasses.dataclass(frozen=True)
class ScriptAttached:
    source: ScriptSource


@dataclasses.dataclass(frozen=True)
class AttachedBatches:
    """Event batches of an attached script's engine, in the order it published them."""

    source: ScriptSource
    batches: list[list[Any]]


@dataclasses.dataclass(frozen=True)
class ScriptDetached:
    """A script's channel ended: ``clean`` if it said so (Reporter.close), else it vanished
    (exited without closing, was killed, or its connection broke)."""

    source: ScriptSource
    clean: bool


@dataclasses.dataclass(frozen=True)
class PeerRefused:
    """A connection the listener turned away, and why (another user, no key, a bad hello)."""

    pid: int | None
    reason: str


AttachItem = ScriptAttached | AttachedBatches | ScriptDetached | PeerRefused


