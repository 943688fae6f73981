"""Tasks for the process lifecycle tests: processes left running, long C calls.

A task leaves a ``sleep 30`` running, either as its worker's child or detached: started by a
shell that exits at once, so it is nobody's child here but still in the worker's process group.
"""

from __future__ import annotations

import os
import subprocess
import time


def _write_pids(path: str, pids: list[int]) -> None:
    with open(path + ".tmp", "w") as handle:
        handle.write(" ".join(str(pid) for pid in pids))
    os.replace(path + ".tmp", path)


def _start_sleep(detached: bool) -> int:
    if not detached:
        return subprocess.Popen(["sleep", "30"]).pid
    shell = subprocess.run(["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True,
                           check=True)
    return int(shell.stdout)


def leave_a_child(path: str, *, detached: bool = False) -> int:
    """Start ``sleep 30`` and return at once, leaving it running; its pid goes to ``path``."""
    pid = _start_sleep(detached)
    _write_pids(path, [pid])
    return pid


def leave_a_child_then_wait(path: str, *, seconds: float = 60.0, detached: bool = False) -> int:
    """Start ``sleep 30``, write this worker's pid and the sleep's to ``path``, then wait."""
    pid = _start_sleep(detached)
    _write_pids(path, [os.getpid(), pid])
    time.sleep(seconds)
    return pid


def leave_a_child_then_long_c_call(path: str) -> int:
    """Start ``sleep 30``, write this worker's pid and the child's to ``path``, then hold the
    interpreter in one long C call (no Python code runs in this process until it returns)."""
    child = subprocess.Popen(["sleep", "30"])
    _write_pids(path, [os.getpid(), child.pid])
    return sum(range(3 * 10**9))


def leave_a_child_then_exit(path: str, *, code: int = 3, detached: bool = False) -> int:
    """Start ``sleep 30``, write its pid to ``path``, then end this worker with ``os._exit``."""
    _write_pids(path, [_start_sleep(detached)])
    os._exit(code)


def pid_then_wait(path: str, *, seconds: float = 60.0) -> int:
    """Write this worker's pid to ``path`` and wait."""
    _write_pids(path, [os.getpid()])
    time.sleep(seconds)
    return 0
