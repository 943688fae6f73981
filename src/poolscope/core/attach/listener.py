"""The window's side of the channel: the listener that accepts a script's engine (same user, with
the key) and hands on what it publishes; the window's commands go back through it."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import queue
import secrets
import select
import socket
import threading
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from typing import Any

from poolscope.core.attach.channel import (
    _RECV_LIMIT,
    KEY_BYTES,
    KEY_NAME,
    LOCK_NAME,
    SOCKET_NAME,
    WINDOW_HANDSHAKE_TIMEOUT,
    AttachedBatches,
    AttachItem,
    PeerRefused,
    ScriptAttached,
    ScriptDetached,
    ScriptSource,
    _EventUnpickler,
    _loads,
    _make_private_dir,
    _peer_uid,
    _PlainUnpickler,
    _set_timeouts,
    runtime_dir,
)

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


