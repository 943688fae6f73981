"""The bridge's updates taken into the main window at a pace: the jobs and workers tables, the log,
notices, the graphs, the running jobs' clocks, the status line and the title."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow

from poolscope.core.backends import DASK
from poolscope.monitor.views import BridgeUpdate

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from poolscope.gui.bridge import EventBridge
    from poolscope.gui.models import JobsModel, WorkersModel
    from poolscope.gui.notify import JobEndNotifier
    from poolscope.gui.status_bar import StatusLine
    from poolscope.gui.widgets.cpu_graph import CpuGraph
    from poolscope.gui.widgets.job_table import JobTable
    from poolscope.gui.widgets.log_view import LogView
    from poolscope.gui.widgets.throughput_graph import ThroughputGraph

    _WindowBase = QMainWindow
else:
    _WindowBase = object

#: The window takes the bridge's updates at most this often (ms): the tables, bars and title
#: follow the jobs 4 times a second (the bridge keeps folding meanwhile, nothing is lost). An
#: update that carries a job's submission, start or end is taken at once.
UPDATE_MIN_MS = 250
#: The graphs and the workers table redraw at most this often (ms), when samples or worker
#: changes come (telemetry comes 4 times a second while a job runs, once a second at rest).
GRAPHS_MIN_MS = 500
WORKERS_MIN_MS = 1000
#: The clock timer's period (ms) while some running job's elapsed time is shown in tenths of a
#: second (format_duration: below 10 s), and after that (whole seconds).
CLOCK_MS = 200
CLOCK_SLOW_MS = 1000
FINE_CLOCK_BELOW = 10.0


class WindowUpdates(_WindowBase):
    """The main window's part that takes the bridge's updates (mixed into MainWindow)."""

    # What it uses of the window, made in MainWindow.__init__:
    bridge: EventBridge
    jobs_model: JobsModel
    workers_model: WorkersModel
    job_table: JobTable
    log_view: LogView
    cpu_graph: CpuGraph
    throughput_graph: ThroughputGraph
    notifier: JobEndNotifier
    status: StatusLine
    pause_action: QAction
    dask_scheduler: str | None  # where the engine's Dask jobs run (full form); None: a local cluster
    _shut_down: bool

    def _follow_updates(self) -> None:
        """Take the bridge's updates from now on (called once, when the window is made)."""
        self._last_taken = 0.0  # time.monotonic() when the window last took an update
        self._graphs_at = 0.0  # time.monotonic() of the graphs' last redraw
        self._workers_at = 0.0  # ... and of the workers table's last update
        self._pending_workers: dict[int | str, Any] = {}  # worker changes held back until WORKERS_MIN_MS
        self._graphs_stale = False  # samples came that the graphs have not drawn yet
        self._worker_keys: set[int | str] = set()  # the workers in the table (WorkerView.key)
        self._take_timer = QTimer(self)  # takes the waiting update once UPDATE_MIN_MS have passed
        self._take_timer.setSingleShot(True)
        self._take_timer.timeout.connect(self._take_update_now)
        # Repaints the running jobs' clocks; runs only while some job is not final (see _follow_clock).
        self.clock_timer = QTimer(self)
        self.clock_timer.setObjectName("clock_timer")
        self.clock_timer.setInterval(CLOCK_MS)
        self.clock_timer.timeout.connect(self._on_clock)
        self.bridge.updates_ready.connect(self._take_update)

    def _stop_updates(self) -> None:
        """No more timed updates (the window shuts down); what is left is applied by the caller."""
        self.clock_timer.stop()
        self._take_timer.stop()

    def _take_update(self) -> None:
        """An update waits: take it now, or once UPDATE_MIN_MS have passed since the last one.

        One that carries a job's submission, start or end (BridgeUpdate.urgent) is taken at once:
        counts and clocks are never late at those moments (a few times a job, not a second)."""
        wait_ms = (self._last_taken - time.monotonic()) * 1000 + UPDATE_MIN_MS
        if wait_ms > 0 and self.bridge.update_is_urgent():
            self._take_timer.stop()
            wait_ms = 0
        if wait_ms > 0:
            if not self._take_timer.isActive():
                self._take_timer.start(int(wait_ms) + 1)
            return
        self._take_update_now()

    def _take_update_now(self) -> None:
        self._last_taken = time.monotonic()
        update = self.bridge.take_update()
        if update is not None:
            self.apply_update(update)

    def _take_last_update(self) -> None:
        """The bridge has stopped: take what it had left, and every worker change held back."""
        update = self.bridge.take_update()
        if update is not None:
            self.apply_update(update)
        if self._pending_workers:
            self._apply_workers(time.monotonic())

    def apply_update(self, update: BridgeUpdate) -> None:
        self.jobs_model.heard(update.as_of)
        if update.jobs:
            # a job's name never changes after JobSubmitted: pass it on once, for the jobs new here
            names = {job_id: view.name for job_id, view in update.jobs.items()
                     if self.jobs_model.row_of(job_id) is None}
            if names:
                self._name_attached_jobs(update.jobs)
                self.workers_model.set_job_names(names)
                for job_id, name in names.items():
                    view = update.jobs[job_id]
                    legend = f"{view.shown_id} {name} · {view.source}" if view.source else None
                    self.throughput_graph.set_job_name(job_id, name, legend=legend)
            self.jobs_model.apply(update.jobs)
            self.notifier.jobs_changed(update.jobs.values())
            if names:  # a job just started: its row scrolls into view
                # the newest is the last in the model's order (attached scripts' jobs have ids below 0)
                newest = max(names, key=lambda job_id: -1 if (row := self.jobs_model.row_of(job_id)) is None else row)
                self.job_table.scroll_to_job(newest)
            self._follow_clock()
        now = time.monotonic()
        if update.workers:
            # rows that come or go show at once; changes to rows (task, CPU, memory) once a second (WORKERS_MIN_MS)
            comes_or_goes = any(not view.alive or key not in self._worker_keys for key, view in update.workers.items())
            self._pending_workers.update(update.workers)
            if comes_or_goes:
                self._workers_at = 0.0
        if self._pending_workers and now - self._workers_at >= WORKERS_MIN_MS / 1000:
            self._apply_workers(now)
        if update.log:
            self.log_view.append(update.log)
        if update.notices:
            more = len(update.notices) - 1
            self.show_notice(update.notices[-1].message + (f" (and {more} more in the log)" if more else ""))
        if update.samples:
            cores = self.cpu_graph.cores
            self.cpu_graph.add_samples(update.samples)
            self.throughput_graph.add_samples(update.samples)
            if self.cpu_graph.cores != cores:
                self._update_status()
        if update.cluster:
            self.cpu_graph.add_cluster_samples(update.cluster)
        if update.samples or update.cluster:
            self._graphs_stale = True
        if (self._graphs_stale and now - self._graphs_at >= GRAPHS_MIN_MS / 1000 and self.isVisible()
                and not self.isMinimized()):
            # the graphs advance when samples come (at most every GRAPHS_MIN_MS), never on a timer
            self._graphs_at, self._graphs_stale = now, False
            self.cpu_graph.refresh(now)
            self.throughput_graph.refresh(now)
        self.status.events_seen += update.events
        if update.jobs:
            self._update_title()

    def _name_attached_jobs(self, jobs: dict[int, Any]) -> None:
        """The workers table names an attached script's job by the script's own id."""
        shown = {job_id: view.source_job_id for job_id, view in jobs.items() if view.source_job_id is not None}
        if shown:
            self.workers_model.set_shown_ids(shown)

    def _apply_workers(self, now: float) -> None:
        workers, self._pending_workers = self._pending_workers, {}
        self._workers_at = now
        for key, view in workers.items():
            if view.alive:
                self._worker_keys.add(key)
            else:
                self._worker_keys.discard(key)
        self.workers_model.apply(workers)  # the workers table's title follows the model
        if any(view.backend == DASK for view in workers.values()):
            self._update_status()

    def set_graphs_paused(self, paused: bool) -> None:
        """Pause both graphs, or take them back to the live view."""
        for graph in (self.cpu_graph, self.throughput_graph):
            graph.set_paused(paused)
        if self.pause_action.isChecked() != paused:
            self.pause_action.setChecked(paused)
        if not paused:
            self._graphs_at, self._graphs_stale = time.monotonic(), False

    def show_notice(self, message: str) -> None:
        """Show something the engine said about a job plainly, in the status bar (it is in the log too)."""
        self.status.say(f"⚠ {message}")

    def _update_status(self) -> None:
        self.status.show_workers(self.cpu_graph.cores, self.workers_model.workers(DASK), self.dask_scheduler)

    def _follow_clock(self) -> None:
        """Run the clock timer while some job is not final, and stop it once none is."""
        running = any(not view.state.is_final for view in self.jobs_model.jobs())
        if running and not self.clock_timer.isActive() and not self._shut_down:
            self.status.count_events_from(time.monotonic())
            self.clock_timer.start(CLOCK_MS)
        elif not running and self.clock_timer.isActive():
            self.clock_timer.stop()
            self._on_clock()  # the final figures
            self.status.clear_events_rate()

    def _on_clock(self) -> None:
        now = time.monotonic()
        self.jobs_model.tick(now)
        fine = any(not view.state.is_final and (view.queued_seconds(now) if view.started_at is None
                                                else view.running_seconds(now) or 0.0) < FINE_CLOCK_BELOW
                   for view in self.jobs_model.jobs())  # a clock the table shows is under FINE_CLOCK_BELOW
        interval = CLOCK_MS if fine else CLOCK_SLOW_MS
        if self.clock_timer.interval() != interval:
            self.clock_timer.setInterval(interval)
        self.status.show_events_rate(now, self.bridge.signals_emitted)

    def _update_title(self) -> None:
        prefix = self.notifier.title_prefix()
        running = [view for view in self.jobs_model.jobs() if not view.state.is_final]
        if not running:
            self.setWindowTitle(f"{prefix}poolscope")
            return
        known = [view for view in running if view.total]
        if known:
            total = sum(view.total or 0 for view in known)
            finished = sum(view.finished_tasks for view in known)
            percent = f" · {100 * finished / total:.0f}%"
        else:
            percent = ""
        noun = "job" if len(running) == 1 else "jobs"
        self.setWindowTitle(f"{prefix}poolscope · {len(running)} {noun} running{percent}")
