"""Tasks for the process lifecycle tests: children left running, long C calls, big results."""

from __future__ import annotations

import os
import subprocess
import time


def _write_pids(path: str, pids: list[int]) -> None:
    with open(path + ".tmp", "w") as handle:
        handle.write(" ".join(str(pid) for pid in pids))
    os.replace(path + ".tmp", path)


def leave_a_child(path: str) -> int:
    """Start ``sleep 30`` and return at once, leaving it running; its pid goes to ``path``."""
    child = subprocess.Popen(["sleep", "30"])
    _write_pids(path, [child.pid])
    return child.pid


def leave_a_child_then_wait(path: str, *, seconds: float = 60.0) -> int:
    """Start ``sleep 30``, write this worker's pid and the child's to ``path``, then wait."""
    child = subprocess.Popen(["sleep", "30"])
    _write_pids(path, [os.getpid(), child.pid])
    time.sleep(seconds)
    return child.pid


def leave_a_child_then_long_c_call(path: str) -> int:
    """Start ``sleep 30``, write this worker's pid and the child's to ``path``, then hold the
    interpreter in one long C call (no Python code runs in this process until it returns)."""
    child = subprocess.Popen(["sleep", "30"])
    _write_pids(path, [os.getpid(), child.pid])
    return sum(range(3 * 10**9))


def pid_then_wait(path: str, *, seconds: float = 60.0) -> int:
    """Write this worker's pid to ``path`` and wait."""
    _write_pids(path, [os.getpid()])
    time.sleep(seconds)
    return 0


def leave_a_child_then_exit(path: str, *, code: int = 3) -> int:
    """Start ``sleep 30``, write its pid to ``path``, then end this worker with ``os._exit``."""
    child = subprocess.Popen(["sleep", "30"])
    _write_pids(path, [child.pid])
    os._exit(code)
