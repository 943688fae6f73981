"""Drop-in pools on poolscope's engine: :class:`Pool` (``multiprocessing.pool.Pool``) and
:class:`ProcessPoolExecutor` (``concurrent.futures.ProcessPoolExecutor``).

Imported lazily: a worker process imports ``poolscope.pools._calls`` (what it runs for them) and
never the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "InitializerFailed",
    "JobCancelled",
    "PicklingFailed",
    "Pool",
    "ProcessPoolExecutor",
    "TaskFailed",
    "WorkerLost",
    "WorkerStartFailed",
]

if TYPE_CHECKING:
    from poolscope.pools.errors import (
        InitializerFailed,
        JobCancelled,
        PicklingFailed,
        TaskFailed,
        WorkerLost,
        WorkerStartFailed,
    )
    from poolscope.pools.executor import ProcessPoolExecutor
    from poolscope.pools.mp_pool import Pool

_LAZY = {
    "Pool": "poolscope.pools.mp_pool",
    "ProcessPoolExecutor": "poolscope.pools.executor",
    **{name: "poolscope.pools.errors" for name in __all__ if name not in ("Pool", "ProcessPoolExecutor")},
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'poolscope.pools' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
