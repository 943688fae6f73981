"""A worker process around its loop: how it starts (it leads its own process group and dies with
the engine's process), how it ends (with every process its tasks started), and the processes a
job's tasks leave running, ended with the job. The loop is core/worker.py (``worker_main`` calls
these); DESIGN.md, "A worker's processes end with it", says why. Runs in the worker process.
"""

from __future__ import annotations

import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1


class JobProcesses:
    """The processes a job's tasks started in this worker and left running, ended with the job.

    After each chunk the worker's children are listed (``/proc/self/task/*/children``, about
    0.1 ms; a chunk runs about 50 ms) and the new ones are the chunk's job's: a task, or the
    job's initializer, started them. When the job ends (ForgetJob), those still running are
    killed with their descendants. What a task started and detached (its parent exited, so it
    is no longer a child here) stays in the worker's process group and ends with the worker.
    Linux only (elsewhere the list is empty: everything ends with the worker). Runs in the
    worker, on its main thread.
    """

    def __init__(self) -> None:
        self.by_job: dict[int, set[int]] = {}  # job id -> pids of children first seen after its chunk
        self.seen: set[int] = set()  # every child pid attributed so far (and still a child)

    def note(self, job_id: int) -> None:
        """After a chunk of ``job_id``: children not seen before are its."""
        children = _children()
        gone = self.seen - children
        if gone:  # exited and reaped: their pids may come back as another job's children
            self.seen -= gone
            for pids in self.by_job.values():
                pids -= gone
        new = children - self.seen
        if new:
            self.by_job.setdefault(job_id, set()).update(new)
            self.seen |= new

    def end(self, job_id: int) -> None:
        """Kill the processes of ``job_id`` still running (each with its descendants)."""
        pids = self.by_job.pop(job_id, set()) & _children()  # still ours: not reaped, so not reused
        if pids:
            from poolscope.core.processes import kill_process_tree  # psutil, only when needed

            for pid in pids:
                kill_process_tree(pid)
            _reap(pids)
        self.seen -= pids


def _reap(pids: set[int], timeout: float = 0.1) -> None:
    """Collect the exit status of children just killed (no zombie left), waiting at most ``timeout``."""
    deadline = time.monotonic() + timeout
    left = set(pids)
    while left:
        for pid in list(left):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    left.discard(pid)
            except ChildProcessError:  # reaped already (the task's Popen, say)
                left.discard(pid)
        if left:
            if time.monotonic() > deadline:
                return
            time.sleep(0.002)


def _children() -> set[int]:
    """The pids of this process's children (every thread's), from /proc; empty where there is none."""
    pids: set[int] = set()
    try:
        threads = os.listdir("/proc/self/task")
    except OSError:
        return pids
    for tid in threads:
        try:
            with open(f"/proc/self/task/{tid}/children", "rb") as handle:
                pids.update(map(int, handle.read().split()))
        except OSError:
            continue
    return pids


def exit_with_process_group(*_: object) -> None:
    """End this worker and every process its tasks started (they share its process group)."""
    try:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    finally:
        os._exit(1)


def die_with_parent(parent_pid: int | None) -> None:
    """Make this worker (and its tasks' children) go when the engine does, with no Python code
    of ours needing to run here then: a task may hold the interpreter in one long C call.

    The worker leads its own process group, so one ``killpg`` reaches every process a task
    started. If the engine's process goes, the kernel kills this worker (``PR_SET_PDEATHSIG``
    with SIGKILL, on Linux), and the backend's lifeline process (core/processes.py ``Lifeline``)
    kills its group. While the engine lives, it kills the group whenever this worker is gone
    (core/backends/processes.py). The reader thread ends the group too when the pipe closes.
    SIGTERM keeps its default action, so a worker terminated from outside is reported as such.

    ``parent_pid`` is the engine's pid when the engine started this process itself (spawn); None
    when another process did (forkserver: that server, which ends with the engine's process).
    """
    if parent_pid is None:
        parent_pid = os.getppid()
    os.setpgrp()
    set_parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        exit_with_process_group()


def set_parent_death_signal() -> None:
    """Have the kernel SIGKILL this process when its parent goes (``PR_SET_PDEATHSIG``; Linux only)."""
    if sys.platform.startswith("linux"):
        import ctypes  # here: only this start-up step needs it

        try:
            # The process's own symbols include libc's prctl: no ctypes.util.find_library, which
            # imports subprocess and runs ldconfig (about 15 ms of every worker's start).
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
