"""Built-in task ``sleep``: wait without using the CPU, like an I/O-bound task (for comparison)."""

from __future__ import annotations

import time
from typing import TypeVar

from poolscope.api import progress

T = TypeVar("T")

#: How long each task sleeps unless the job says otherwise.
DEFAULT_SECONDS = 0.1

# Longest single sleep, so progress is reported and cancel noticed at least this often.
_STEP = 0.01


def sleep_task(x: T, *, seconds: float = DEFAULT_SECONDS) -> T:
    """Sleep ``seconds`` in steps of at most 10 ms, reporting progress after each; return ``x``."""
    if seconds < 0:
        raise ValueError(f"seconds must be non-negative, got {seconds}")
    start = time.monotonic()
    deadline = start + seconds
    while True:
        now = time.monotonic()
        progress(min(now - start, seconds), seconds)
        remaining = deadline - now
        if remaining <= 0:
            break
        time.sleep(min(_STEP, remaining))
    return x
