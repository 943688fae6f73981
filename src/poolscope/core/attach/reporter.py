"""The script's side of the channel: a Reporter forwards an engine's event batches to the open
window and applies the commands it sends back; report_to_window makes one, or says none listens."""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import queue
import socket
import stat
import sys
import threading
import weakref
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from typing import Any

from poolscope.core.attach.channel import (
    CLOSE_TIMEOUT,
    FINAL_EVENTS_WAIT,
    PROTOCOL,
    SCRIPT_HANDSHAKE_TIMEOUT,
    SOCKET_NAME,
    AttachError,
    _check_private,
    _Engine,
    _loads,
    _peer_uid,
    _PlainUnpickler,
    _read_key,
    _set_timeouts,
    runtime_dir,
)
from poolscope.core.events import JobFinished, JobSubmitted

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

