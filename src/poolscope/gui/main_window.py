"""The main window: composition and wiring only.

The window holds an :class:`Engine` (the pool), an :class:`EventBridge` reading its events
(and polling the engine's remote backends' workers), the models the bridge's updates feed, and
the widgets that render them. User actions go straight to the engine (submit, cancel,
terminate); what they cause comes back as events. One QTimer (the frame timer) redraws the
graphs and the running jobs' clocks.

Dask: the engine is given its scheduler address when it is made (``run_gui`` passes the CLI's
``--scheduler``; none: a local cluster started on the first Dask job). A Dask job asked for with
another address in the launch panel is refused there, with the reason, and no job is created.
A local cluster is started with Ctrl-C ignored, as ``poolscope run`` starts it (see
:meth:`MainWindow.submit`).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QWidget,
)

from poolscope.core.backends import DASK
from poolscope.core.errors import SpecError
from poolscope.core.jobs import JobSpec
from poolscope.core.processes import ignore_sigint
from poolscope.core.telemetry import logical_cores
from poolscope.gui.bridge import BridgeUpdate, EventBridge, LogEntry
from poolscope.gui.models import JobsModel, LogModel, WorkersModel
from poolscope.gui.widgets.cpu_graph import CpuGraph
from poolscope.gui.widgets.job_table import JobTable
from poolscope.gui.widgets.launch_panel import LaunchPanel, parse_scheduler_address
from poolscope.gui.widgets.log_view import LogView
from poolscope.gui.widgets.throughput_graph import ThroughputGraph
from poolscope.gui.widgets.workers_table import WorkersTable

__all__ = ["MainWindow", "QUIT_CANCEL", "QUIT_TERMINATE"]

#: How the window quits while jobs run: ask them to stop, or kill them.
QUIT_CANCEL = "cancel"
QUIT_TERMINATE = "terminate"
#: Seconds a cancelled shutdown may take before what is left is terminated.
CANCEL_GRACE_SECONDS = 5.0
#: The frame timer's period (ms): the graphs redraw at this rate.
FRAME_MS = 50
#: Every this many frames the running jobs' elapsed time and ETA are repainted.
CLOCK_EVERY_FRAMES = 4
#: How often the quit question recounts the running jobs while it is open (ms).
QUIT_QUESTION_REFRESH_MS = 200
#: A save of results pauses this long every thousand lines, so the main thread gets the GIL.
SAVE_PAUSE_SECONDS = 0.002
#: How often a long save says how far it got, in the status bar.
SAVE_PROGRESS_SECONDS = 0.5
#: Seconds the window waits for a local Dask cluster to start before it takes Ctrl-C back.
DASK_START_TIMEOUT = 120.0
#: How long a notice from the engine (e.g. "threads cannot be killed") stays in the status bar (ms).
NOTICE_MS = 20_000


def _full_address(address: str | None) -> str | None:
    """A scheduler address in the launch panel's full form (tcp://host:port), for comparing."""
    if not address:
        return None
    try:
        return parse_scheduler_address(address)
    except SpecError:
        return address.strip()


def _still_running_text(running: int) -> str:
    """The quit question's text for ``running`` jobs not yet final."""
    if running == 0:
        return "No job is running any more."
    return f"{running} {'job is' if running == 1 else 'jobs are'} still running."


