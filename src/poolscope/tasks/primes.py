"""Built-in task ``primes``: count primes in a block of integers by pure-Python trial division."""

from __future__ import annotations

from poolscope.api import progress

#: How many integers each block covers unless the job says otherwise.
DEFAULT_SIZE = 20_000

# Report progress once per this many candidates: often enough for a smooth bar and a prompt
# cancel (a few ms), rarely enough that reporting costs nothing measurable.
_REPORT_EVERY = 512


def _is_prime(n: int) -> bool:
    """Whether ``n`` is prime, by trial division with the divisors 2, 3 and 6k +/- 1."""
    if n < 2:
        return False
    if n < 4:
        return True
    if n % 2 == 0 or n % 3 == 0:
        return False
    d = 5
    while d * d <= n:
        if n % d == 0 or n % (d + 2) == 0:
            return False
        d += 6
    return True


def count_primes(block: int, *, size: int = DEFAULT_SIZE) -> int:
    """Count the primes in ``[block * size, (block + 1) * size)`` by trial division.

    Pure Python, so genuinely CPU-bound in the interpreter; later blocks cost more (larger
    numbers need more trial divisors). Reports progress every few hundred candidates, so it
    stops with :class:`poolscope.api.Cancelled` soon after its job is cancelled.
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    start = block * size
    count = 0
    for i in range(size):
        if i % _REPORT_EVERY == 0:
            progress(i, size)
        if _is_prime(start + i):
            count += 1
    progress(size, size)
    return count
