"""EventFolder: folds engine events, telemetry samples and worker figures into the views the
window shows, and hands over what changed (see DESIGN.md, Data flow).

Plain Python, used by one thread (the window's bridge thread, or any other reader of the events).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from poolscope.core.backends import DASK, backend_info
from poolscope.core.events import (
    JobFinished,
    JobNotice,
    JobProgress,
    JobStateChanged,
    JobSubmitted,
    TaskFailed,
    TasksFinished,
    WorkerActivity,
    WorkerExited,
    WorkerStarted,
)
from poolscope.core.jobs import JobState
from poolscope.core.telemetry import TelemetrySample
from poolscope.monitor.log_text import EventContext, log_line
from poolscope.monitor.views import (
    BridgeUpdate,
    ClusterSample,
    JobView,
    LogEntry,
    WorkerView,
)
from poolscope.monitor.worker_stats import (
    WorkerStats,
    cluster_stats,
    process_stats,
    thread_stats,
)

__all__ = ["MAX_LOG_PER_UPDATE", "MAX_SAMPLES_PER_UPDATE", "RATE_WINDOW", "EventFolder"]

#: Seconds of task counts a throughput rate is measured over (smooths tasks finishing in bursts).
RATE_WINDOW = 2.0
#: Log entries carried by one update at most; the rest are counted in one "not shown" line.
MAX_LOG_PER_UPDATE = 300
#: Telemetry samples one update carries at most (only reached if the GUI thread stalls for minutes).
MAX_SAMPLES_PER_UPDATE = 2400


class EventFolder:
    """Folds engine events into per-job and per-worker views. Plain Python, used by one thread."""

    def __init__(self) -> None:
        self.jobs: dict[int, JobView] = {}  # job id -> view
        self.workers: dict[int, WorkerView] = {}  # pid -> view of a live local worker (process or thread)
        self.cluster_workers: dict[str, WorkerView] = {}  # address -> view of a Dask worker
        self._dask_slots: set[int] = set()  # native ids of the Dask forwarder threads (not shown)
        self.tasks_finished = 0  # done + failed over every job: the total throughput's count
        # What changed since the last take_changes(): the update's contents.
        self._dirty_jobs: set[int] = set()
        self._urgent = False  # a job was submitted, started or ended since the last take_changes()
        self._dirty_workers: set[int] = set()
        self._dirty_cluster: set[str] = set()
        self._exited: dict[int | str, WorkerView] = {}
        self._log: list[LogEntry] = []
        self._log_dropped = 0
        self._notices: list[LogEntry] = []
        self._samples: list[TelemetrySample] = []
        self._cluster_samples: list[ClusterSample] = []
        self._events_since = 0
        # (backend, slot) of slots that had a worker: a new one there is a replacement
        self._replaced_slots: set[tuple[str, int]] = set()

    # -- folding ---------------------------------------------------------------------------

    def fold(self, batch: Iterable[Any]) -> None:
        """Fold a batch (a list of events, or one event) into the views."""
        if not isinstance(batch, (list, tuple)):
            batch = (batch,)
        self._events_since += len(batch)
        for event in batch:
            handler = self._HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event)

    def _job_submitted(self, event: JobSubmitted) -> None:
        view = self.jobs.get(event.job_id)
        if view is None:
            view = JobView(job_id=event.job_id, name=event.name, target=event.target, inputs=event.inputs,
                           total=event.total, submitted_at=_monotonic(event.time), backend=event.backend)
            self.jobs[event.job_id] = view
        self._dirty_jobs.add(event.job_id)
        self._urgent = True  # its row shows (and scrolls into view) at once
        self._add_log(log_line(event))

    def _job_state_changed(self, event: JobStateChanged) -> None:
        view = self._job(event.job_id)
        if view.state.is_final or view.state is event.state:
            return
        view.state = event.state
        self._dirty_jobs.add(event.job_id)
        self._urgent = True
        self._add_log(log_line(event, EventContext(job_name=view.name)))

    def _tasks_finished(self, event: TasksFinished) -> None:
        view = self._job(event.job_id)
        view.done += event.done
        view.failed += event.failed
        view.cancelled += event.cancelled
        self.tasks_finished += event.done + event.failed
        if view.state is JobState.PENDING:
            view.state = JobState.RUNNING
            self._urgent = True
        self._dirty_jobs.add(event.job_id)

    def _job_progress(self, event: JobProgress) -> None:
        view = self._job(event.job_id)
        if view.state.is_final:
            return
        self._urgent = self._urgent or (view.started_at is None and event.started_at is not None)
        view.started_at = event.started_at
        view.timed_seconds = event.timed_seconds
        view.timed_tasks = event.timed_tasks
        view.running = event.running
        view.progress_at = event.time
        self._dirty_jobs.add(event.job_id)

    def _task_failed(self, event: TaskFailed) -> None:
        view = self._job(event.job_id)
        self._add_log(log_line(event, EventContext(job_name=view.name)))

    def _worker_activity(self, event: WorkerActivity) -> None:
        view = self.workers.get(event.pid)
        if view is None:  # a Dask forwarder slot (not shown), or a worker not announced yet
            return
        view.job_id = event.job_id
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
            self.workers[event.pid] = view
        view.slot = event.slot
        self._dirty_workers.add(event.pid)
        self._add_log(log_line(event, EventContext(replacement=(view.backend, event.slot) in self._replaced_slots)))

    def _worker_exited(self, event: WorkerExited) -> None:
        if event.pid in self._dask_slots:
            self._dask_slots.discard(event.pid)
            self._add_log(log_line(event, EventContext(forwarder=True)))
            return
        view = self.workers.pop(event.pid, None) or WorkerView(pid=event.pid, slot=event.slot)
        view.alive = False
        self._dirty_workers.discard(event.pid)
        self._exited[event.pid] = dataclasses.replace(view)
        self._replaced_slots.add((view.backend, event.slot))
        self._add_log(log_line(event, EventContext(worker_job=view.job_id, worker_index=view.index)))

    def _job_notice(self, event: JobNotice) -> None:
        view = self.jobs.get(event.job_id)
        entry = log_line(event, EventContext(job_name=view.name if view is not None else None))
        assert entry is not None  # a notice always makes a line
        self._add_log(entry)
        self._notices.append(entry)

    def _job_finished(self, event: JobFinished) -> None:
        summary = event.summary
        view = self._job(event.job_id)
        # The summary is the engine's own count: trust it over the increments (they agree when
        # no event was lost; if one ever were, the window still ends right).
        self.tasks_finished += (summary.done + summary.failed) - (view.done + view.failed)
        view.state = summary.status
        view.total = summary.total if summary.total is not None else view.total
        view.done, view.failed, view.cancelled = summary.done, summary.failed, summary.cancelled
        view.finished_at = event.ended_at or time.monotonic()
        view.running = ()
        view.summary = summary
        self._dirty_jobs.add(event.job_id)
        self._urgent = True
        self._add_log(log_line(event, EventContext(job_name=view.name)))

    _HANDLERS: ClassVar[dict[type, Callable[[EventFolder, Any], None]]] = {
        JobSubmitted: _job_submitted,
        JobStateChanged: _job_state_changed,
        TasksFinished: _tasks_finished,
        JobProgress: _job_progress,
        TaskFailed: _task_failed,
        WorkerActivity: _worker_activity,
        WorkerStarted: _worker_started,
        WorkerExited: _worker_exited,
        JobNotice: _job_notice,
        JobFinished: _job_finished,
    }

    def _job(self, job_id: int) -> JobView:
        """The view of ``job_id``, made up if its JobSubmitted was not seen (the bridge started late)."""
        view = self.jobs.get(job_id)
        if view is None:
            view = JobView(job_id=job_id, name=f"job {job_id}", target="", inputs="", total=None,
                           submitted_at=time.monotonic())
            self.jobs[job_id] = view
        return view

    def _add_log(self, entry: LogEntry | None) -> None:
        if entry is None:
            return
        if len(self._log) >= MAX_LOG_PER_UPDATE:
            self._log_dropped += 1
            return
        self._log.append(entry)

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

    def rated_counts(self, now: float) -> dict[int, int]:
        """Tasks completed (done + failed) of the jobs whose throughput is rated: those not yet
        final, and those that ended less than RATE_WINDOW ago (so their final count is taken; the
        meter then follows a job left out until its rate is back to 0)."""
        return {job_id: view.done + view.failed for job_id, view in self.jobs.items()
                if not view.state.is_final or view.finished_at is not None and now - view.finished_at < RATE_WINDOW}

    # -- handing over ----------------------------------------------------------------------

    @property
    def urgent(self) -> bool:
        """A job was submitted, started or ended, or a worker left, since the last take_changes()."""
        return self._urgent or bool(self._exited)

    @property
    def has_changes(self) -> bool:
        return bool(self._dirty_jobs or self._dirty_workers or self._dirty_cluster or self._exited or self._log
                    or self._log_dropped or self._samples or self._cluster_samples)

    def take_changes(self) -> BridgeUpdate:
        """Everything that changed since the last call, as copies; resets the change sets."""
        log = self._log
        if self._log_dropped:
            log.append(LogEntry(time=time.time(), level="warning",
                                message=f"{self._log_dropped} more log messages not shown (too many at once)"))
        workers: dict[int | str, WorkerView] = {
            pid: dataclasses.replace(self.workers[pid]) for pid in self._dirty_workers if pid in self.workers}
        workers.update({address: dataclasses.replace(self.cluster_workers[address])
                        for address in self._dirty_cluster if address in self.cluster_workers})
        update = BridgeUpdate(
            jobs={job_id: dataclasses.replace(self.jobs[job_id]) for job_id in self._dirty_jobs},
            workers=workers,
            log=log,
            notices=self._notices,
            samples=self._samples,
            cluster=self._cluster_samples,
            events=self._events_since,
            urgent=self.urgent,
        )
        update.workers.update(self._exited)
        self._urgent = False
        self._dirty_jobs = set()
        self._dirty_workers = set()
        self._dirty_cluster = set()
        self._exited = {}
        self._log = []
        self._log_dropped = 0
        self._notices = []
        self._samples = []
        self._cluster_samples = []
        self._events_since = 0
        return update

    def forget_job(self, job_id: int) -> None:
        """Drop a finished job's view (the window cleared it)."""
        view = self.jobs.get(job_id)
        if view is not None and view.state.is_final:
            del self.jobs[job_id]
            self._dirty_jobs.discard(job_id)


def _monotonic(wall: float) -> float:
    """A ``time.time()`` stamp (an event's) on the ``time.monotonic()`` clock."""
    return time.monotonic() - max(0.0, time.time() - wall) if wall > 0 else time.monotonic()