class MainWindow(QMainWindow):
    """Launch panel on the left; jobs, graphs, workers and log on the right."""

    job_submitted = Signal(object)  # Job: a job the window submitted to the engine
    # int (its worker slots) or the exception: the local Dask cluster has started, or failed to;
    # emitted from the thread that waited for it
    local_cluster_started = Signal(object)
    # (job id, path, how many results or the OSError): a save of results ended; from its thread
    results_saved = Signal(int, str, object)
    results_saving = Signal(int, int)  # (job id, results written so far): a save goes on; from its thread

    def __init__(self, engine: Any, *, settings: QSettings | None = None, nice: int | None = None,
                 dask_scheduler: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine  # the pool; the window shuts it down when it closes
        # The scheduler address the engine was made with (its dask_scheduler); None: a local cluster.
        self.dask_scheduler = dask_scheduler
        self._nice = nice
        self.settings = settings if settings is not None else QSettings("poolscope", "poolscope")
        self.jobs: dict[int, Any] = {}  # job id -> engine Job handle, for run again and the quit question
        self._shut_down = False
        self._quit_mode: str | None = None  # set by quit_now(): skip the question
        self._frames = 0
        # Puts SIGINT's handler back once the local Dask cluster has started (see submit); None:
        # no cluster is starting. Main thread only.
        self._restore_sigint: Any = None
        self._local_cluster_up = False  # the local Dask cluster started (this window's engine keeps it)

        # -- models and widgets ---------------------------------------------------------------
        self.jobs_model = JobsModel(self)
        self.workers_model = WorkersModel(self)
        self.log_model = LogModel(parent=self)
        self.launch_panel = LaunchPanel()
        self.job_table = JobTable(self.jobs_model)
        cores = logical_cores()
        self.cpu_graph = CpuGraph(cores)
        self.throughput_graph = ThroughputGraph()
        self.workers_table = WorkersTable(self.workers_model)
        self.log_view = LogView(self.log_model)

        # -- layout ---------------------------------------------------------------------------
        launch_scroll = QScrollArea()
        launch_scroll.setWidget(self.launch_panel)
        launch_scroll.setWidgetResizable(True)
        launch_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        launch_scroll.setMinimumWidth(self.launch_panel.minimumSizeHint().width() + 24)
        self.graphs_splitter = self._splitter("graphs_splitter", Qt.Orientation.Horizontal,
                                              self.cpu_graph, self.throughput_graph)
        self.bottom_splitter = self._splitter("bottom_splitter", Qt.Orientation.Horizontal,
                                              self.workers_table, self.log_view)
        self.right_splitter = self._splitter("right_splitter", Qt.Orientation.Vertical,
                                             self.job_table, self.graphs_splitter, self.bottom_splitter)
        self.right_splitter.setSizes([170, 460, 250])
        self.bottom_splitter.setSizes([700, 500])  # the workers table's columns fit without scrolling
        self.main_splitter = self._splitter("main_splitter", Qt.Orientation.Horizontal, launch_scroll,
                                            self.right_splitter)
        self.main_splitter.setStretchFactor(0, 0)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setSizes([340, 1200])
        self.setCentralWidget(self.main_splitter)
        self._splitters = (self.main_splitter, self.right_splitter, self.graphs_splitter, self.bottom_splitter,
                           self.log_view.splitter)

        self.status_workers = QLabel()
        self.status_workers.setObjectName("status_workers")
        self.status_events = QLabel()
        self.statusBar().addWidget(self.status_workers)
        self.statusBar().addPermanentWidget(self.status_events)
        self._cores = cores
        self._update_status()
        self._events_seen = 0
        self._events_at = (time.monotonic(), 0)

        self.quit_action = QAction("Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        if QKeySequence(QKeySequence.StandardKey.Quit).isEmpty():
            self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quit_action.triggered.connect(self.close)
        self.addAction(self.quit_action)
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.quit_action)
        jobs_menu = self.menuBar().addMenu("&Jobs")
        for action in (self.job_table.cancel_action, self.job_table.terminate_action,
                       self.job_table.run_again_action, self.job_table.save_results_action,
                       self.job_table.clear_action):
            jobs_menu.addAction(action)

        # -- wiring ---------------------------------------------------------------------------
        self.launch_panel.launch_requested.connect(self.submit)
        self.local_cluster_started.connect(self._local_cluster_ready)
        self.launch_panel.set_scheduler_check(self.dask_scheduler_problem)
        self.job_table.cancel_requested.connect(self.cancel_jobs)
        self.job_table.terminate_requested.connect(self.terminate_jobs)
        self.job_table.run_again_requested.connect(self.run_again)
        self.job_table.clear_finished_requested.connect(self.clear_finished)
        self.job_table.save_results_requested.connect(self.save_results)
        self.results_saved.connect(self._results_saved)
        self.results_saving.connect(self._results_saving)
        self.log_view.job_clicked.connect(self.select_job)
        self.workers_table.job_clicked.connect(self.select_job)

        self.bridge = EventBridge(engine.events, backend_workers=engine.backend_workers, parent=self)
        self.bridge.updates_ready.connect(self._take_update)
        self.bridge.start()

        self.frame_timer = QTimer(self)  # the one timer that redraws graphs and clocks
        self.frame_timer.setObjectName("frame_timer")
        self.frame_timer.setInterval(FRAME_MS)
        self.frame_timer.timeout.connect(self._on_frame)
        self.frame_timer.start()

        self.resize(1500, 950)
        self.restore_settings()
        if dask_scheduler:  # given on the command line: it is the one this engine can use
            self.launch_panel.set_scheduler_address(dask_scheduler)
        self._update_title()

    def _splitter(self, name: str, orientation: Qt.Orientation, *widgets: QWidget) -> QSplitter:
        splitter = QSplitter(orientation)
        splitter.setObjectName(name)
        splitter.setChildrenCollapsible(False)
        for widget in widgets:
            splitter.addWidget(widget)
        return splitter

    # -- user actions --------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> Any:
        """Start ``spec`` on the engine; its row appears when the engine reports it. Returns the
        engine's Job, or None (and a log line) if the engine refused it.

        The first Dask job on a local cluster starts the cluster (in the engine's thread, with the
        job). Like ``poolscope run``, the window ignores Ctrl-C meanwhile, so that the cluster's
        worker processes start with it ignored (see :func:`poolscope.core.processes.ignore_sigint`); it does
        not block its own thread for that: a helper thread waits for the cluster and
        ``local_cluster_started`` gives Ctrl-C back to the window.
        """
        starts_cluster = (spec.backend == DASK and not self._local_cluster_up and self._restore_sigint is None
                          and self.engine.dask_scheduler is None)
        if starts_cluster:
            self._restore_sigint = ignore_sigint()
        try:
            job = self.engine.submit(spec)
        except Exception as exc:  # noqa: BLE001 - e.g. the pool is shutting down: say so, do not crash
            if starts_cluster:
                self._take_sigint_back()
            self.log_model.append([LogEntry(time=time.time(), level="error", message=f"Could not start "
                                            f"{spec.describe()}: {type(exc).__name__}: {exc}")])
            return None
        if starts_cluster:
            self._wait_for_local_cluster()
        self.jobs[job.id] = job
        self.launch_panel.save_settings(self.settings)
        self.job_submitted.emit(job)
        return job

    def _wait_for_local_cluster(self) -> None:
        """Wait, in a helper thread, for the local Dask cluster the job just submitted starts."""
        self.statusBar().showMessage("Starting a local Dask cluster (Ctrl-C in the terminal waits until "
                                     "it has started) ...", NOTICE_MS)
        engine, started = self.engine, self.local_cluster_started

        def wait() -> None:
            result: Any
            try:
                # Queued after the job, so it returns once the job's start of the cluster is over.
                result = engine.start_backend(DASK, timeout=DASK_START_TIMEOUT)
            except BaseException as exc:  # noqa: BLE001 - the job reports its own failure
                result = exc
            try:
                started.emit(result)
            except RuntimeError:  # the window is gone; so is the handler it would restore
                pass

        threading.Thread(target=wait, name="poolscope-dask-start", daemon=True).start()

    def _local_cluster_ready(self, result: Any) -> None:
        if self._restore_sigint is None:
            return  # the window shut down meanwhile
        self._take_sigint_back()
        if isinstance(result, BaseException):
            self.statusBar().clearMessage()  # the job's row and the log say why
            return
        self._local_cluster_up = True
        self.statusBar().showMessage(f"The local Dask cluster is ready: {result} worker threads", NOTICE_MS)

    def _take_sigint_back(self) -> None:
        restore, self._restore_sigint = self._restore_sigint, None
        if restore is not None:
            restore()

    def dask_scheduler_problem(self, address: str | None) -> str | None:
        """Make ``address`` (None: a local cluster) the engine's Dask scheduler, or say why not.

        Called when Start is pressed for a Dask job. Any address will do until Dask has started;
        after that only the one it runs on.
        """
        wanted = _full_address(address)
        try:
            self.engine.set_dask_scheduler(wanted)
        except RuntimeError:
            configured = _full_address(self.engine.dask_scheduler)
            where = "a local cluster" if configured is None else f"the scheduler at {configured}"
            target = "a local cluster" if wanted is None else wanted
            command = "poolscope gui --backend dask" + (f" --scheduler {wanted}" if wanted else "")
            return (f"this window already runs Dask jobs on {where}; to use {target}, "
                    f"start a new window: {command}")
        self.dask_scheduler = wanted
        return None

    def cancel_jobs(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.engine.cancel(job_id)

    def terminate_jobs(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.engine.terminate(job_id)

    def run_again(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            job = self.jobs.get(job_id)
            if job is not None:
                self.submit(job.spec)

    def clear_finished(self) -> None:
        removed = self.jobs_model.remove_finished()
        for job_id in removed:
            self.jobs.pop(job_id, None)
            self.engine.forget(job_id)  # its results and errors: the window no longer offers them
            self.bridge.forget_job(job_id)
            self.throughput_graph.forget_job(job_id)
        self.workers_model.forget_job_names(removed)

    def save_results(self, job_id: int, path: str | None = None) -> bool:
        """Write a job's finished results to ``path`` (asked for when None), in a thread.

        Returns whether a save started; ``results_saved`` says how it ended. A running job's
        results are those finished so far.
        """
        job = self.jobs.get(job_id)
        if job is None:
            return False
        if path is None:
            suggested = os.path.join(self.settings.value("results/folder", os.getcwd(), type=str),
                                     f"{job.name}-{job_id}-results.jsonl")
            path, _ = QFileDialog.getSaveFileName(self, f"Save the results of job {job_id} ({job.name})",
                                                  suggested, "JSON Lines (*.jsonl);;All files (*)")
            if not path:
                return False
            self.settings.setValue("results/folder", os.path.dirname(path))
        self.statusBar().showMessage(f"Saving the results of job {job_id} to {path} ...", NOTICE_MS)
        signal, saving = self.results_saved, self.results_saving
        told = [time.monotonic()]

        def pause(count: int) -> None:
            # Writing is Python work that holds the GIL: pause a little every thousand lines, or
            # the main thread waits for the GIL at each call into Qt and the window stalls.
            time.sleep(SAVE_PAUSE_SECONDS)
            if time.monotonic() - told[0] >= SAVE_PROGRESS_SECONDS:
                told[0] = time.monotonic()
                saving.emit(job_id, count)

        def save() -> None:
            outcome: Any
            try:
                outcome = job.save_results(path, progress=pause)
            except OSError as exc:
                outcome = exc
            try:
                signal.emit(job_id, path, outcome)
            except RuntimeError:  # the window is gone
                pass

        threading.Thread(target=save, name="poolscope-save-results", daemon=True).start()
        return True

    def _results_saving(self, job_id: int, count: int) -> None:
        self.statusBar().showMessage(f"Saving the results of job {job_id}: {count:,} so far ...", NOTICE_MS)

    def _results_saved(self, job_id: int, path: str, outcome: Any) -> None:
        if isinstance(outcome, OSError):
            message = f"Could not save the results of job {job_id} to {path}: {outcome.strerror or outcome}"
            self.log_model.append([LogEntry(time=time.time(), level="error", message=message, job_id=job_id)])
            self.statusBar().showMessage(f"✖ {message}", NOTICE_MS)
            return
        noun = "result" if outcome == 1 else "results"
        message = f"Saved {outcome:,} {noun} of job {job_id} to {path}"
        self.log_model.append([LogEntry(time=time.time(), level="info", message=message, job_id=job_id)])
        self.statusBar().showMessage(message, NOTICE_MS)

    def select_job(self, job_id: int) -> None:
        self.job_table.select_jobs([job_id])

    # -- updates -------------------------------------------------------------------------------

    def _take_update(self) -> None:
        update = self.bridge.take_update()
        if update is not None:
            self.apply_update(update)

    def apply_update(self, update: BridgeUpdate) -> None:
        if update.jobs:
            # a job's name never changes after JobSubmitted: pass it on once, for the jobs new here
            names = {job_id: view.name for job_id, view in update.jobs.items()
                     if self.jobs_model.row_of(job_id) is None}
            if names:
                self.workers_model.set_job_names(names)
                for job_id, name in names.items():
                    self.throughput_graph.set_job_name(job_id, name)
            self.jobs_model.apply(update.jobs)
        if update.workers:
            self.workers_model.apply(update.workers)  # the workers table's title follows the model
            if any(view.backend == DASK for view in update.workers.values()):
                self._update_status()
        if update.log:
            self.log_view.append(update.log)
        if update.notices:
            more = len(update.notices) - 1
            self.show_notice(update.notices[-1].message + (f" (and {more} more in the log)" if more else ""))
        if update.samples:
            self.cpu_graph.add_samples(update.samples)
            self.throughput_graph.add_samples(update.samples)
        if update.cluster:
            self.cpu_graph.add_cluster_samples(update.cluster)
        self._events_seen += update.events
        if update.jobs:
            self._update_title()

    def show_notice(self, message: str) -> None:
        """Show something the engine said about a job plainly, in the status bar (it is in the log too)."""
        self.statusBar().showMessage(f"⚠ {message}", NOTICE_MS)

    def _update_status(self) -> None:
        nice_text = f", nice {self._nice}" if self._nice is not None else ""
        processes = "worker process" if self.engine.workers == 1 else "worker processes"
        text = f"{self.engine.workers} {processes}{nice_text} · {self._cores} logical cores"
        dask_workers = self.workers_model.workers(DASK)
        if dask_workers:
            threads = sum(view.nthreads for view in dask_workers)
            where = "local cluster" if self.dask_scheduler is None else _full_address(self.dask_scheduler)
            text += (f" · Dask: {len(dask_workers)} worker{'s' if len(dask_workers) != 1 else ''}, "
                     f"{threads} thread{'s' if threads != 1 else ''} ({where})")
        elif self.dask_scheduler:
            text += f" · Dask: {_full_address(self.dask_scheduler)}"
        self.status_workers.setText(text)

    def _on_frame(self) -> None:
        self._frames += 1
        now = time.monotonic()
        if self.isVisible() and not self.isMinimized():
            self.cpu_graph.refresh(now)
            self.throughput_graph.refresh(now)
        if self._frames % CLOCK_EVERY_FRAMES == 0:
            self.jobs_model.tick(now)
            since, seen = self._events_at
            if now - since >= 1.0:
                rate = (self._events_seen - seen) / (now - since)
                self.status_events.setText(f"{rate:,.0f} events/s · {self.bridge.signals_emitted:,} updates")
                self._events_at = (now, self._events_seen)

    def _update_title(self) -> None:
        running = [view for view in self.jobs_model.jobs() if not view.state.is_final]
        if not running:
            self.setWindowTitle("poolscope")
            return
        known = [view for view in running if view.total]
        if known:
            total = sum(view.total or 0 for view in known)
            finished = sum(view.finished_tasks for view in known)
            percent = f" · {100 * finished / total:.0f}%"
        else:
            percent = ""
        noun = "job" if len(running) == 1 else "jobs"
        self.setWindowTitle(f"poolscope · {len(running)} {noun} running{percent}")

    # -- quitting ------------------------------------------------------------------------------

    def running_jobs(self) -> list[Any]:
        """Engine handles of the jobs not yet final (the engine's word, not the table's)."""
        return [job for job in self.jobs.values() if not job.state.is_final]

    def ask_how_to_quit(self, running: int) -> str | None:
        """Ask whether to cancel or terminate the running jobs; None: do not quit.

        ``running`` is the count when asked; while the question is open its text follows
        :meth:`running_jobs` (every ``QUIT_QUESTION_REFRESH_MS``), so a job that ends meanwhile
        is no longer counted. If all of them end, it says so, and either quit choice still quits.
        """
        box = QMessageBox(self)
        box.setObjectName("quit_question")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Quit poolscope")
        box.setText(_still_running_text(running))
        box.setInformativeText("Cancel lets running tasks stop cleanly (a few seconds at most); "
                               "Terminate kills them at once.")
        cancel = box.addButton("Cancel jobs and quit", QMessageBox.ButtonRole.AcceptRole)
        terminate = box.addButton("Terminate jobs and quit", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(cancel)

        def recount_running() -> None:
            text = _still_running_text(len(self.running_jobs()))
            if text != box.text():
                box.setText(text)

        recount = QTimer(box)  # the count in the text, kept live while the question is open
        recount.setInterval(QUIT_QUESTION_REFRESH_MS)
        recount.timeout.connect(recount_running)
        recount.start()
        try:
            box.exec()
        finally:
            recount.stop()
        clicked = box.clickedButton()
        box.deleteLater()
        if clicked is cancel:
            return QUIT_CANCEL
        if clicked is terminate:
            return QUIT_TERMINATE
        return None

    def quit_now(self, mode: str = QUIT_CANCEL) -> None:
        """Close without asking, stopping running jobs the given way (e.g. on SIGINT)."""
        self._quit_mode = mode
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self._shut_down:
            event.accept()
            return
        mode = self._quit_mode or QUIT_CANCEL
        running = self.running_jobs()
        if running and self._quit_mode is None:
            choice = self.ask_how_to_quit(len(running))
            if choice is None:
                event.ignore()
                return
            mode = choice
        self.save_settings()
        self.shutdown(mode)
        event.accept()

    def shutdown(self, mode: str = QUIT_CANCEL) -> None:
        """Stop the jobs (``mode``), the pool and the bridge. No worker process is left after it."""
        if self._shut_down:
            return
        self._shut_down = True
        self.frame_timer.stop()
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        self.bridge.stop_polling()  # before the engine closes its Dask client
        try:
            if mode == QUIT_TERMINATE:
                self.engine.shutdown(terminate=True, timeout=10)
            else:
                self.engine.shutdown(cancel=True, timeout=CANCEL_GRACE_SECONDS)
                self.engine.shutdown(terminate=True, timeout=10)  # what did not stop in time
        finally:
            self._take_sigint_back()  # a local Dask cluster still starting was stopped with the engine
            self.bridge.stop()
            update = self.bridge.take_update()
            if update is not None:
                self.apply_update(update)
            QApplication.restoreOverrideCursor()

    # -- settings ------------------------------------------------------------------------------

    def save_settings(self) -> None:
        settings = self.settings
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        for splitter in self._splitters:
            settings.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        settings.setValue("graphs/cpu_history", self.cpu_graph.history)
        settings.setValue("graphs/throughput_history", self.throughput_graph.history)
        self.launch_panel.save_settings(settings)
        settings.sync()

    def restore_settings(self) -> None:
        settings = self.settings
        geometry = settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        for splitter in self._splitters:
            value = settings.value(f"splitters/{splitter.objectName()}")
            if value is not None:
                splitter.restoreState(value)
        for key, graph in (("graphs/cpu_history", self.cpu_graph), ("graphs/throughput_history", self.throughput_graph)):
            value = settings.value(key)
            try:
                if value is not None and int(value) != graph.history:
                    graph.set_history(int(value))
            except (TypeError, ValueError):
                pass
        self.launch_panel.restore_settings(settings)

