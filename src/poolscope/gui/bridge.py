"""The bridge from the engine's event queue to the GUI thread.

```
 engine.events (multiprocessing.Queue of event lists)
      │  get / get_nowait, in the bridge thread
      ▼
 EventFolder: per-job counters, per-worker state, log entries      Telemetry: psutil, a few Hz
      ▲                                                           (processes; thread slots' own CPU)
      │ latest reading, folded by the bridge thread
 backend poller thread: engine.backend_workers() every 0.5 s (Dask: the scheduler's worker metrics)
      │  at most once per frame (~30/s), and only when the previous update was taken
      ▼
 BridgeUpdate (changed jobs and workers, new log lines, notices, telemetry and cluster samples)
      │  updates_ready signal (no payload) → GUI thread calls take_update()
      ▼
 models and graphs
```

The GUI thread never waits on the queue and never sees one signal per event: however fast
events arrive, at most one ``updates_ready`` is queued to it at a time (a second when a job's
submission, start or end joins an update that did not carry one: the window takes such an
update at once), and an update not yet taken absorbs later changes. Counts are folded from
incremental events, so the counts the window shows equal the engine's once the queue is drained.

``backend_workers()`` may talk to a Dask scheduler over the network, so neither the GUI thread
nor the bridge thread calls it: a poller thread of the bridge does, and a slow or unreachable
scheduler delays only the cluster's rows, never the jobs' progress.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import psutil
from PySide6.QtCore import QThread, Signal

from poolscope.core.backends import DASK, PROCESSES, THREADS
from poolscope.core.estimate import Estimate, estimate
from poolscope.core.events import (
    JobFinished,
    JobNotice,
    JobProgress,
    JobStateChanged,
    JobSubmitted,
    RunningChunk,
    TaskFailed,
    TasksFinished,
    WorkerActivity,
    WorkerExited,
    WorkerStarted,
)
from poolscope.core.jobs import JobState, JobSummary
from poolscope.core.telemetry import Telemetry, TelemetrySample

__all__ = [
    "STOP_BRIDGE",
    "BridgeUpdate",
    "ClusterSample",
    "EventBridge",
    "EventFolder",
    "JobView",
    "LogEntry",
    "WorkerView",
]


@dataclass(frozen=True)
class _StopBridge:
    """The type of :data:`STOP_BRIDGE`; compared by type, so it survives a trip through a pickle."""


#: Put on the event queue (by :meth:`EventBridge.stop`) to end the bridge after what came before it.
STOP_BRIDGE = _StopBridge()

#: How often the bridge may hand an update to the GUI thread (seconds): about a display frame rate.
FRAME_INTERVAL = 1 / 30
#: How often the bridge samples CPU, worker processes and throughput (seconds).
TELEMETRY_INTERVAL = 0.25
#: ... times this while no job runs nor ended less than RATE_WINDOW ago (once a second by default):
#: at rest the window costs little (bench/bench_window_cost.py).
IDLE_TELEMETRY_FACTOR = 4
#: Seconds of task counts a throughput rate is measured over (smooths tasks finishing in bursts).
RATE_WINDOW = 2.0
#: Log entries carried by one update at most; the rest are counted in one "not shown" line.
MAX_LOG_PER_UPDATE = 300
#: Telemetry samples one update carries at most (only reached if the GUI thread stalls for minutes).
MAX_SAMPLES_PER_UPDATE = 2400
#: How often the poller asks the engine what its remote backends' workers do (seconds): 2 Hz.
BACKEND_POLL_INTERVAL = 0.5


class EventSource(Protocol):
    """What the bridge reads: a ``multiprocessing.Queue`` or a ``queue.Queue`` of event lists."""

    def get(self, block: bool = True, timeout: float | None = None) -> Any: ...

    def get_nowait(self) -> Any: ...

    def put(self, item: Any) -> None: ...


@dataclass(slots=True)
class JobView:
    """What the window knows about one job, folded from its events.

    Times are ``time.monotonic()``: one clock for the engine's and the window's threads (and
    every process of the machine), so the engine's stamps and the window's clock compare.
    """

    job_id: int
    name: str
    target: str
    inputs: str
    total: int | None
    submitted_at: float  # when it was submitted (JobSubmitted)
    backend: str = ""  # where its tasks run (JobSubmitted.backend); "" when its JobSubmitted was not seen
    state: JobState = JobState.PENDING
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    started_at: float | None = None  # when its first task started (JobProgress); None: it never ran
    finished_at: float | None = None  # when it ended (JobFinished)
    timed_seconds: float = 0.0  # worker-seconds of its finished chunks (JobProgress)
    timed_tasks: int = 0  # tasks in those chunks
    running: tuple[RunningChunk, ...] = ()  # its chunks running at the last JobProgress
    summary: JobSummary | None = None  # the engine's final word, once finished

    @property
    def finished_tasks(self) -> int:
        """Tasks that will not run again: done, failed or cancelled."""
        return self.done + self.failed + self.cancelled

    @property
    def fraction(self) -> float | None:
        """Tasks done (not failed, not cancelled) over all of them, 0 to 1; None while the number
        of inputs is unknown. 1 only when every task is done."""
        if not self.total:
            return 1.0 if self.state is JobState.DONE else None
        return min(1.0, self.done / self.total)

    @property
    def percent(self) -> int | None:
        """Whole percent of tasks done, rounded down (100 only when every task is done)."""
        if not self.total:
            return 100 if self.state is JobState.DONE else None
        return min(100, self.done * 100 // self.total)

    def queued_seconds(self, now: float) -> float:
        """Time from submission until its first task started (or until now, or until it ended unstarted)."""
        end = self.started_at if self.started_at is not None else self.finished_at if self.finished_at is not None \
            else now
        return max(0.0, end - self.submitted_at)

    def running_seconds(self, now: float) -> float | None:
        """Time since its first task started, until it ended; None if no task ever started."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else now
        return max(0.0, end - self.started_at)

    def estimate(self, now: float, as_of: float | None = None) -> Estimate:
        """Rate (tasks/s since its start) and time left (running jobs only), see core/estimate.py;
        ``as_of``: when this view was last known to be current (BridgeUpdate.as_of)."""
        if self.state.is_final:
            running = self.running_seconds(now)
            finished = self.done + self.failed
            return Estimate(finished / running if running else 0.0, None)
        result = estimate(now, started_at=self.started_at, total=self.total, finished=self.done + self.failed,
                          cancelled=self.cancelled, timed_seconds=self.timed_seconds, timed_tasks=self.timed_tasks,
                          running=self.running, as_of=as_of)
        return result if self.state is JobState.RUNNING else Estimate(result.rate, None)


