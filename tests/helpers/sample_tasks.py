"""Tasks for the tests, imported by workers as a file target (tests/helpers/sample_tasks.py:fn)."""

from __future__ import annotations

import os
import threading
import time

from poolscope import Cancelled, cancel_requested, progress


def square(x: int) -> int:
    return x * x


def add(x: int, *, offset: int = 0) -> int:
    return x + offset


def fail_on(x: int, *, bad: int = 3) -> int:
    if x == bad:
        raise ValueError(f"input {x} is bad")
    return x


def spin(x: int, *, seconds: float = 0.2) -> int:
    """Busy for ``seconds``, reporting progress (so it stops when cancelled)."""
    end = time.monotonic() + seconds
    steps = 0
    while time.monotonic() < end:
        steps += 1
        progress(steps)
    return x


def spin_ignoring_cancel(x: int, *, seconds: float = 30.0) -> int:
    """Busy for ``seconds`` and never looks at cancellation: only terminate stops it."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return x


def wait_for_cancel(x: int, *, seconds: float = 30.0) -> str:
    """Returns 'noticed' as soon as cancel_requested() says so."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cancel_requested():
            return "noticed"
        time.sleep(0.005)
    return "timed out"


def progress_until_cancelled(x: int, *, seconds: float = 30.0) -> int:
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            progress(0.5, 1)
            time.sleep(0.001)
    except Cancelled:
        raise
    return x


def pid_of_worker(x: int, *, seconds: float = 0.0) -> int:
    time.sleep(seconds)
    return os.getpid()


def exit_hard(x: int, *, code: int = 3) -> int:
    os._exit(code)


def crash_on(x: int, *, bad: int = 2) -> int:
    if x == bad:
        os._exit(7)
    return x


def unpicklable_result(x: int) -> object:
    return threading.Lock()


NOT_CALLABLE = 42
