"""Built-in task ``sha256``: iterate SHA-256 many times over a seed (a proof-of-work-like chain)."""

from __future__ import annotations

from hashlib import sha256

from poolscope.api import progress

#: How many times each task hashes unless the job says otherwise.
DEFAULT_ROUNDS = 200_000

# Rounds per progress report (a few ms of work).
_REPORT_EVERY = 4096


def seed_bytes(seed: int) -> bytes:
    """The bytes the chain starts from: the decimal text of ``seed`` in ASCII."""
    return str(seed).encode("ascii")


def iterate_sha256(seed: int, *, rounds: int = DEFAULT_ROUNDS) -> str:
    """Hash ``seed_bytes(seed)`` with SHA-256, then each digest again: ``rounds`` hashes in all.

    Returns the final digest as hex (with ``rounds == 0``, the hex of the seed bytes themselves).
    The inputs are small, so hashlib holds the GIL: CPU-bound like pure Python.
    """
    if rounds < 0:
        raise ValueError(f"rounds must be non-negative, got {rounds}")
    data = seed_bytes(seed)
    done = 0
    while done < rounds:
        progress(done, rounds)
        n = min(_REPORT_EVERY, rounds - done)
        for _ in range(n):
            data = sha256(data).digest()
        done += n
    progress(rounds, rounds)
    return data.hex()