@dataclass(slots=True)
class WorkerView:
    """One worker as the window shows it: a local process or thread slot, or a Dask worker."""

    pid: int | None  # process id; a thread slot's native thread id; None for a Dask worker not yet asked
    slot: int | None
    backend: str = PROCESSES  # PROCESSES, THREADS or DASK (a Dask worker of the cluster)
    job_id: int | None = None  # the job whose task it runs, None when idle (local slots)
    index: int | None = None  # the input index of that task
    task_progress: float | None = None  # 0..1 when the task reports progress with a total
    tasks_done: int = 0
    cpu_percent: float | None = None  # of one core over the last second, with its children (a thread: its own
    # time only); None until measured
    rss: int = 0  # bytes, with its children (0 for a thread: it shares the process's memory)
    alive: bool = True
    # -- a Dask worker, as the scheduler last reported it ---------------------------------------
    address: str = ""  # its address, the key it is known by
    host: str = ""
    name: str = ""
    nthreads: int = 0
    executing: int = 0  # tasks (poolscope chunks) running on it now
    queued: int = 0  # tasks waiting on it
    memory_limit: int = 0  # bytes, 0 when none

    @property
    def key(self) -> int | str:
        """What the views are keyed by: the pid of a local slot, the address of a Dask worker."""
        return self.address if self.backend == DASK else self.pid  # type: ignore[return-value]

    @property
    def busy(self) -> bool:
        return self.job_id is not None or self.executing > 0


