"""Where a job's tasks run: local processes (default), local threads, or a Dask cluster.

Every backend is a set of *worker slots*. A slot is anything that speaks the worker protocol
(core/worker.py) over a duplex pipe with the engine: a process running the worker loop, a thread
running the same loop, or a thread that forwards chunks to a Dask cluster. So the engine's
scheduling, fairness, result keeping, cancel and events are the same for all three; a backend only
says how to start a slot, how many to keep, and whether a slot can be killed.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

PROCESSES = "processes"
THREADS = "threads"
DASK = "dask"
DASK_INSTALL_HINT = "Dask is not installed: pip install 'poolscope[dask]'"


@dataclass(frozen=True)
class BackendInfo:
    """What the rest of poolscope knows of a backend: how a person chooses it, and what its
    workers are. The window and the CLI read these instead of testing backend names."""

    name: str  # as a JobSpec and the CLI's --backend say it
    label: str  # the launch panel's choice
    description: str  # what it is for, in a sentence (the launch panel)
    workers_are: str  # what its workers are, in a phrase (tooltips)
    nouns: tuple[str, str]  # one worker, several: how a count of them reads
    slot_noun: str  # how the workers table names one slot ("slot 2", "thread 2")
    can_kill: bool  # Terminate kills a slot that runs the job's tasks; else the job is cancelled instead
    remote: bool  # its workers run elsewhere: the slots here only forward, and it describes its workers
    sampled_as: str | None  # how this machine measures a slot: as a "process", a "thread", or not (remote)
    takes_scheduler: bool  # runs on a scheduler at an address the user gives
    takes_initializer: bool  # can call an initializer in each worker before the job's first task
    requires: str | None = None  # the package it needs beyond poolscope's own
    install_hint: str = ""  # what to do when that package is missing

    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


#: Every backend, in the order they are offered (the first is the default).
REGISTRY: dict[str, BackendInfo] = {info.name: info for info in (
    BackendInfo(PROCESSES, "Processes (this machine)",
                "Worker processes on this machine, one per core: CPU-bound work.",
                "worker processes on this machine", ("process", "processes"), "slot",
                can_kill=True, remote=False, sampled_as="process", takes_scheduler=False, takes_initializer=True),
    BackendInfo(THREADS, "Threads (I/O-bound work)",
                "Threads of this process: for I/O-bound work. They share one GIL, so CPU-bound tasks use about "
                "one core, and they cannot be killed (Terminate cancels).",
                "threads of this process (one GIL: CPU-bound tasks share about one core)", ("thread", "threads"),
                "thread", can_kill=False, remote=False, sampled_as="thread", takes_scheduler=False,
                takes_initializer=True),
    BackendInfo(DASK, "Dask cluster",
                "Chunks run on the Dask cluster at the scheduler address; leave it empty to start a local cluster.",
                "the Dask cluster", ("Dask", "Dask"), "slot", can_kill=False, remote=True, sampled_as=None,
                takes_scheduler=True, takes_initializer=False, requires="distributed",
                install_hint=DASK_INSTALL_HINT),
)}
BACKENDS = tuple(REGISTRY)


def backend_info(name: str) -> BackendInfo:
    """The registry's entry for ``name``; KeyError for a name it does not have."""
    return REGISTRY[name]


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
