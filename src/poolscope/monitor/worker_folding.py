"""The workers' side of the EventFolder (monitor/folder.py): each worker's view from its events
(started, what it runs, exited) and from its figures, whichever backend measured them
(WorkerStats), with the telemetry and cluster samples the graphs draw, and what of it changed.

Plain Python, used by one thread (the folder's).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from poolscope.core.backends import DASK, backend_info
from poolscope.core.events import WorkerActivity, WorkerExited, WorkerStarted
from poolscope.core.telemetry import TelemetrySample
from poolscope.monitor.log_text import EventContext, log_line
from poolscope.monitor.views import ClusterSample, JobView, LogEntry, WorkerView
from poolscope.monitor.worker_stats import WorkerStats, cluster_stats, process_stats, thread_stats

if TYPE_CHECKING:
    from poolscope.core.attach import ScriptSource

#: Telemetry samples one update carries at most (only reached if the GUI thread stalls for minutes).
MAX_SAMPLES_PER_UPDATE = 2400


class WorkerFolding:
    """Worker views and samples, and what of them changed: the EventFolder's base."""

    # The EventFolder's, read here: its jobs' views, the attached script whose batch is being
    # folded (None: the window's engine), the window's id of a job of that source, and its log.
    jobs: dict[int, JobView]
    _source: ScriptSource | None
    _wid: Callable[[int], int]
    _add_log: Callable[[LogEntry | None], None]

    def __init__(self) -> None:
        self.workers: dict[int, WorkerView] = {}  # pid -> view of a live local worker (process or thread)
        self.cluster_workers: dict[str, WorkerView] = {}  # address -> view of a Dask worker
        self._dask_slots: set[int] = set()  # native ids of the Dask forwarder threads (not shown)
        # What changed since the last hand-over (EventFolder.take_changes).
        self._dirty_workers: set[int] = set()
        self._dirty_cluster: set[str] = set()
        self._exited: dict[int | str, WorkerView] = {}
        self._samples: list[TelemetrySample] = []
        self._cluster_samples: list[ClusterSample] = []
        # (source key or 0, backend, slot) of slots that had a worker: a new one there is a replacement
        self._replaced_slots: set[tuple[int, str, int]] = set()

    # -- events ------------------------------------------------------------------------------------

    def _worker_activity(self, event: WorkerActivity) -> None:
        view = self.workers.get(event.pid)
        if view is None:  # a Dask forwarder slot (not shown), or a worker not announced yet
            return
        view.job_id = None if event.job_id is None else self._wid(event.job_id)
        view.index = event.index
        view.task_progress = event.task_progress
        view.tasks_done = event.tasks_done
        self._dirty_workers.add(event.pid)

    def _worker_started(self, event: WorkerStarted) -> None:
        if backend_info(event.backend).remote:  # a forwarder thread: plumbing, the remote workers are listed instead
            self._dask_slots.add(event.pid)
            return
        view = self.workers.get(event.pid)
        if view is None:
            view = WorkerView(pid=event.pid, slot=event.slot, backend=event.backend)
            if self._source is not None:
                view.source, view.source_key = self._source.label, self._source.key
            self.workers[event.pid] = view
        view.slot = event.slot
        self._dirty_workers.add(event.pid)
        replaced = (view.source_key or 0, view.backend, event.slot) in self._replaced_slots
        self._add_log(log_line(event, EventContext(replacement=replaced)))

    def _worker_exited(self, event: WorkerExited) -> None:
        if event.pid in self._dask_slots:
            self._dask_slots.discard(event.pid)
            self._add_log(log_line(event, EventContext(forwarder=True)))
            return
        view = self.workers.pop(event.pid, None) or WorkerView(pid=event.pid, slot=event.slot)
        view.alive = False
        self._dirty_workers.discard(event.pid)
        self._exited[event.pid] = dataclasses.replace(view)
        self._replaced_slots.add((view.source_key or 0, view.backend, event.slot))
        job = self.jobs.get(view.job_id) if view.job_id is not None else None
        worker_job = job.shown_id if job is not None else view.job_id  # as the log names it: its engine's id
        self._add_log(log_line(event, EventContext(worker_job=worker_job, worker_index=view.index)))

    def _drop_workers_of(self, source_key: int) -> None:
        """An attached script went away: its workers leave the table."""
        for pid, worker in list(self.workers.items()):
            if worker.source_key == source_key:
                del self.workers[pid]
                worker.alive = False
                self._dirty_workers.discard(pid)
                self._exited[pid] = dataclasses.replace(worker)

    # -- worker figures and telemetry ----------------------------------------------------------

    def fold_worker_stats(self, stats: Iterable[WorkerStats]) -> None:
        """Take readings of local workers' figures (by pid, or a thread slot's native id): the one
        route by which figures reach a local worker's view. Readings of unknown workers are dropped."""
        for reading in stats:
            view = self.workers.get(reading.key)  # type: ignore[arg-type]
            if view is not None and view.take(reading):
                self._dirty_workers.add(reading.key)  # type: ignore[arg-type]

    def fold_cluster(self, stats: Iterable[WorkerStats], t: float) -> None:
        """Take a full reading of a cluster's workers (keyed by address): their rows and a cluster
        sample. Workers missing from the reading leave the table."""
        seen: set[str] = set()
        cpu: dict[str, float] = {}
        labels: dict[str, str] = {}
        for reading in stats:
            address = str(reading.key)
            seen.add(address)
            view = self.cluster_workers.get(address)
            if view is None:
                view = self.cluster_workers[address] = WorkerView(pid=None, slot=None, backend=reading.backend or DASK,
                                                                      address=address)
            view.take(reading)
            self._dirty_cluster.add(address)
            cpu[address] = view.cpu_percent or 0.0
            labels[address] = address.split("://", 1)[-1]
        for address in list(self.cluster_workers):
            if address not in seen:
                view = self.cluster_workers.pop(address)
                view.alive = False
                self._dirty_cluster.discard(address)
                self._exited[address] = dataclasses.replace(view)
        if cpu:
            self._cluster_samples.append(ClusterSample(time=t, cpu=cpu, labels=labels))
            if len(self._cluster_samples) > MAX_SAMPLES_PER_UPDATE:
                del self._cluster_samples[0]

    def add_sample(self, sample: TelemetrySample) -> None:
        """Keep a telemetry reading for the graphs, and take its worker processes' figures."""
        self.fold_worker_stats(process_stats(sample.processes))
        self._samples.append(sample)
        if len(self._samples) > MAX_SAMPLES_PER_UPDATE:
            del self._samples[0]

    def add_thread_cpu(self, cpu: Mapping[int, float]) -> None:
        """Take the CPU % of thread slots (native thread id -> percent of one core)."""
        self.fold_worker_stats(thread_stats(cpu))

    def fold_backend_workers(self, described: Mapping[str, Any], t: float) -> None:
        """Fold a reading of ``engine.backend_workers()``: the Dask workers' rows and a cluster sample.

        With no Dask backend running, none are shown.
        """
        self.fold_cluster(cluster_stats(described), t)

    # -- handing over ----------------------------------------------------------------------------

    def _workers_changed(self) -> bool:
        return bool(self._dirty_workers or self._dirty_cluster or self._exited or self._samples
                    or self._cluster_samples)

    def _take_worker_changes(self) -> tuple[dict[int | str, WorkerView], list[TelemetrySample], list[ClusterSample]]:
        """The changed and exited workers' views (copies) and the samples since the last call; resets them."""
        workers: dict[int | str, WorkerView] = {
            pid: dataclasses.replace(self.workers[pid]) for pid in self._dirty_workers if pid in self.workers}
        workers.update({address: dataclasses.replace(self.cluster_workers[address])
                        for address in self._dirty_cluster if address in self.cluster_workers})
        workers.update(self._exited)
        samples, cluster = self._samples, self._cluster_samples
        self._dirty_workers = set()
        self._dirty_cluster = set()
        self._exited = {}
        self._samples = []
        self._cluster_samples = []
        return workers, samples, cluster
