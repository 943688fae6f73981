"""Tasks that say when they ran, for tests that measure who got the workers' time (a file target)."""

from __future__ import annotations

import time


def timed_sleep(x: int, *, seconds: float = 0.1) -> tuple[float, float]:
    """Hold the worker for ``seconds`` without using the CPU; return (start, end) on time.monotonic()."""
    start = time.monotonic()
    time.sleep(seconds)
    return start, time.monotonic()


def timed_spin(x: int, *, seconds: float = 0.1) -> tuple[float, float]:
    """Keep one core busy for ``seconds``; return (start, end) on time.monotonic()."""
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        pass
    return start, time.monotonic()


def fail_every(x: int, *, every: int = 6) -> int:
    """Raise for every ``every``-th input (x % every == every - 1); return x otherwise."""
    if x % every == every - 1:
        raise ValueError(f"input {x} fails on purpose")
    return x
