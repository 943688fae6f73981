"""The private channel between a script's engine and an open poolscope window of the same user.

Window side: an :class:`AttachListener` listens on a Unix domain socket in the user's runtime
directory (``$XDG_RUNTIME_DIR/poolscope``, else ``/tmp/poolscope-<uid>``; mode 0700), socket
``window.sock`` (0600), beside the key file ``window.key`` (0600, 32 random bytes made anew by
each window). A peer is accepted only if the kernel says it runs as this user (``SO_PEERCRED``)
and it proves it holds the key (``multiprocessing.connection``'s HMAC challenge, both ways);
nothing it sends is unpickled before that, and then only the event vocabulary
(:class:`_EventUnpickler`): no code of the script's runs in the window. Never a TCP port.

Script side: :func:`report_to_window` connects an engine to that window, or returns None within
a few milliseconds when none listens (a missing or stale socket file is refused by the kernel at
once). A :class:`Reporter` forwards every event batch the engine publishes (``Engine.subscribe``)
through a sender thread with its own queue, so the engine thread never waits on the window, and
applies the cancel and terminate commands the window sends back. If the window goes away the
script goes on unaffected; the reporter only stops forwarding.

Messages are pickled tuples, one per ``send_bytes``::

    script -> window   ("hello", {"source", "pid", "argv", "workers", "protocol"})
                       ("events", [batch, ...])   batches as the engine published them, in order
                       ("bye",)                    the script detached (Reporter.close)
    window -> script   ("cancel", job_id) | ("terminate", job_id)   the script's own job ids
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import fcntl
import io
import os
import pickle
import queue
import secrets
import select
import socket
import stat
import struct
import sys
import threading
import weakref
from collections.abc import Callable
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from typing import Any, ClassVar, Protocol

from poolscope.core import events
from poolscope.core.events import JobFinished, JobSubmitted

__all__ = [
    "KEY_NAME",
    "RUNTIME_DIR_ENV",
    "SOCKET_NAME",
    "AttachError",
    "AttachListener",
    "AttachedBatches",
    "PeerRefused",
    "Reporter",
    "ScriptAttached",
    "ScriptDetached",
    "ScriptSource",
    "close_all_reporters",
    "report_to_window",
    "runtime_dir",
    "window_listening",
]

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


# -- the window's side ----------------------------------------------------------------------


class _Peer:
    """One accepted script: its socket and Connection (a dup of its fd) and the thread reading it."""

    def __init__(self, sock: socket.socket, conn: Connection, pid: int) -> None:
        self.sock = sock  # kept to shut the connection down from any thread
        self.conn = conn  # read by the peer's thread; written (commands) under send_lock
        self.pid = pid
        self.send_lock = threading.Lock()
        self.source: ScriptSource | None = None  # set once it said hello
        self.thread: threading.Thread | None = None

    def shut(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


class AttachListener:
    """The window's listening side. ``start()`` it; read :attr:`incoming` (a ``queue.Queue`` of
    :data:`AttachItem`); send commands back with :meth:`command`; ``stop()`` it.

    One window of a user listens at a time: the one holding the lock file. ``start()`` returns
    False when another already does (scripts then report to that one).
    """

    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory or runtime_dir()
        # What the listener's threads hand on, in order per script; read by one consumer (the
        # window's bridge thread, or poolscope watch --headless's printer).
        self.incoming: queue.Queue[AttachItem] = queue.Queue()
        self.listening = False
        self._key = b""
        self._server: socket.socket | None = None
        self._lock_fd: int | None = None
        self._wake_r, self._wake_w = -1, -1  # the stop pipe the accept thread also waits on
        self._accept_thread: threading.Thread | None = None
        self._peers_lock = threading.Lock()  # guards _peers and _next_key
        self._peers: dict[int, _Peer] = {}  # source key -> an attached script (after its hello)
        self._pending: set[_Peer] = set()  # accepted, not yet through the handshake
        self._next_key = 1

    @property
    def socket_path(self) -> str:
        return os.path.join(self.directory, SOCKET_NAME)

    def start(self) -> bool:
        """Listen; False if another window of this user already does. Raises AttachError if the
        directory is not this user's alone."""
        _make_private_dir(self.directory)
        lock_fd = os.open(os.path.join(self.directory, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock_fd)
            return False
        self._lock_fd = lock_fd
        try:
            self._key = secrets.token_bytes(KEY_BYTES)
            self._write_key()
            self._server = self._bind()
        except BaseException:
            self._release()
            raise
        self._wake_r, self._wake_w = os.pipe()
        self._accept_thread = threading.Thread(target=self._accept_loop, name="poolscope-attach-accept", daemon=True)
        self._accept_thread.start()
        self.listening = True
        return True

    def _write_key(self) -> None:
        final = os.path.join(self.directory, KEY_NAME)
        temporary = f"{final}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, self._key)
        finally:
            os.close(fd)
        os.replace(temporary, final)

    def _bind(self) -> socket.socket:
        """Bind beside the final name, make it 0600, then rename it into place: no moment at
        which the socket is there with wider permissions."""
        final = self.socket_path
        temporary = os.path.join(self.directory, f".{SOCKET_NAME}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.bind(temporary)
            os.chmod(temporary, 0o600)
            os.replace(temporary, final)  # a stale socket of a window that died goes here
            server.listen(16)
        except BaseException:
            server.close()
            raise
        return server

    def _accept_loop(self) -> None:
        server = self._server
        assert server is not None
        while True:
            readable, _, _ = select.select([server.fileno(), self._wake_r], [], [])
            if self._wake_r in readable:
                return
            try:
                sock, _ = server.accept()
            except OSError:
                continue
            try:
                pid, uid = _peer_uid(sock)
            except OSError:
                sock.close()
                continue
            if uid != os.getuid():
                sock.close()  # refused before a byte is read
                self.incoming.put(PeerRefused(pid, f"uid {uid} is not this window's user ({os.getuid()})"))
                continue
            _set_timeouts(sock, WINDOW_HANDSHAKE_TIMEOUT)
            conn = Connection(os.dup(sock.fileno()))
            peer = _Peer(sock, conn, pid)
            with self._peers_lock:
                self._pending.add(peer)
            peer.thread = threading.Thread(target=self._serve, args=(peer,), name=f"poolscope-attach-{pid}",
                                           daemon=True)
            peer.thread.start()

    def _serve(self, peer: _Peer) -> None:
        """A peer's thread: the handshake, its hello, then its messages until it goes."""
        clean = False
        try:
            try:
                try:
                    deliver_challenge(peer.conn, self._key)
                except (EOFError, BrokenPipeError, ConnectionResetError):
                    return  # it hung up at once: a look whether a window listens (window_listening), no attempt
                answer_challenge(peer.conn, self._key)
                kind, hello = _loads(peer.conn.recv_bytes(_RECV_LIMIT), _PlainUnpickler)
                if kind != "hello" or not isinstance(hello, dict):
                    raise ValueError("it did not say hello")
                source = self._register(peer, hello)
            except Exception as exc:  # noqa: BLE001 - whatever the peer did, it is refused
                if _is_auth_error(exc):
                    reason = "it does not hold the key"
                elif isinstance(exc, BlockingIOError):  # SO_RCVTIMEO ran out
                    reason = f"it did not complete the handshake within {WINDOW_HANDSHAKE_TIMEOUT:g} s"
                else:
                    reason = f"{type(exc).__name__}: {exc}"
                self.incoming.put(PeerRefused(peer.pid, reason))
                return
            _set_timeouts(peer.sock, 0)
            self.incoming.put(ScriptAttached(source))
            while True:
                try:
                    message = _loads(peer.conn.recv_bytes(_RECV_LIMIT), _EventUnpickler)
                except (EOFError, OSError, pickle.UnpicklingError, ValueError):
                    break
                if not isinstance(message, tuple) or not message:
                    break  # not this protocol: the connection ends
                if message[0] == "events" and len(message) == 2 and isinstance(message[1], list):
                    batches = [batch for batch in message[1] if isinstance(batch, list)]
                    self.incoming.put(AttachedBatches(source, batches))
                elif message[0] == "bye":
                    clean = True
                    break
            self.incoming.put(ScriptDetached(source, clean))
        finally:
            with self._peers_lock:
                self._pending.discard(peer)
                if peer.source is not None:
                    self._peers.pop(peer.source.key, None)
            peer.shut()
            peer.conn.close()
            peer.sock.close()

    def _register(self, peer: _Peer, hello: dict[str, Any]) -> ScriptSource:
        with self._peers_lock:
            key, self._next_key = self._next_key, self._next_key + 1
            source = ScriptSource(
                key=key, name=str(hello.get("source") or "script"), pid=peer.pid,
                argv=tuple(str(arg) for arg in hello.get("argv") or ()),
                workers=tuple(pid for pid in hello.get("workers") or () if isinstance(pid, int)))
            peer.source = source
            self._pending.discard(peer)
            self._peers[key] = peer
        return source

    def command(self, source_key: int, action: str, job_id: int) -> bool:
        """Send "cancel" or "terminate" of the script's job ``job_id``; False if it is gone."""
        if action not in ("cancel", "terminate"):
            raise ValueError(f"action must be 'cancel' or 'terminate', not {action!r}")
        with self._peers_lock:
            peer = self._peers.get(source_key)
        if peer is None:
            return False
        try:
            with peer.send_lock:
                peer.conn.send_bytes(pickle.dumps((action, int(job_id))))
        except OSError:
            return False
        return True

    def attached(self) -> list[ScriptSource]:
        """The scripts attached now."""
        with self._peers_lock:
            return [peer.source for peer in self._peers.values() if peer.source is not None]

    def stop(self, timeout: float = 2.0) -> None:
        """Stop listening, drop every script's connection (they go on unaffected), remove the
        socket and key, and join the listener's threads."""
        if self._accept_thread is not None:
            os.write(self._wake_w, b"x")
            self._accept_thread.join(timeout)
            self._accept_thread = None
        with self._peers_lock:
            peers = list(self._peers.values()) + list(self._pending)
        for peer in peers:
            peer.shut()
        for peer in peers:
            if peer.thread is not None:
                peer.thread.join(timeout)
        self._release()
        self.listening = False

    def _release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._lock_fd is not None:  # ours to remove: we hold the lock
            for name in (SOCKET_NAME, KEY_NAME):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.directory, name))
            os.close(self._lock_fd)
            self._lock_fd = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1


