"""EventFolder: folds engine events, telemetry samples and worker figures into the views the
window shows, and hands over what changed (see DESIGN.md, Data flow). This module folds the
jobs' events and attached scripts' comings and goings; the workers' views and the samples are
its base's, monitor/worker_folding.py.

Events come from the window's own engine and from scripts attached to the window
(core/attach/), one list of jobs for all: a script's jobs count from 1 as the window's do, so
each gets a window id of its own (-1, -2, ... in the order the window hears of them; the
engine's ids are positive, so the two never meet), and its view keeps its source and its own id.

Plain Python, used by one thread (the window's bridge thread, or any other reader of the events).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

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
from poolscope.monitor.log_text import EventContext, log_line
from poolscope.monitor.views import BridgeUpdate, JobView, LogEntry
from poolscope.monitor.worker_folding import MAX_SAMPLES_PER_UPDATE, WorkerFolding

if TYPE_CHECKING:
    from poolscope.core.attach import ScriptSource

__all__ = ["MAX_LOG_PER_UPDATE", "MAX_SAMPLES_PER_UPDATE", "RATE_WINDOW", "EventFolder"]

#: Seconds of task counts a throughput rate is measured over (smooths tasks finishing in bursts).
RATE_WINDOW = 2.0
#: Log entries carried by one update at most; the rest are counted in one "not shown" line.
MAX_LOG_PER_UPDATE = 300


class EventFolder(WorkerFolding):
    """Folds engine events into per-job and per-worker views (the workers' part is
    :class:`WorkerFolding`'s). Plain Python, used by one thread."""

    def __init__(self) -> None:
        super().__init__()  # the workers' views, samples and their changes
        self.jobs: dict[int, JobView] = {}  # job id -> view
        self.tasks_finished = 0  # done + failed over every job: the total throughput's count
        # What changed since the last take_changes(): the update's contents (the workers' are
        # WorkerFolding's).
        self._dirty_jobs: set[int] = set()
        self._urgent = False  # a job was submitted, started or ended since the last take_changes()
        self._log: list[LogEntry] = []
        self._log_dropped = 0
        self._notices: list[LogEntry] = []
        self._events_since = 0
        # -- attached scripts --------------------------------------------------------------------
        self._source: ScriptSource | None = None  # whose batch fold() folds now (None: the window's engine)
        self._window_ids: dict[tuple[int, int], int] = {}  # (source key, its job id) -> window job id
        self._next_attached_id = -1  # the window id the next attached job gets (counts down)

    # -- folding ---------------------------------------------------------------------------

    def fold(self, batch: Iterable[Any], source: ScriptSource | None = None) -> None:
        """Fold a batch (a list of events, or one event) into the views; ``source``: the attached
        script whose engine published it (None: the window's own engine)."""
        if not isinstance(batch, (list, tuple)):
            batch = (batch,)
        self._events_since += len(batch)
        self._source = source
        try:
            for event in batch:
                handler = self._HANDLERS.get(type(event))
                if handler is not None:
                    handler(self, event)
        finally:
            self._source = None

    def _wid(self, job_id: int) -> int:
        """The window's id of job ``job_id`` of the source being folded."""
        if self._source is None:
            return job_id
        key = (self._source.key, job_id)
        window_id = self._window_ids.get(key)
        if window_id is None:
            window_id = self._window_ids[key] = self._next_attached_id
            self._next_attached_id -= 1
        return window_id

    def _new_view(self, job_id: int, **fields: Any) -> JobView:
        """A job's view, with its source when it is an attached script's (``job_id``: its own id)."""
        source = self._source
        if source is None:
            return JobView(job_id=job_id, **fields)
        return JobView(job_id=self._wid(job_id), source=source.label, source_key=source.key, source_job_id=job_id,
                       **fields)

    # -- attached scripts ----------------------------------------------------------------------

    def script_attached(self, source: ScriptSource) -> None:
        """A script attached: its workers already up show (later ones come as WorkerStarted)."""
        self._add_log(LogEntry(time=time.time(), level="info", message=f"{source.label} attached: "
                               f"{' '.join(source.argv) or source.name}"))
        self.fold([WorkerStarted(pid=pid, slot=slot, time=time.time()) for slot, pid in enumerate(source.workers)],
                  source)

    def fold_attached(self, item: Any) -> None:
        """Fold one item of an AttachListener's ``incoming`` queue (core/attach/)."""
        from poolscope.core.attach import AttachedBatches, PeerRefused, ScriptAttached, ScriptDetached

        if isinstance(item, AttachedBatches):
            for batch in item.batches:
                try:
                    self.fold(batch, item.source)
                except Exception as exc:  # noqa: BLE001 - a script's malformed event must not end the reader
                    self._add_log(LogEntry(time=time.time(), level="warning", message=f"{item.source.label}: an "
                                           f"event the window cannot read was dropped ({type(exc).__name__}: {exc})"))
        elif isinstance(item, ScriptAttached):
            self.script_attached(item.source)
        elif isinstance(item, ScriptDetached):
            self.script_detached(item.source, clean=item.clean)
        elif isinstance(item, PeerRefused):
            who = f"process {item.pid}" if item.pid else "a process"
            self._add_log(LogEntry(time=time.time(), level="warning",
                                   message=f"Refused {who} that tried to attach: {item.reason}"))

    def script_detached(self, source: ScriptSource, *, clean: bool) -> None:
        """A script's channel ended: its jobs not yet final can no longer end here, so they are
        marked lost (final, with why); its workers leave the table."""
        why = "it detached" if clean else "it ended or was killed without detaching"
        now = time.monotonic()
        for view in self.jobs.values():
            if view.source_key != source.key or view.state.is_final:
                continue
            view.lost = f"{source.label} went away before the job ended ({why})"
            view.state = JobState.FAILED
            view.finished_at = now
            view.running = ()
            self._dirty_jobs.add(view.job_id)
            self._urgent = True
            self._add_log(LogEntry(time=time.time(), level="warning", job_id=view.job_id,
                                   message=f"{source.label}: Job {view.shown_id} '{view.name}' lost: {view.lost}; "
                                           f"{view.done} done, {view.failed} failed, {view.cancelled} cancelled"))
        self._drop_workers_of(source.key)
        self._add_log(LogEntry(time=time.time(), level="info" if clean else "warning",
                               message=f"{source.label} {'detached' if clean else 'went away'}"))

    def _job_submitted(self, event: JobSubmitted) -> None:
        job_id = self._wid(event.job_id)
        view = self.jobs.get(job_id)
        if view is None:
            view = self._new_view(event.job_id, name=event.name, target=event.target, inputs=event.inputs,
                                  total=event.total, submitted_at=_monotonic(event.time), backend=event.backend)
            self.jobs[job_id] = view
        self._dirty_jobs.add(job_id)
        self._urgent = True  # its row shows (and scrolls into view) at once
        self._add_log(log_line(event))

    def _job_state_changed(self, event: JobStateChanged) -> None:
        view = self._job(event.job_id)
        if view.state.is_final or view.state is event.state:
            return
        view.state = event.state
        self._dirty_jobs.add(view.job_id)
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
        self._dirty_jobs.add(view.job_id)

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
        self._dirty_jobs.add(view.job_id)

    def _task_failed(self, event: TaskFailed) -> None:
        view = self._job(event.job_id)
        self._add_log(log_line(event, EventContext(job_name=view.name)))

    def _job_notice(self, event: JobNotice) -> None:
        view = self.jobs.get(self._wid(event.job_id))
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
        self._dirty_jobs.add(view.job_id)
        self._urgent = True
        self._add_log(log_line(event, EventContext(job_name=view.name)))

    _HANDLERS: ClassVar[dict[type, Callable[[EventFolder, Any], None]]] = {
        JobSubmitted: _job_submitted,
        JobStateChanged: _job_state_changed,
        TasksFinished: _tasks_finished,
        JobProgress: _job_progress,
        TaskFailed: _task_failed,
        WorkerActivity: WorkerFolding._worker_activity,
        WorkerStarted: WorkerFolding._worker_started,
        WorkerExited: WorkerFolding._worker_exited,
        JobNotice: _job_notice,
        JobFinished: _job_finished,
    }

    def _job(self, job_id: int) -> JobView:
        """The view of ``job_id`` (the id its engine gave it), made up if its JobSubmitted was not
        seen (the bridge started late)."""
        view = self.jobs.get(self._wid(job_id))
        if view is None:
            view = self._new_view(job_id, name=f"job {job_id}", target="", inputs="", total=None,
                                  submitted_at=time.monotonic())
            self.jobs[view.job_id] = view
        return view

    def _add_log(self, entry: LogEntry | None) -> None:
        """Keep a log line; one made from an attached script's event says whose it is, and names
        its job by the window's id (the one the jobs table selects by)."""
        if entry is None:
            return
        if self._source is not None:
            entry = dataclasses.replace(entry, message=f"{self._source.label}: {entry.message}",
                                        job_id=None if entry.job_id is None else self._wid(entry.job_id))
        if len(self._log) >= MAX_LOG_PER_UPDATE:
            self._log_dropped += 1
            return
        self._log.append(entry)

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
        return bool(self._dirty_jobs or self._log or self._log_dropped or self._workers_changed())

    def take_changes(self) -> BridgeUpdate:
        """Everything that changed since the last call, as copies; resets the change sets."""
        log = self._log
        if self._log_dropped:
            log.append(LogEntry(time=time.time(), level="warning",
                                message=f"{self._log_dropped} more log messages not shown (too many at once)"))
        urgent = self.urgent
        workers, samples, cluster = self._take_worker_changes()
        update = BridgeUpdate(
            jobs={job_id: dataclasses.replace(self.jobs[job_id]) for job_id in self._dirty_jobs},
            workers=workers,
            log=log,
            notices=self._notices,
            samples=samples,
            cluster=cluster,
            events=self._events_since,
            urgent=urgent,
        )
        self._urgent = False
        self._dirty_jobs = set()
        self._log = []
        self._log_dropped = 0
        self._notices = []
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
