"""The default backend: worker processes on this machine, at a lower priority.

Each worker leads its own process group (core/worker.py), and its group ends with it: whenever a
worker is gone (stopped, recycled, shut down, crashed, killed), the group is killed before the
worker is reaped, so nothing its tasks started outlives it. The backend's :class:`Lifeline` does
the same for every worker if the engine's process itself goes, without any help from the workers.
"""

from __future__ import annotations

import os
import time
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from multiprocessing.context import BaseContext
from typing import Any

from poolscope.core.backends import PROCESSES
from poolscope.core.fork_server import ForkedProcess, ForkServer
from poolscope.core.processes import Lifeline, end_process_group, kill_process_tree
from poolscope.core.worker import worker_main

WAIT_SLICE = 0.05  # seconds join() waits on the sentinel before it looks at the process again


class ProcessWorker:
    """A worker process (see core/worker.py) and how to kill it with its whole tree.

    ``is_alive()`` and ``join()`` look at the process without reaping it until its process group
    has been ended (see :func:`poolscope.core.processes.end_process_group`).
    """

    can_kill = True

    def __init__(self, process: Any, lifeline: Lifeline) -> None:
        self.process = process  # a multiprocessing Process, or a ForkedProcess (core/fork_server.py)
        self.pid: int = process.pid
        self.sentinel = process.sentinel
        self.lifeline = lifeline
        self.group_ended = False  # set once the worker has exited and its group was killed
        lifeline.watch(self.pid)  # the worker's group id is its pid (it calls setpgrp first thing)

    def is_alive(self) -> bool:
        return not self._exited()

    def join(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds for the worker to exit; once it has, end its process
        group and reap it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._exited():
            # The sentinel is ready when the worker exits, unless a process its task forked still
            # holds the sentinel's other end: so wait on it in slices, and look again after each.
            left = WAIT_SLICE if deadline is None else min(WAIT_SLICE, deadline - time.monotonic())
            if left <= 0:
                return
            wait_for([self.sentinel], left)
        if not self.group_ended:
            self.group_ended = True
            end_process_group(self.pid)
            self.lifeline.release(self.pid)
        self.process.join()  # reaps it

    @property
    def exitcode(self) -> int | None:
        if not self.group_ended and self._exited():
            self.join()  # ends the group first, then reaps
        return self.process.exitcode

    def kill(self) -> None:
        kill_process_tree(self.pid)

    def _exited(self) -> bool:
        """Whether the worker has exited, without reaping it (``waitid`` with ``WNOWAIT``)."""
        if isinstance(self.process, ForkedProcess):
            # The fork server's child, reaped there: its group is ended just after, by pid, which
            # stays reserved as long as the group has a member (as with forkserver, below).
            return not self.process.is_alive()
        if self.process._popen.returncode is not None:
            # Reaped already: by join(), or by multiprocessing's clean-up of finished children
            # when another process starts (then the group is ended just after, by pid; it stays
            # reserved as long as the group has a member).
            return True
        if not hasattr(os, "waitid"):  # not on every platform: this reaps, which is the old way
            return not self.process.is_alive()
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            # Not a child of this process (forkserver starts the workers, and reaps them): ask
            # multiprocessing. Its group is then ended just after it was reaped, by pid, which
            # stays reserved as long as the group has a member.
            return not self.process.is_alive()


class ProcessBackend:
    name = PROCESSES

    def __init__(self, context: BaseContext, size: int, nice: int, fork_server: ForkServer | None = None) -> None:
        self.context = context
        self.size = size
        self.nice = nice
        self.fork_server = fork_server  # forks the workers, if given; else the context starts them
        # Kills every worker's process group if this process goes without stopping them.
        self.lifeline = Lifeline()

    def slot_count(self) -> int:
        return self.size

    def start_worker(self, slot: int) -> tuple[Connection, ProcessWorker]:
        engine_end, worker_end = self.context.Pipe(duplex=True)
        if self.fork_server is not None:
            try:
                process = self.fork_server.start_worker(worker_end, self.nice, f"poolscope-worker-{slot}")
                return engine_end, ProcessWorker(process, self.lifeline)
            except (OSError, EOFError):
                # The server is gone (killed from outside; its workers went with it): spawn from now on.
                self.fork_server = None
            except BaseException:
                engine_end.close()
                worker_end.close()
                raise
        process = self.context.Process(  # type: ignore[attr-defined]
            target=worker_main,
            # The worker dies with its parent: this process, or with forkserver the server
            # (which ends with this process); see core/worker_process.py die_with_parent.
            args=(worker_end, os.getpid() if self.context.get_start_method() == "spawn" else None, self.nice),
            name=f"poolscope-worker-{slot}",
            daemon=False,  # a task may start processes of its own (daemons may not)
        )
        process.start()
        worker_end.close()
        return engine_end, ProcessWorker(process, self.lifeline)

    def describe_workers(self) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        """Called once every worker has been stopped and joined."""
        self.lifeline.close()
