"""The registry of built-in tasks: what ``poolscope tasks`` lists and the GUI offers.

Each entry names its function as ``"module:function"``; the module is imported only when the
target is resolved (in a worker, or by the engine when it checks a job), so importing this
registry costs nothing: no numpy, no task code.

The default inputs and keyword arguments of each CPU-bound task make a job of roughly 5 to 20 s
of CPU in all, split into 100 to 300 tasks of tens to a hundred-odd ms each (measured on a
2-core machine with Python 3.11; ``tests/core/test_tasks_serial.py`` checks the results).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuiltinTask:
    """One built-in task: its function and the job the GUI and CLI suggest for it."""

    name: str  # e.g. "primes": the key in BUILTIN_TASKS and the name the CLI accepts
    target: str  # "poolscope.tasks.primes:count_primes" (module:function)
    description: str  # one line, shown by `poolscope tasks` and in the GUI list
    default_inputs: str  # an input spec: "range:STOP", "range:START:STOP[:STEP]" or "json:[...]"
    default_kwargs: dict  # keyword args passed to every task; shared, so copy before changing


_TASKS = (
    BuiltinTask(
        name="primes",
        target="poolscope.tasks.primes:count_primes",
        description="Count primes in blocks of 20,000 integers by pure-Python trial division",
        default_inputs="range:0:200",
        default_kwargs={"size": 20_000},
    ),
    BuiltinTask(
        name="pi",
        target="poolscope.tasks.pi:monte_carlo_pi",
        description="Monte Carlo pi: quarter-circle hits among 1,000,000 seeded random points",
        default_inputs="range:0:100",
        default_kwargs={"samples": 1_000_000},
    ),
    BuiltinTask(
        name="mandelbrot",
        target="poolscope.tasks.mandelbrot:mandelbrot_row",
        description="Sum of Mandelbrot escape counts of one image row (1200x300, 1000 iterations)",
        default_inputs="range:0:300",
        default_kwargs={"width": 1200, "height": 300, "max_iter": 1000},
    ),
    BuiltinTask(
        name="sha256",
        target="poolscope.tasks.sha256:iterate_sha256",
        description="Hash a seed with SHA-256 200,000 times over; returns the final hex digest",
        default_inputs="range:0:100",
        default_kwargs={"rounds": 200_000},
    ),
    BuiltinTask(
        name="collatz",
        target="poolscope.tasks.collatz:longest_collatz",
        description="Longest Collatz chain (start, steps) in blocks of 10,000 starting values",
        default_inputs="range:0:150",
        default_kwargs={"size": 10_000},
    ),
    BuiltinTask(
        name="sleep",
        target="poolscope.tasks.sleep:sleep_task",
        description="Sleep 0.1 s per task without using the CPU, like I/O-bound work (to compare)",
        default_inputs="range:0:100",
        default_kwargs={"seconds": 0.1},
    ),
    BuiltinTask(
        name="noop",
        target="poolscope.tasks.noop:noop",
        description="Return the input unchanged: measures the pool's dispatch overhead alone",
        default_inputs="range:0:100000",
        default_kwargs={},
    ),
)

#: The built-in tasks, keyed by name, in the order the CLI and GUI list them.
BUILTIN_TASKS: dict[str, BuiltinTask] = {task.name: task for task in _TASKS}


def builtin_task(name: str) -> BuiltinTask | None:
    """The built-in task called ``name``, or ``None`` if there is none."""
    return BUILTIN_TASKS.get(name)


__all__ = ["BUILTIN_TASKS", "BuiltinTask", "builtin_task"]
