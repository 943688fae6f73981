"""Tasks for bench_gui_latency.py (a file target, so the bench needs nothing installed)."""

from __future__ import annotations

import time

from poolscope.api import progress


def nothing(x: int) -> None:
    """The tiniest task: the pool's dispatch and event path at full rate (returns None, so
    the engine's results list holds one shared object)."""
    return None


def spin_with_progress(x: int, *, seconds: float = 0.05) -> int:
    """Burn CPU for ``seconds``, calling ``progress()`` in a tight loop (a progress flood)."""
    start = time.perf_counter()
    calls = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        progress(elapsed, seconds)
        calls += 1
    return calls
