"""The plain data the window shows, folded from the engine's events: a job's and a worker's view,
a log line, a cluster reading, and the update that carries what changed (see DESIGN.md, Layout).

Qt-free: made by :class:`poolscope.monitor.folder.EventFolder`, read by the window's models and
graphs, and by any other reader of the events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from poolscope.core.backends import PROCESSES, backend_info
from poolscope.core.estimate import Estimate, estimate
from poolscope.core.events import RunningChunk
from poolscope.core.jobs import JobState, JobSummary
from poolscope.monitor.log_text import LogEntry  # a log line: defined with its words, named here too
from poolscope.monitor.worker_stats import WorkerStats

if TYPE_CHECKING:  # numpy and psutil: not for a reader that only writes log lines (poolscope run)
    from poolscope.core.telemetry import TelemetrySample

__all__ = ["BridgeUpdate", "ClusterSample", "JobView", "LogEntry", "WorkerView"]


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
    # time.monotonic() of that JobProgress: its counts and running chunks are the engine's as of
    # then (the engine publishes a batch at most every PUBLISH_INTERVAL, so a view is older than
    # the update that carries it by up to that much)
    progress_at: float | None = None
    summary: JobSummary | None = None  # the engine's final word, once finished
    # -- where it runs: the window's own engine, or a script attached to the window ---------------
    source: str = ""  # "" for the window's own engine; else the script's label, "script.py (pid 1234)"
    source_key: int | None = None  # the attached script's ScriptSource.key (None: the window's own)
    source_job_id: int | None = None  # its id in the script's engine (job_id is the window's, negative)
    lost: str = ""  # why it can no longer end: its script went away first ("" while it can)

    @property
    def shown_id(self) -> int:
        """The id the user knows it by: its engine's (a script's jobs count from 1 too)."""
        return self.job_id if self.source_job_id is None else self.source_job_id

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
        if self.progress_at is not None:  # the engine's own time of these figures, never later than as_of
            as_of = self.progress_at if as_of is None else min(as_of, self.progress_at)
        result = estimate(now, started_at=self.started_at, total=self.total, finished=self.done + self.failed,
                          cancelled=self.cancelled, timed_seconds=self.timed_seconds, timed_tasks=self.timed_tasks,
                          running=self.running, as_of=as_of)
        return result if self.state is JobState.RUNNING else Estimate(result.rate, None)


@dataclass(slots=True)
class WorkerView:
    """One worker as the window shows it: a local process or thread slot, or a Dask worker."""

    pid: int | None  # process id; a thread slot's native thread id; None for a Dask worker not yet asked
    slot: int | None
    backend: str = PROCESSES  # a name of core/backends' REGISTRY (a remote one: a worker of its cluster)
    job_id: int | None = None  # the job whose task it runs, None when idle (local slots)
    index: int | None = None  # the input index of that task
    task_progress: float | None = None  # 0..1 when the task reports progress with a total
    tasks_done: int = 0
    cpu_percent: float | None = None  # of one core over the last second, with its children (a thread: its own
    # time only); None until measured
    rss: int = 0  # bytes, with its children (0 for a thread: it shares the process's memory)
    alive: bool = True
    source: str = ""  # "" for the window's own engine; else the attached script's label
    source_key: int | None = None  # the attached script's ScriptSource.key
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
        return self.address if backend_info(self.backend).remote else self.pid  # type: ignore[return-value]

    @property
    def busy(self) -> bool:
        return self.job_id is not None or self.executing > 0

    def take(self, stats: WorkerStats) -> bool:
        """Take a reading of this worker's figures (fields it leaves None are kept); True if any changed.

        The one place a worker's figures enter its view, whichever backend measured them.
        """
        changed = False
        for name in WorkerStats.FIGURES:
            value = getattr(stats, name)
            if value is not None and getattr(self, name) != value:
                setattr(self, name, value)
                changed = True
        return changed


@dataclass(frozen=True, slots=True)
class ClusterSample:
    """One reading of a cluster's workers: what the CPU graph's cluster view appends."""

    time: float  # time.monotonic() when the poller had it
    cpu: dict[str, float]  # Dask worker address -> CPU % (of one core; the worker process's)
    labels: dict[str, str]  # address -> a short label for the legend


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
