"""Built-in task ``collatz``: the longest Collatz chain starting in a block of integers."""

from __future__ import annotations

from poolscope.api import progress

#: How many starting values each block covers unless the job says otherwise.
DEFAULT_SIZE = 10_000

# Starting values per progress report.
_REPORT_EVERY = 256


def longest_collatz(block: int, *, size: int = DEFAULT_SIZE) -> tuple[int, int]:
    """Return ``(start, steps)`` of the longest Collatz chain from ``[block*size, (block+1)*size)``.

    Starting values below 1 are skipped; ties go to the smallest start. ``(0, 0)`` if the block
    holds no positive integer. No memoisation, so every chain is walked in pure Python.
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    lo = max(1, block * size)
    hi = (block + 1) * size
    best_start, best_steps = 0, -1
    for i, start in enumerate(range(lo, hi)):
        if i % _REPORT_EVERY == 0:
            progress(i, hi - lo)
        n = start
        steps = 0
        while n != 1:
            if n & 1:
                n = 3 * n + 1
            else:
                n >>= 1
            steps += 1
        if steps > best_steps:
            best_start, best_steps = start, steps
    progress(max(hi - lo, 0), max(hi - lo, 0))
    return (best_start, best_steps) if best_steps >= 0 else (0, 0)
