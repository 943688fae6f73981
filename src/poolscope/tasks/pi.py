"""Built-in task ``pi``: Monte Carlo estimate of pi, one seeded batch of samples per task."""

from __future__ import annotations

import random

from poolscope.api import progress

#: How many points each task throws unless the job says otherwise.
DEFAULT_SAMPLES = 1_000_000

# Points per progress report (a few ms of work).
_REPORT_EVERY = 16_384


def monte_carlo_pi(seed: int, *, samples: int = DEFAULT_SAMPLES) -> int:
    """Throw ``samples`` random points into the unit square; return how many land within radius 1.

    Uses ``random.Random(seed)``, so the result is deterministic for a given seed. Summing the
    hits of a job's tasks and dividing by the total number of samples estimates pi / 4.
    """
    if samples < 0:
        raise ValueError(f"samples must be non-negative, got {samples}")
    rnd = random.Random(seed).random
    hits = 0
    done = 0
    while done < samples:
        progress(done, samples)
        n = min(_REPORT_EVERY, samples - done)
        for _ in range(n):
            x = rnd()
            y = rnd()
            if x * x + y * y <= 1.0:
                hits += 1
        done += n
    progress(samples, samples)
    return hits
