"""Worker processes forked from a small server that was forked while the process was young.

Why: spawn starts a fresh interpreter per worker, and a short ``poolscope run`` is mostly that
start-up (each worker 60 to 80 ms of CPU before its first line of poolscope code, plus
multiprocessing's resource tracker, another interpreter). ``multiprocessing``'s own
``forkserver`` starts its server as one more fresh interpreter, so two workers gained nothing.
Forking the engine's process itself is unsafe once threads run (the engine's, the window's), and
a fork made after user code was imported would carry that code, stale, into every worker.

So ``poolscope run`` forks a server first thing, while its process has one thread and has
imported only poolscope's command line and worker loop, never the user's code
(:meth:`ForkServer.start`). The server forks each worker on request: a worker is ready in a few
milliseconds, runs the same loop (core/worker.py ``worker_main``) as a spawned one, and starts
from the same clean state every time, so restarting a worker for changed code still loads that
code fresh.

How it talks: one Unix socket pair. A request carries the worker's end of its pipe and the
write end of a status pipe (``SCM_RIGHTS``), and the worker's nice level; the server forks, writes
the worker's pid to the status pipe, and, once it has reaped the worker, its exit code. So the
status pipe's read end is the worker's sentinel, as a multiprocessing ``Popen``'s is: it is
readable when the worker has gone and its exit code is known, and a process a task started
cannot hold it open. The server ignores Ctrl-C (the command handles it), dies with the process
that forked it (``PR_SET_PDEATHSIG``), and leaves when its socket closes; its workers die with it
(core/worker_process.py ``die_with_parent``). Linux only: elsewhere :meth:`ForkServer.start`
returns None and workers are spawned.
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for

_SIGNED = struct.Struct("q")
REQUEST_BYTES = 4096  # a request's pickled arguments fit in this many bytes


class ForkServer:
    """The process side of the server: start it, ask it for workers, close it."""

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid  # the server's pid (a child of this process)
        self._sock = sock  # this process's end of the socket pair; closing it ends the server
        self._lock = threading.Lock()  # one request at a time: a request and its pid reply are a pair

    @classmethod
    def start(cls) -> ForkServer | None:
        """Fork the server now, or return None where that is not safe or not possible: not
        Linux, or this process already runs more than one thread (a fork would copy locks other
        threads hold). Call it before importing or running any user code."""
        if not sys.platform.startswith("linux") or threading.active_count() > 1:
            return None
        # Imported once, here, for every worker forked: the loop, and what it imports to set a job
        # up (a job's target; dataclasses and inspect, 30 ms of a worker's first job otherwise).
        import poolscope.core.targets  # noqa: F401
        import poolscope.core.worker  # noqa: F401

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        for stream in (sys.stdout, sys.stderr):  # nothing buffered here may be written twice
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        pid = os.fork()
        if pid == 0:  # the server
            code = 1
            try:
                ours.close()
                _serve(theirs)
                code = 0
            finally:
                os._exit(code)
        theirs.close()
        return cls(pid, ours)

    def start_worker(self, conn: Connection, nice: int, name: str) -> ForkedProcess:
        """Fork a worker called ``name`` (its ``multiprocessing.current_process().name``, as a
        spawned one's) that serves ``conn`` (its end of the engine's pipe; closed here once sent)."""
        status_r, status_w = os.pipe()
        try:
            with self._lock:
                socket.send_fds(self._sock, [pickle.dumps((nice, name))], [conn.fileno(), status_w])
                os.close(status_w)
                status_w = -1
                pid = _read_signed(status_r)
        except BaseException:
            os.close(status_r)
            if status_w >= 0:
                os.close(status_w)
            raise
        conn.close()
        return ForkedProcess(pid, status_r)

    def close(self, timeout: float = 5.0) -> None:
        """End the server (its workers, if any are left, die with it) and reap it."""
        self._sock.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return
            if done:
                return
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                return
            time.sleep(0.005)


class ForkedProcess:
    """A worker the server forked: what the process backend needs of a process (core/backends/processes.py).

    It is the server's child, not this process's: the server reaps it and sends its exit code,
    so :attr:`exitcode` is known once :attr:`sentinel` is readable.
    """

    def __init__(self, pid: int, status_fd: int) -> None:
        self.pid = pid
        self.sentinel = status_fd  # readable once the worker has gone (its exit code, or the server's end)
        self._exitcode: int | None = None

    @property
    def exitcode(self) -> int | None:
        """The worker's exit code (negative: the signal that ended it), or None while it runs."""
        if self._exitcode is None and self.sentinel >= 0 and wait_for([self.sentinel], 0):
            self._read_exitcode()
        return self._exitcode

    def is_alive(self) -> bool:
        return self.exitcode is None

    def join(self, timeout: float | None = None) -> None:
        if self._exitcode is None and self.sentinel >= 0 and wait_for([self.sentinel], timeout):
            self._read_exitcode()

    def _read_exitcode(self) -> None:
        try:
            self._exitcode = _read_signed(self.sentinel)
        except EOFError:  # the server went before it could say: its workers went with it
            self._exitcode = -signal.SIGKILL
        os.close(self.sentinel)
        self.sentinel = -1