@dataclass(frozen=True, slots=True)
class ClusterSample:
    """One reading of a cluster's workers: what the CPU graph's cluster view appends."""

    time: float  # time.monotonic() when the poller had it
    cpu: dict[str, float]  # Dask worker address -> CPU % (of one core; the worker process's)
    labels: dict[str, str]  # address -> a short label for the legend


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the log pane; ``detail`` is the full text (a remote traceback) when there is one."""

    time: float  # time.time(), for display
    level: str  # "info", "warning" or "error"
    message: str
    detail: str = ""
    job_id: int | None = None


@dataclass
class BridgeUpdate:
    """What changed since the previous update, as copies the GUI thread may keep."""

    jobs: dict[int, JobView] = field(default_factory=dict)  # job id -> its latest view (changed ones)
    # WorkerView.key (pid, or a Dask worker's address) -> latest view; alive False: remove it
    workers: dict[int | str, WorkerView] = field(default_factory=dict)
    log: list[LogEntry] = field(default_factory=list)
    notices: list[LogEntry] = field(default_factory=list)  # the engine's JobNotices (also in log), to show plainly
    samples: list[TelemetrySample] = field(default_factory=list)  # oldest first
    cluster: list[ClusterSample] = field(default_factory=list)  # oldest first; empty when no cluster runs
    events: int = 0  # events folded into this update (for statistics)
    # time.monotonic() when it was made: every event the bridge had read by then is in it, so a
    # job not final in it (or in an earlier one, unchanged since) was still running then
    as_of: float = field(default_factory=time.monotonic)
    # it carries a job's submission, start or end, or a worker leaving: the window takes it at
    # once (counts and clocks are not late at those moments); routine updates wait their turn
    urgent: bool = False


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
        size = f"{event.total} tasks" if event.total is not None else "unknown number of tasks"
        self._add_log("info", f"Job {event.job_id} '{event.name}' submitted: {event.target} over {event.inputs} ({size})",
                      job_id=event.job_id)

    def _job_state_changed(self, event: JobStateChanged) -> None:
        view = self._job(event.job_id)
        if view.state.is_final or view.state is event.state:
            return
        view.state = event.state
        self._dirty_jobs.add(event.job_id)
        self._urgent = True
        if event.state is not JobState.RUNNING:
            self._add_log("info", f"Job {event.job_id} '{view.name}' {event.state.value}", job_id=event.job_id)

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
        self._dirty_jobs.add(event.job_id)

    def _task_failed(self, event: TaskFailed) -> None:
        view = self._job(event.job_id)
        error = event.error
        where = f" (pid {error.pid})" if error.pid else ""
        what = f"task {error.index} failed" if error.index >= 0 else "the job could not run"  # -1: the whole job
        message = f"Job {event.job_id} '{view.name}': {what}: {error.type}: {error.message}{where}"
        detail = message
        if error.input_repr:
            detail += f"\ninput: {error.input_repr}"
        if error.traceback:
            detail += "\n\n" + error.traceback.rstrip()
        self._add_log("error", message, detail=detail, job_id=event.job_id)

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
        if event.backend == DASK:  # a forwarder thread: engine plumbing, the Dask workers are listed instead
            self._dask_slots.add(event.pid)
            return
        view = self.workers.get(event.pid)
        if view is None:
            view = WorkerView(pid=event.pid, slot=event.slot, backend=event.backend)
            self.workers[event.pid] = view
        view.slot = event.slot
        self._dirty_workers.add(event.pid)
        if (view.backend, event.slot) in self._replaced_slots:
            noun = "Thread" if view.backend == THREADS else "Worker"
            self._add_log("info", f"{noun} {event.pid} started in slot {event.slot}")

    def _worker_exited(self, event: WorkerExited) -> None:
        if event.pid in self._dask_slots:
            self._dask_slots.discard(event.pid)
            if event.reason.startswith("crashed"):
                self._add_log("warning", f"Dask forwarder thread {event.pid} (slot {event.slot}) ended: {event.reason}")
            return
        view = self.workers.pop(event.pid, None) or WorkerView(pid=event.pid, slot=event.slot)
        view.alive = False
        self._dirty_workers.discard(event.pid)
        self._exited[event.pid] = dataclasses.replace(view)
        self._replaced_slots.add((view.backend, event.slot))
        if event.reason not in ("shutdown", "recycled"):
            code = f", exit code {event.exitcode}" if event.exitcode is not None else ""
            job = f" while running job {view.job_id} task {view.index}" if view.job_id is not None else ""
            self._add_log("warning", f"Worker {event.pid} (slot {event.slot}) exited: {event.reason}{code}{job}",
                          job_id=view.job_id)

    def _job_notice(self, event: JobNotice) -> None:
        view = self.jobs.get(event.job_id)
        name = f" '{view.name}'" if view is not None else ""
        message = f"Job {event.job_id}{name}: {event.message}"
        self._add_log("warning", message, job_id=event.job_id)
        self._notices.append(LogEntry(time=time.time(), level="warning", message=message, job_id=event.job_id))

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
        level = "info" if summary.status is JobState.DONE else "warning"
        self._add_log(level, f"Job {event.job_id} '{view.name}' {summary.status.value} in {summary.wall_seconds:.2f} s: "
                             f"{summary.done} done, {summary.failed} failed, {summary.cancelled} cancelled",
                      job_id=event.job_id)

    _HANDLERS = {
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

    def _add_log(self, level: str, message: str, *, detail: str = "", job_id: int | None = None) -> None:
        if len(self._log) >= MAX_LOG_PER_UPDATE:
            self._log_dropped += 1
            return
        self._log.append(LogEntry(time=time.time(), level=level, message=message, detail=detail, job_id=job_id))

    # -- telemetry -------------------------------------------------------------------------

    def add_sample(self, sample: TelemetrySample) -> None:
        """Merge a telemetry reading: worker CPU/RSS into the views, and keep it."""
        for pid, stats in sample.processes.items():
            worker = self.workers.get(pid)
            if worker is not None and (worker.cpu_percent != stats.cpu_percent or worker.rss != stats.rss):
                worker.cpu_percent = stats.cpu_percent
                worker.rss = stats.rss
                self._dirty_workers.add(pid)
        self._samples.append(sample)
        if len(self._samples) > MAX_SAMPLES_PER_UPDATE:
            del self._samples[0]

    def add_thread_cpu(self, cpu: dict[int, float]) -> None:
        """Merge the CPU % of thread slots (native thread id -> percent of one core)."""
        for pid, percent in cpu.items():
            view = self.workers.get(pid)
            if view is not None and view.cpu_percent != percent:
                view.cpu_percent = percent
                self._dirty_workers.add(pid)

    def fold_backend_workers(self, described: dict[str, list[dict[str, Any]]], t: float) -> None:
        """Fold a reading of ``engine.backend_workers()``: the Dask workers' rows and a cluster sample.

        Workers missing from the reading leave the table; with no Dask backend running, none are shown.
        """
        workers = described.get(DASK) or []
        seen: set[str] = set()
        cpu: dict[str, float] = {}
        labels: dict[str, str] = {}
        for info in workers:
            address = str(info.get("address") or "")
            if not address:
                continue
            seen.add(address)
            view = self.cluster_workers.get(address)
            if view is None:
                view = self.cluster_workers[address] = WorkerView(pid=None, slot=None, backend=DASK, address=address)
            view.pid = info.get("pid") if isinstance(info.get("pid"), int) else view.pid
            view.host = str(info.get("host") or "")
            view.name = str(info.get("name") or "")
            view.nthreads = int(info.get("nthreads") or 0)
            view.cpu_percent = float(info.get("cpu_percent") or 0.0)
            view.rss = int(info.get("memory_bytes") or 0)
            view.memory_limit = int(info.get("memory_limit") or 0)
            view.executing = int(info.get("executing") or 0)
            view.queued = int(info.get("ready") or 0)
            self._dirty_cluster.add(address)
            cpu[address] = view.cpu_percent
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


class ThreadCpuSampler:
    """CPU % of threads of this process by native id, measured between two calls.

    A thread slot's id is not a process: ``psutil.Process(tid)`` would report the whole process.
    Each thread's own user + system time is in ``/proc/self/task/<tid>/stat`` (psutil's
    ``threads()``), so this shows what the GIL does: CPU-bound thread slots share about one core.
    """

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._last: dict[int, tuple[float, float]] = {}  # tid -> (monotonic time, cpu seconds) at the last call

    def sample(self, tids: Iterable[int]) -> dict[int, float]:
        wanted = set(tids)
        if not wanted:
            self._last.clear()
            return {}
        now = time.monotonic()
        try:
            times = {thread.id: thread.user_time + thread.system_time for thread in self._process.threads()}
        except (psutil.Error, OSError):
            return {}
        percents: dict[int, float] = {}
        last: dict[int, tuple[float, float]] = {}
        for tid in wanted:
            if tid not in times:
                continue
            previous = self._last.get(tid)
            if previous is not None and now > previous[0]:
                percents[tid] = max(0.0, 100.0 * (times[tid] - previous[1]) / (now - previous[0]))
            last[tid] = (now, times[tid])
        self._last = last
        return percents


class EventBridge(QThread):
    """Reads the engine's event queue in its own thread and hands coalesced updates to the GUI.

    Connect ``updates_ready`` and call :meth:`take_update` in the slot. Stop with :meth:`stop`
    (puts :data:`STOP_BRIDGE` on the queue, so every event before it is still folded) then
    ``wait()``.

    ``backend_workers`` (the engine's method of that name), when given, is called by a poller
    thread every ``backend_interval`` seconds; each reading becomes the Dask workers' rows and a
    :class:`ClusterSample`. :meth:`stop_polling` ends the poller (before the engine shuts down).
    """

    updates_ready = Signal()  # no payload: an update is waiting; take it with take_update()
    stopped = Signal()  # the bridge thread has ended (its last update is waiting)

    def __init__(self, source: EventSource, *, frame_interval: float = FRAME_INTERVAL,
                 telemetry_interval: float | None = TELEMETRY_INTERVAL,
                 backend_workers: Callable[[], dict[str, list[dict[str, Any]]]] | None = None,
                 backend_interval: float = BACKEND_POLL_INTERVAL, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("poolscope-event-bridge")
        self._source = source  # the engine's event queue: lists of events, written by the engine thread
        self._frame_interval = frame_interval
        self._telemetry_interval = telemetry_interval  # None: no psutil sampling (tests of the folding)
        self._folder = EventFolder()  # touched only by the bridge thread
        self._telemetry: Telemetry | None = None  # made in the bridge thread
        self._thread_cpu: ThreadCpuSampler | None = None  # made in the bridge thread
        self._lock = threading.Lock()  # guards _pending, _forget, _polled
        self._pending: BridgeUpdate | None = None  # the update handed over and not yet taken
        self._forget: list[int] = []  # job ids the GUI cleared, for the bridge thread to drop
        self._stop_requested = threading.Event()  # set by stop(), in case the sentinel cannot be queued
        self.signals_emitted = 0  # updates_ready emissions so far (statistics, tests)
        # -- the backend poller ---------------------------------------------------------------
        self._backend_workers = backend_workers  # engine.backend_workers: may call a Dask scheduler
        self._backend_interval = backend_interval
        self._polled: tuple[float, dict[str, list[dict[str, Any]]]] | None = None  # latest reading, written
        # by the poller thread, taken by the bridge thread
        self._poll_stop = threading.Event()  # set by stop_polling() / stop()
        self._poller: threading.Thread | None = None

    # -- GUI thread side -------------------------------------------------------------------

    def take_update(self) -> BridgeUpdate | None:
        """The waiting update, if any (GUI thread). The bridge hands over the next one after this."""
        with self._lock:
            update, self._pending = self._pending, None
        return update

    def update_is_urgent(self) -> bool:
        """Whether the waiting update is urgent (BridgeUpdate.urgent), any thread."""
        with self._lock:
            return self._pending is not None and self._pending.urgent

    def forget_job(self, job_id: int) -> None:
        """Tell the bridge a finished job was cleared from the window, so it stops keeping it."""
        with self._lock:
            self._forget.append(job_id)

    def stop_polling(self, timeout: float = 2.0) -> None:
        """End the backend poller (any thread): call before the engine shuts its backends down."""
        self._poll_stop.set()
        poller = self._poller
        if poller is not None and poller is not threading.current_thread():
            poller.join(timeout)

    def stop(self, timeout: float = 5.0) -> bool:
        """Fold what is queued, then end the thread; returns whether it ended within ``timeout``."""
        self.stop_polling()
        self._stop_requested.set()
        try:
            self._source.put(STOP_BRIDGE)
        except (ValueError, OSError, AssertionError):
            pass  # the queue is closed: the stop flag ends the loop within a frame
        return self.wait(int(timeout * 1000)) if self.isRunning() else True

    # -- bridge thread side ----------------------------------------------------------------

    def run(self) -> None:  # noqa: C901 - the loop reads best in one piece
        folder = self._folder
        if self._telemetry_interval is not None:
            self._telemetry = Telemetry(window=RATE_WINDOW)
            self._thread_cpu = ThreadCpuSampler()
        if self._backend_workers is not None and not self._poll_stop.is_set():
            poller = threading.Thread(target=self._poll_backends, name="poolscope-backend-poller", daemon=True)
            poller.start()
            self._poller = poller  # only once started: stop_polling() may join it from another thread
        now = time.monotonic()
        next_handover = now
        next_sample = now + (self._telemetry_interval or 0.0)
        stopping = False
        while not stopping:
            now = time.monotonic()
            deadline = next_sample if self._telemetry is not None else now + 0.1
            if folder.has_changes:
                deadline = min(deadline, next_handover)
            try:
                item = self._source.get(timeout=max(0.0, min(deadline - now, 0.1)))
            except queue.Empty:
                item = None
            except (EOFError, OSError, ValueError):
                break  # the queue was closed under us
            if item is not None:
                stopping = self._fold_available(item, budget_end=time.monotonic() + self._frame_interval)
            if self._stop_requested.is_set() and not stopping:
                stopping = self._drain_after_stop()
            now = time.monotonic()
            if self._telemetry is not None and now >= next_sample and not stopping:
                self._sample(folder)
                next_sample = now + self._sample_interval(folder)
            elif self._telemetry is not None and next_sample - now > self._telemetry_interval:  # type: ignore[operator]
                next_sample = min(next_sample, now + self._sample_interval(folder))  # a job started: sample at its rate
            self._apply_forget(folder)
            self._fold_polled(folder)
            if folder.has_changes and (now >= next_handover or stopping):
                self._hand_over(folder, final=stopping)
                # Advanced even when the GUI had not taken the last update: otherwise the
                # deadline stays in the past and the loop spins on get(timeout=0) while it is busy.
                next_handover = now + self._frame_interval
        self.stop_polling()
        self._hand_over(folder, final=True)
        self.stopped.emit()

    def _fold_available(self, item: Any, *, budget_end: float) -> bool:
        """Fold ``item`` and whatever else is queued, for at most about one frame; True on STOP."""
        folder = self._folder
        while True:
            if isinstance(item, _StopBridge):
                return True
            folder.fold(item)
            if time.monotonic() >= budget_end:
                return False
            try:
                item = self._source.get_nowait()
            except queue.Empty:
                return False
            except (EOFError, OSError, ValueError):
                return True

    def _drain_after_stop(self) -> bool:
        """After stop(): fold what is still queued (up to STOP_BRIDGE); True once there is no more."""
        while True:
            try:
                item = self._source.get_nowait()
            except (queue.Empty, EOFError, OSError, ValueError):
                return True
            if isinstance(item, _StopBridge):
                return True
            self._folder.fold(item)

    def _sample_interval(self, folder: EventFolder) -> float:
        """The telemetry interval while a job's throughput is rated (it is not final, or ended less
        than RATE_WINDOW ago: its curve comes down at the sample rate), IDLE_TELEMETRY_FACTOR times
        it at rest."""
        assert self._telemetry_interval is not None
        if folder.rated_counts(time.monotonic()):
            return self._telemetry_interval
        return self._telemetry_interval * IDLE_TELEMETRY_FACTOR

    def _sample(self, folder: EventFolder) -> None:
        assert self._telemetry is not None and self._thread_cpu is not None
        pids = [pid for pid, view in folder.workers.items() if view.alive and view.backend == PROCESSES]
        tids = [pid for pid, view in folder.workers.items() if view.alive and view.backend == THREADS]
        now = time.monotonic()
        sample = self._telemetry.sample(pids, folder.rated_counts(now), total_count=folder.tasks_finished, now=now)
        folder.add_sample(sample)
        folder.add_thread_cpu(self._thread_cpu.sample(tids))

    def _poll_backends(self) -> None:
        """The poller thread: ask the engine about its remote backends' workers, keep the latest."""
        assert self._backend_workers is not None
        while not self._poll_stop.is_set():
            try:
                described = self._backend_workers()
            except Exception:  # noqa: BLE001 - a scheduler gone away: the rows stay as they were
                described = None
            if described is not None and not self._poll_stop.is_set():
                with self._lock:
                    self._polled = (time.monotonic(), described)
            self._poll_stop.wait(self._backend_interval)

    def _fold_polled(self, folder: EventFolder) -> None:
        with self._lock:
            polled, self._polled = self._polled, None
        if polled is not None:
            folder.fold_backend_workers(polled[1], polled[0])

    def _apply_forget(self, folder: EventFolder) -> None:
        with self._lock:
            forget, self._forget = self._forget, []
        for job_id in forget:
            folder.forget_job(job_id)

    def _hand_over(self, folder: EventFolder, *, final: bool) -> None:
        """Hand the changes to the GUI unless it has not taken the previous ones yet: then merge
        into those when ``final``, or when the changes are urgent (and signal again if those were
        not). Emits at most one signal."""
        with self._lock:
            if self._pending is not None:
                if not (final or folder.urgent):
                    return  # the GUI has not taken it yet: keep accumulating and hand over later
                # a job submitted, started or ended: into the waiting update, and say so again
                # (the GUI takes an urgent update at once, see main_window)
                signalled = self._pending.urgent
                _merge_into(self._pending, folder.take_changes())
                if final or signalled:
                    return  # the GUI takes it (at once, if it was urgent) or the bridge ends
            elif not folder.has_changes:
                return
            else:
                self._pending = folder.take_changes()
        self.signals_emitted += 1
        self.updates_ready.emit()


def _merge_into(target: BridgeUpdate, later: BridgeUpdate) -> None:
    target.jobs.update(later.jobs)
    target.workers.update(later.workers)
    target.log.extend(later.log)
    target.notices.extend(later.notices)
    target.samples.extend(later.samples)
    target.cluster.extend(later.cluster)
    target.events += later.events
    target.as_of = later.as_of
    target.urgent = target.urgent or later.urgent