def _is_auth_error(exc: BaseException) -> bool:
    from multiprocessing import AuthenticationError

    return isinstance(exc, AuthenticationError)


# -- the script's side ----------------------------------------------------------------------


class _Close:
    """The type of :data:`_CLOSE`: put on a Reporter's queue by close(), after the last batch."""


_CLOSE = _Close()
_reporters: weakref.WeakSet[Reporter] = weakref.WeakSet()  # open ones, closed at exit


class Reporter:
    """Forwards an engine's event batches to the window and applies its commands.

    Made by :func:`report_to_window`. Two daemon threads: the sender (takes batches off its own
    queue and writes them to the socket) and the receiver (reads the window's commands). The
    engine thread only puts a batch on the queue. :meth:`close` detaches.
    """

    def __init__(self, engine: _Engine, sock: socket.socket, conn: Connection) -> None:
        self._engine = engine
        self._sock = sock  # kept to shut the connection down from any thread
        self._conn = conn  # written by the sender thread, read by the receiver thread
        # Event batches (lists) put by the engine thread's subscribe callback, then _CLOSE by
        # close(); read by the sender thread only.
        self._queue: queue.SimpleQueue[list[Any] | _Close] = queue.SimpleQueue()
        self._gone = threading.Event()  # the window went away (or close() ran): forward no more
        self._open_jobs: set[int] = set()  # jobs sent as submitted, not yet as finished (sender thread)
        # Batches the engine thread handed over, and of them those the sender has sent (each
        # written by its one thread); the sender notifies _sent_changed after each message.
        self._received = 0
        self._sent = 0
        self._sent_changed = threading.Condition()
        self._closed = False
        self._unsubscribe = engine.subscribe(self._on_batch)
        self.commands_applied = 0  # cancel/terminate commands the window sent and the engine took
        self._sender = threading.Thread(target=self._send_loop, name="poolscope-report-sender", daemon=True)
        self._receiver = threading.Thread(target=self._receive_loop, name="poolscope-report-receiver", daemon=True)

    def _start(self) -> None:
        self._sender.start()
        self._receiver.start()
        _reporters.add(self)

    @property
    def connected(self) -> bool:
        """The window still takes this script's events."""
        return not self._gone.is_set()

    def _on_batch(self, batch: list[Any]) -> None:
        """Engine thread: hand the batch to the sender and return."""
        if not self._gone.is_set():
            self._received += 1
            self._queue.put(batch)

    def _send_loop(self) -> None:
        while True:
            item = self._queue.get()
            batches: list[list[Any]] = []
            closing = isinstance(item, _Close)
            if not closing:
                batches.append(item)  # type: ignore[arg-type]
                while len(batches) < 100:  # what else waits goes in the same message
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(more, _Close):
                        closing = True
                        break
                    batches.append(more)
            try:
                if batches:
                    self._conn.send_bytes(pickle.dumps(("events", batches), protocol=pickle.HIGHEST_PROTOCOL))
                    self._follow_jobs(batches)
                    with self._sent_changed:
                        self._sent += len(batches)
                        self._sent_changed.notify_all()
                if closing:
                    self._conn.send_bytes(pickle.dumps(("bye",)))
            except (OSError, ValueError, pickle.PicklingError):
                self._window_gone()
                return
            if closing:
                return

    def _follow_jobs(self, batches: list[list[Any]]) -> None:
        """Sender thread: which jobs the window knows of and has not yet seen end."""
        for batch in batches:
            for event in batch:
                if isinstance(event, JobSubmitted):
                    self._open_jobs.add(event.job_id)
                elif isinstance(event, JobFinished):
                    self._open_jobs.discard(event.job_id)

    def _receive_loop(self) -> None:
        while True:
            try:
                message = _loads(self._conn.recv_bytes(4096), _PlainUnpickler)
            except (EOFError, OSError, pickle.UnpicklingError, ValueError):
                self._window_gone()
                return
            if not (isinstance(message, tuple) and len(message) == 2 and isinstance(message[1], int)):
                continue
            action, job_id = message
            try:
                if action == "cancel":
                    self._engine.cancel(job_id)
                elif action == "terminate":
                    self._engine.terminate(job_id)
                else:
                    continue
            except Exception:  # noqa: BLE001, S112 - a job the engine no longer has, or an engine shut down
                continue
            self.commands_applied += 1

    def _wait_for_next_batch(self) -> None:
        """Until a batch the engine publishes from now on has gone out and the window has seen
        every job it knows of end; FINAL_EVENTS_WAIT at most."""
        wanted = self._received + 1
        with self._sent_changed:
            self._sent_changed.wait_for(
                lambda: self._gone.is_set() or self._sent >= wanted and not self._open_jobs, FINAL_EVENTS_WAIT)

    def _window_gone(self) -> None:
        """The window closed the channel (or close() did): stop forwarding; the script goes on."""
        if not self._gone.is_set():
            self._gone.set()
            self._unsubscribe()
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def close(self, timeout: float = CLOSE_TIMEOUT, *, engine_ended: bool = False) -> None:
        """Detach: send what is queued and a goodbye, then end both threads (joined).

        ``engine_ended``: the engine has shut down, so it has published its last batch (at its
        end it publishes whatever it held) and nothing more can come: close at once. While it
        still runs, events of the last moments (a job that just ended) are not yet published:
        close() waits for its next batch, which comes within 0.1 s when it holds any, or
        FINAL_EVENTS_WAIT at most.
        """
        if self._closed:
            return
        self._closed = True
        if not engine_ended and not self._gone.is_set():
            self._wait_for_next_batch()
        self._unsubscribe()
        self._queue.put(_CLOSE)
        if self._sender.is_alive() and self._sender is not threading.current_thread():
            self._sender.join(timeout)
        self._gone.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        if self._receiver.is_alive() and self._receiver is not threading.current_thread():
            self._receiver.join(timeout)
        self._conn.close()
        self._sock.close()
        _reporters.discard(self)


