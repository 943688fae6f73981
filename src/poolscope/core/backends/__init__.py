"""Where a job's tasks run: local processes (default), local threads, or a Dask cluster.

Every backend is a set of *worker slots*. A slot is anything that speaks the worker protocol
(core/worker.py) over a duplex pipe with the engine: a process running the worker loop, a thread
running the same loop, or a thread that forwards chunks to a Dask cluster. So the engine's
scheduling, fairness, result keeping, cancel and events are the same for all three; a backend only
says how to start a slot, how many to keep, and whether a slot can be killed.
"""

from __future__ import annotations

import importlib.util
from multiprocessing.connection import Connection
from typing import Any, Protocol

PROCESSES = "processes"
THREADS = "threads"
DASK = "dask"
BACKENDS = (PROCESSES, THREADS, DASK)
DASK_INSTALL_HINT = "Dask is not installed: pip install 'poolscope[dask]'"


class WorkerHandle(Protocol):
    """The engine's handle on one running slot."""

    pid: int  # a process id, or the native id of the slot's thread
    sentinel: Any | None  # waitable by multiprocessing.connection.wait when it ends, or None
    can_kill: bool  # terminate kills it (processes) or asks it to stop its job (threads, Dask)

    def is_alive(self) -> bool: ...

    def join(self, timeout: float | None = None) -> None: ...

    @property
    def exitcode(self) -> int | None: ...

    def kill(self) -> None: ...


class Backend(Protocol):
    """How to start the slots of one backend, and how many to keep."""

    name: str

    def slot_count(self) -> int: ...

    def start_worker(self, slot: int) -> tuple[Connection, WorkerHandle]: ...

    def describe_workers(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


def dask_available() -> bool:
    return importlib.util.find_spec("distributed") is not None