def _read_signed(fd: int) -> int:
    data = b""
    while len(data) < _SIGNED.size:
        more = os.read(fd, _SIGNED.size - len(data))
        if not more:
            raise EOFError("the fork server closed the status pipe")
        data += more
    return int(_SIGNED.unpack(data)[0])


def _write_signed(fd: int, value: int) -> None:
    os.write(fd, _SIGNED.pack(value))


def _serve(sock: socket.socket) -> None:
    """The server's loop (in the forked server): fork a worker per request, report its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    from poolscope.core.worker_process import set_parent_death_signal

    set_parent_death_signal()
    if os.getppid() != parent:  # the process that forked it went before the kernel was told
        return
    wake_r, wake_w = os.pipe()  # SIGCHLD's wakeup: a child ended
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd gets the signal
    signal.set_wakeup_fd(wake_w)
    statuses: dict[int, int] = {}  # worker pid -> the write end of its status pipe
    with selectors.EpollSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is sock:
                    try:
                        message, fds, _, _ = socket.recv_fds(sock, REQUEST_BYTES, 2)
                    except OSError:
                        message, fds = b"", []
                    if not message:  # the process that started the server closed it: leave
                        return
                    conn_fd, status_w = fds
                    pid = os.fork()
                    if pid == 0:
                        nice, name = pickle.loads(message)
                        _run_worker(conn_fd, nice, name, [sock.fileno(), wake_r, wake_w, status_w, selector.fileno(),
                                                          *statuses.values()])
                    os.close(conn_fd)
                    statuses[pid] = status_w
                    _write_signed(status_w, pid)
                else:
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    _reap(statuses)


def _reap(statuses: dict[int, int]) -> None:
    """Reap every worker that has ended and send each its exit code."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        status_w = statuses.pop(pid, None)
        if status_w is not None:
            try:
                _write_signed(status_w, os.waitstatus_to_exitcode(status))
            except OSError:  # the engine no longer reads it
                pass
            os.close(status_w)


def _run_worker(conn_fd: int, nice: int, name: str, server_fds: list[int]) -> None:
    """In the forked worker: drop the server's state, then run the worker loop; never returns."""
    code = 1
    try:
        import multiprocessing

        multiprocessing.current_process().name = name
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # worker_main sets its own
        for fd in server_fds:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)  # as a spawned worker's: tasks read no terminal
        os.dup2(devnull, 0)
        os.close(devnull)
        from poolscope.core.worker import worker_main

        worker_main(Connection(conn_fd), None, nice)  # exits the process itself
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os._exit(code)