def report_to_window(engine: _Engine, source: str) -> Reporter | None:
    """Connect ``engine`` to the open poolscope window of this user and forward its events.

    Returns None, at once, when no window listens (no socket, a stale one, no key) or it refuses
    this process; never raises for that. ``source`` names the script in the window (its file
    name, say); the window adds the pid.
    """
    directory = runtime_dir()
    path = os.path.join(directory, SOCKET_NAME)
    try:
        _check_private(directory, directory=True)
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
        return None
    key = _read_key(directory)
    if key is None:
        return None
    connected = _connect(path, key)
    if connected is None:
        return None
    sock, conn = connected
    reporter = Reporter(engine, sock, conn)  # subscribed from here on: no batch is missed
    try:
        try:
            workers = [int(pid) for pid in engine.worker_pids()]
        except Exception:  # noqa: BLE001 - an engine without process workers
            workers = []
        conn.send_bytes(pickle.dumps(("hello", {"source": str(source), "pid": os.getpid(), "argv": list(sys.argv),
                                                "workers": workers, "protocol": PROTOCOL})))
        _set_timeouts(sock, 0)
    except OSError:
        reporter._unsubscribe()
        conn.close()
        sock.close()
        return None
    reporter._start()
    return reporter


def _connect(path: str, key: bytes) -> tuple[socket.socket, Connection] | None:
    """Connect to the window's socket and authenticate both ways; None if anything fails."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn: Connection | None = None
    try:
        _set_timeouts(sock, SCRIPT_HANDSHAKE_TIMEOUT)
        sock.connect(path)  # refused at once by a stale socket file
        _pid, uid = _peer_uid(sock)
        if uid != os.getuid():
            raise AttachError("the window runs as another user")
        conn = Connection(os.dup(sock.fileno()))
        answer_challenge(conn, key)
        deliver_challenge(conn, key)
    except Exception:  # noqa: BLE001 - no window, a stale socket, a refusal: the script runs as if none
        if conn is not None:
            conn.close()
        sock.close()
        return None
    return sock, conn


def close_all_reporters(timeout: float = CLOSE_TIMEOUT) -> None:
    """Close every open Reporter (sending what they hold): at interpreter exit, and by
    ``poolscope watch`` once the script has ended."""
    for reporter in list(_reporters):
        reporter.close(timeout)


atexit.register(close_all_reporters)
