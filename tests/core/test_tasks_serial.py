"""The built-in tasks, called directly in this process (no pool, no Qt).

Each task's result is checked against an independent serial computation for small inputs; the
registry's targets must resolve; and a task must stop with ``Cancelled`` once its context says
the job is cancelled, as it would in a worker.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import pickle
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import poolscope.tasks
from poolscope.api import Cancelled, cancel_requested, set_task_context
from poolscope.tasks import BUILTIN_TASKS, BuiltinTask, builtin_task
from poolscope.tasks.collatz import longest_collatz
from poolscope.tasks.mandelbrot import X_MAX, X_MIN, Y_MAX, Y_MIN, mandelbrot_row
from poolscope.tasks.noop import noop
from poolscope.tasks.pi import monte_carlo_pi
from poolscope.tasks.primes import count_primes
from poolscope.tasks.sha256 import iterate_sha256
from poolscope.tasks.sleep import sleep_task


def resolve(target: str) -> Callable[..., Any]:
    """Import ``module`` and get ``function`` from a ``"module:function"`` target."""
    module_name, _, function_name = target.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


class CancelledContext:
    """A task context for a cancelled job: mirrors the real worker, whose progress raises."""

    def __init__(self) -> None:
        self.reports = 0

    def report_progress(self, done: float, total: float | None) -> None:
        self.reports += 1
        raise Cancelled()

    def cancel_requested(self) -> bool:
        return True


class RecordingContext:
    """A task context for a live job that records every progress report."""

    def __init__(self) -> None:
        self.reports: list[tuple[float, float | None]] = []

    def report_progress(self, done: float, total: float | None) -> None:
        self.reports.append((done, total))

    def cancel_requested(self) -> bool:
        return False


# Small keyword arguments for each built-in, so every test here runs in milliseconds.
SMALL_KWARGS: dict[str, dict[str, Any]] = {
    "primes": {"size": 2_000},
    "pi": {"samples": 20_000},
    "mandelbrot": {"width": 40, "height": 20, "max_iter": 50},
    "sha256": {"rounds": 5_000},
    "collatz": {"size": 1_000},
    "sleep": {"seconds": 0.05},
    "noop": {},
}


# --- independent serial computations ---------------------------------------------------------


def sieve(limit: int) -> list[bool]:
    """``is_prime[n]`` for ``0 <= n < limit``, by the sieve of Eratosthenes."""
    is_prime = [True] * limit
    is_prime[0:2] = [False] * min(2, limit)
    for p in range(2, int(limit**0.5) + 1):
        if is_prime[p]:
            is_prime[p * p :: p] = [False] * len(range(p * p, limit, p))
    return is_prime


def collatz_length(n: int, cache: dict[int, int]) -> int:
    """Steps from ``n`` to 1, memoised (a different method from the task's plain walk)."""
    path = []
    while n not in cache:
        path.append(n)
        n = n // 2 if n % 2 == 0 else 3 * n + 1
    steps = cache[n]
    for m in reversed(path):
        steps += 1
        cache[m] = steps
    return steps


def mandelbrot_row_reference(row: int, width: int, height: int, max_iter: int) -> int:
    """The same row with Python complex numbers, one pixel at a time."""
    total = 0
    im = Y_MIN + (Y_MAX - Y_MIN) * row / height
    for col in range(width):
        c = complex(X_MIN + (X_MAX - X_MIN) * col / width, im)
        z = 0j
        count = 0
        for _ in range(max_iter):
            if z.real * z.real + z.imag * z.imag > 4.0:
                break
            z = z * z + c
            count += 1
        total += count
    return total


# --- results ---------------------------------------------------------------------------------


def test_count_primes_matches_sieve() -> None:
    size = 1_000
    is_prime = sieve(30 * size)
    for block in range(30):
        expected = sum(is_prime[block * size : (block + 1) * size])
        assert count_primes(block, size=size) == expected, block


def test_count_primes_known_values() -> None:
    assert count_primes(0, size=10) == 4  # 2, 3, 5, 7
    assert count_primes(0, size=100) == 25
    assert count_primes(0, size=1) == 0
    assert count_primes(1, size=1) == 0  # 1 is not prime
    assert count_primes(2, size=1) == 1


def test_monte_carlo_pi_matches_reimplementation() -> None:
    samples = 5_000
    for seed in (0, 1, 42, 12345):
        rng = random.Random(seed)
        expected = 0
        for _ in range(samples):
            x, y = rng.random(), rng.random()
            expected += x * x + y * y <= 1.0
        assert monte_carlo_pi(seed, samples=samples) == expected, seed


def test_monte_carlo_pi_is_deterministic_and_estimates_pi() -> None:
    samples = 40_000  # not a multiple of the report interval, to exercise the last partial step
    hits = [monte_carlo_pi(seed, samples=samples) for seed in range(5)]
    assert hits == [monte_carlo_pi(seed, samples=samples) for seed in range(5)]
    estimate = 4 * sum(hits) / (5 * samples)
    assert abs(estimate - 3.14159) < 0.05
    assert monte_carlo_pi(3, samples=0) == 0


@pytest.mark.parametrize("row", [0, 5, 9, 10, 11, 19])
def test_mandelbrot_row_matches_complex_reference(row: int) -> None:
    width, height, max_iter = 60, 20, 80
    assert mandelbrot_row(row, width=width, height=height, max_iter=max_iter) == (
        mandelbrot_row_reference(row, width, height, max_iter)
    )


def test_mandelbrot_row_bounds() -> None:
    # The middle row runs along the real axis, through the set: some pixels never escape.
    assert mandelbrot_row(10, width=20, height=20, max_iter=30) > 0
    assert mandelbrot_row(10, width=20, height=20, max_iter=0) == 0
    with pytest.raises(ValueError):
        mandelbrot_row(20, width=20, height=20)


def test_iterate_sha256_matches_hashlib() -> None:
    for seed in (0, 7, 123456789):
        data = str(seed).encode("ascii")
        for _ in range(5_000):
            data = hashlib.sha256(data).digest()
        assert iterate_sha256(seed, rounds=5_000) == data.hex()
    assert iterate_sha256(7, rounds=1) == hashlib.sha256(b"7").hexdigest()
    assert iterate_sha256(7, rounds=0) == b"7".hex()


def test_longest_collatz_matches_brute_force() -> None:
    size = 500
    cache = {1: 0}
    for block in range(6):
        starts = range(max(1, block * size), (block + 1) * size)
        # max() keeps the first of equal keys, so ties go to the smallest start.
        best = max(starts, key=lambda n: collatz_length(n, cache))
        assert longest_collatz(block, size=size) == (best, collatz_length(best, cache)), block


def test_longest_collatz_known_values() -> None:
    assert tuple(longest_collatz(0, size=10)) == (9, 19)
    assert tuple(longest_collatz(0, size=100)) == (97, 118)
    assert tuple(longest_collatz(0, size=1_000)) == (871, 178)
    assert tuple(longest_collatz(0, size=1)) == (0, 0)  # the block [0, 1) holds no start


def test_sleep_task_returns_input_after_sleeping() -> None:
    start = time.monotonic()
    assert sleep_task("x", seconds=0.05) == "x"
    assert time.monotonic() - start >= 0.05
    assert sleep_task(3, seconds=0) == 3


def test_noop_is_identity() -> None:
    sentinel = object()
    assert noop(sentinel) is sentinel
    assert noop(5) == 5


# --- the registry ----------------------------------------------------------------------------


def test_registry_shape() -> None:
    expected = ["primes", "pi", "mandelbrot", "sha256", "collatz", "sleep", "noop"]
    assert list(BUILTIN_TASKS) == expected
    for name, task in BUILTIN_TASKS.items():
        assert isinstance(task, BuiltinTask)
        assert task.name == name
        assert builtin_task(name) is task
        assert task.description and "\n" not in task.description
        assert isinstance(task.default_kwargs, dict)
    assert builtin_task("no-such-task") is None


@pytest.mark.parametrize("name", list(BUILTIN_TASKS))
def test_registry_target_resolves(name: str) -> None:
    task = BUILTIN_TASKS[name]
    module_name, sep, function_name = task.target.partition(":")
    assert sep == ":" and module_name.startswith("poolscope.tasks.") and function_name
    function = resolve(task.target)
    assert callable(function)
    assert function.__doc__
    assert function.__module__ == module_name  # top-level in its module, so picklable by name
    assert getattr(importlib.import_module(module_name), function_name) is function


@pytest.mark.parametrize("name", list(BUILTIN_TASKS))
def test_registry_defaults(name: str) -> None:
    task = BUILTIN_TASKS[name]
    assert task.default_inputs.startswith(("range:", "json:"))
    parameters = inspect.signature(resolve(task.target)).parameters
    for key, value in task.default_kwargs.items():
        assert key in parameters, key
        assert parameters[key].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[key].default == value, key  # the registry shows the real defaults


def test_registry_imports_nothing_heavy() -> None:
    tree = ast.parse(Path(poolscope.tasks.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= {"__future__", "dataclasses"}, imported


@pytest.mark.parametrize("name", list(BUILTIN_TASKS))
def test_results_pickle(name: str) -> None:
    task = BUILTIN_TASKS[name]
    result = resolve(task.target)(1, **SMALL_KWARGS[name])
    assert pickle.loads(pickle.dumps(result)) == result


# --- progress and cancellation ---------------------------------------------------------------

CANCELLABLE = [name for name in BUILTIN_TASKS if name != "noop"]


@pytest.mark.parametrize("name", CANCELLABLE)
def test_task_reports_progress_up_to_total(name: str) -> None:
    context = RecordingContext()
    set_task_context(context)
    try:
        resolve(BUILTIN_TASKS[name].target)(1, **SMALL_KWARGS[name])
    finally:
        set_task_context(None)
    assert context.reports
    dones = [done for done, _ in context.reports]
    assert dones == sorted(dones)
    done, total = context.reports[-1]
    assert total is not None and done == total


@pytest.mark.parametrize("name", CANCELLABLE)
def test_task_raises_cancelled_when_job_cancelled(name: str) -> None:
    context = CancelledContext()
    set_task_context(context)
    try:
        assert cancel_requested()
        with pytest.raises(Cancelled):
            resolve(BUILTIN_TASKS[name].target)(1, **BUILTIN_TASKS[name].default_kwargs)
    finally:
        set_task_context(None)
    # It stopped at its first progress report, not after doing the work.
    assert context.reports == 1
    assert not cancel_requested()
