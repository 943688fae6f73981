"""poolscope: a process pool for CPU-bound Python work that you can watch, cancel and terminate.

The task-side API (``progress``, ``cancel_requested``, ``Cancelled``) is importable cheaply from
worker processes; the engine classes and the drop-in pools (``poolscope.Pool``,
``poolscope.ProcessPoolExecutor``) are imported on first use so that a worker does not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from poolscope.api import Cancelled, cancel_requested, progress

__version__ = "0.1.0"

__all__ = [
    "Cancelled",
    "Engine",
    "Job",
    "JobSpec",
    "JobState",
    "JobSummary",
    "Pool",
    "ProcessPoolExecutor",
    "SpecError",
    "cancel_requested",
    "progress",
]

if TYPE_CHECKING:
    from poolscope.core.engine import Engine, Job
    from poolscope.core.jobs import JobSpec, JobState, JobSummary, SpecError
    from poolscope.pools import Pool, ProcessPoolExecutor

_LAZY = {
    "Engine": "poolscope.core.engine",
    "Job": "poolscope.core.engine",
    "JobSpec": "poolscope.core.jobs",
    "JobState": "poolscope.core.jobs",
    "JobSummary": "poolscope.core.jobs",
    "SpecError": "poolscope.core.jobs",
    "Pool": "poolscope.pools.mp_pool",  # drop-in multiprocessing.Pool
    "ProcessPoolExecutor": "poolscope.pools.executor",  # drop-in concurrent.futures.ProcessPoolExecutor
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'poolscope' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
