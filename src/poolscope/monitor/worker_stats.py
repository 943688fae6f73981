"""WorkerStats: the one record of a worker's figures (CPU, memory, load), and the conversions that
make it from each backend's reading: a process sample, thread CPU times, a Dask scheduler's report.

Whatever measured a worker, its figures reach its :class:`~poolscope.monitor.views.WorkerView`
as WorkerStats, through :meth:`WorkerView.take`; nothing else writes them. A field left None was
not measured by that backend, and the view keeps what it had.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from poolscope.core.backends import REGISTRY

if TYPE_CHECKING:
    from poolscope.core.telemetry import ProcessStats

__all__ = ["WorkerStats", "cluster_stats", "process_stats", "thread_stats"]


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """One reading of one worker's figures; None: not measured by this reading (keep the old value)."""

    key: int | str  # the WorkerView's key: a local slot's pid (a thread's native id), a Dask worker's address
    cpu_percent: float | None = None  # of one core, over about the last second
    rss: int | None = None  # bytes (a local process: with its children)
    # -- what a remote scheduler also knows of its worker ----------------------------------------
    pid: int | None = None
    host: str | None = None
    name: str | None = None
    nthreads: int | None = None
    executing: int | None = None  # tasks (poolscope chunks) running on it now
    queued: int | None = None  # tasks waiting on it
    memory_limit: int | None = None  # bytes, 0 when none
    backend: str | None = None  # the remote backend that described it (None: a local slot's reading)

    #: The fields a reading carries into the view (all but ``key``), same names as WorkerView's.
    FIGURES: ClassVar[tuple[str, ...]] = ("cpu_percent", "rss", "pid", "host", "name", "nthreads", "executing",
                                          "queued", "memory_limit")


def process_stats(processes: Mapping[int, ProcessStats]) -> list[WorkerStats]:
    """Worker processes, from a telemetry sample's ``processes`` (pid -> CPU % and RSS with children)."""
    return [WorkerStats(pid, cpu_percent=stats.cpu_percent, rss=stats.rss) for pid, stats in processes.items()]


def thread_stats(cpu: Mapping[int, float]) -> list[WorkerStats]:
    """Thread slots, from their own CPU % by native thread id (their memory is the process's: not shown)."""
    return [WorkerStats(tid, cpu_percent=percent) for tid, percent in cpu.items()]


def cluster_stats(described: Mapping[str, Iterable[Mapping[str, Any]]]) -> list[WorkerStats]:
    """Remote workers (a Dask cluster's), from ``Engine.backend_workers()`` (the scheduler's
    per-worker metrics as dicts).

    Every field the scheduler may leave out is given its empty value, so a worker's row shows what
    this reading says; a worker without an address is skipped.
    """
    stats: list[WorkerStats] = []
    infos = ((name, info) for name, infos in described.items() if name in REGISTRY and REGISTRY[name].remote
             for info in infos)
    for backend, info in infos:
        address = str(info.get("address") or "")
        if not address:
            continue
        pid = info.get("pid")
        stats.append(WorkerStats(
            address,
            cpu_percent=float(info.get("cpu_percent") or 0.0),
            rss=int(info.get("memory_bytes") or 0),
            pid=pid if isinstance(pid, int) else None,
            host=str(info.get("host") or ""),
            name=str(info.get("name") or ""),
            nthreads=int(info.get("nthreads") or 0),
            executing=int(info.get("executing") or 0),
            queued=int(info.get("ready") or 0),
            memory_limit=int(info.get("memory_limit") or 0),
            backend=backend,
        ))
    return stats
