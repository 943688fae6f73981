"""The main window: composition and wiring only.

The window holds an :class:`Engine` (the pool), an :class:`EventBridge` reading its events
(and polling the engine's remote backends' workers), the models the bridge's updates feed, and
the widgets that render them. User actions go straight to the engine (submit, cancel,
terminate); what they cause comes back as events. Its parts are a module each, mixed into
:class:`MainWindow` or made by it:

- gui/window_layout.py: how the panes are laid out; gui/window_menus.py: the menus and their keys;
- gui/job_actions.py: submit (the Dask scheduler, a local cluster), cancel, terminate, run again;
- gui/window_updates.py: the bridge's updates taken in at a pace (tables, graphs, clocks, title);
- gui/results_saving.py: Save results; gui/status_bar.py: the status bar;
- gui/history_dock.py: the History dock; gui/quit_question.py: the question on quitting.

The window costs little at rest: nothing redraws on a timer. The graphs redraw when the bridge's
update brings telemetry samples (the sample rate); the running jobs' clocks (elapsed, ETA) tick
on the clock timer, which runs only while a job is not final.

Sizes and keys: the window fits half of a 1920 px screen (the launch panel scrolls, its Start
button stays below it in view; the graphs stack when the right side is narrow; the tables show
their most telling columns first). Tab visits every pane and leaves the tables; every action has
a shortcut (the View menu moves to each pane).

Dask: the engine is given its scheduler address when it is made (``run_gui`` passes the CLI's
``--scheduler``; none: a local cluster started on the first Dask job). A Dask job asked for with
another address in the launch panel is refused there, with the reason, and no job is created.
Start checks whether the engine can use the address asked for (a question only); the engine's
scheduler is set when the job is submitted. A local cluster is started with Ctrl-C ignored, as
``poolscope run`` starts it (core/backends/start.py).
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QEvent, QSettings, Qt
from PySide6.QtGui import QCloseEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QWidget

from poolscope.core.telemetry import logical_cores
from poolscope.gui.app import application_icon
from poolscope.gui.bridge import EventBridge
from poolscope.gui.history_dock import HistoryDock
from poolscope.gui.job_actions import JobActions, full_address
from poolscope.gui.models import JobsModel, LogModel, WorkersModel
from poolscope.gui.notify import JobEndNotifier
from poolscope.gui.quit_question import QUIT_CANCEL, QUIT_TERMINATE, ask_how_to_quit
from poolscope.gui.results_saving import ResultsSaving
from poolscope.gui.status_bar import StatusLine
from poolscope.gui.widgets.cpu_graph import CpuGraph
from poolscope.gui.widgets.job_table import JobTable
from poolscope.gui.widgets.launch_panel import LaunchPanel
from poolscope.gui.widgets.log_view import LogView
from poolscope.gui.widgets.throughput_graph import ThroughputGraph
from poolscope.gui.widgets.workers_table import WorkersTable
from poolscope.gui.window_layout import arrange_graphs, arrange_tables, first_field, first_size, launch_side, splitter
from poolscope.gui.window_menus import WindowMenus
from poolscope.gui.window_updates import WindowUpdates
from poolscope.monitor.views import LogEntry

__all__ = ["QUIT_CANCEL", "QUIT_TERMINATE", "MainWindow"]

#: Seconds a cancelled shutdown may take before what is left is terminated.
CANCEL_GRACE_SECONDS = 5.0


class MainWindow(WindowMenus, JobActions, ResultsSaving, WindowUpdates, QMainWindow):
    """Launch panel on the left; jobs, graphs, workers and log on the right."""

    def __init__(self, engine: Any, *, settings: QSettings | None = None, nice: int | None = None,
                 dask_scheduler: str | None = None, attach_listener: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine  # the pool; the window shuts it down when it closes
        # Scripts that report to this window (core/attach/listener.py AttachListener, started), or None; the
        # window stops it when it closes
        self.attach_listener = attach_listener
        # The scheduler address the engine was made with (its dask_scheduler), then the one a submitted
        # Dask job set, in full; None: a local cluster.
        self.dask_scheduler = full_address(dask_scheduler)
        self.settings = settings if settings is not None else QSettings("poolscope", "poolscope")
        self.jobs: dict[int, Any] = {}  # job id -> engine Job handle, for run again and the quit question
        self._shut_down = False
        self._quit_mode: str | None = None  # set by quit_now(): skip the question
        self.notifier = JobEndNotifier(self)  # a job that ends while the window is not in front: told

        # -- models and widgets ---------------------------------------------------------------
        self.jobs_model = JobsModel(self)
        self.workers_model = WorkersModel(self)
        self.log_model = LogModel(parent=self)
        self.launch_panel = LaunchPanel()
        self.job_table = JobTable(self.jobs_model)
        self.cpu_graph = CpuGraph(logical_cores())  # its core count follows the samples' width (the sampler's)
        self.throughput_graph = ThroughputGraph()
        self.workers_table = WorkersTable(self.workers_model)
        self.log_view = LogView(self.log_model)

        # -- layout ---------------------------------------------------------------------------
        launch, self.launch_scroll = launch_side(self.launch_panel)
        self.graphs_splitter = splitter("graphs_splitter", Qt.Orientation.Horizontal,
                                        self.cpu_graph, self.throughput_graph)
        self.bottom_splitter = splitter("bottom_splitter", Qt.Orientation.Horizontal, self.workers_table, self.log_view)
        self.right_splitter = splitter("right_splitter", Qt.Orientation.Vertical,
                                       self.job_table, self.graphs_splitter, self.bottom_splitter)
        self.right_splitter.setSizes([240, 420, 250])
        self.bottom_splitter.setSizes([700, 500])  # the workers table's columns fit without scrolling
        self.main_splitter = splitter("main_splitter", Qt.Orientation.Horizontal, launch, self.right_splitter)
        self.main_splitter.setStretchFactor(0, 0)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setSizes([280, 1200])
        arrange_tables(self.job_table.view, self.workers_table.view)
        for label in self.throughput_graph.findChildren(QLabel):  # a narrow graph clips its header's text
            label.setMinimumWidth(24)
        self.setCentralWidget(self.main_splitter)
        self._splitters = (self.main_splitter, self.right_splitter, self.graphs_splitter, self.bottom_splitter,
                           self.log_view.splitter)
        self.status = StatusLine(self.statusBar(), workers=engine.workers, nice=nice)
        self.status_workers = self.status.workers_label
        self._update_status()
        self._build_menus()

        # -- wiring ---------------------------------------------------------------------------
        self._follow_job_actions()
        self.job_table.save_results_requested.connect(self.save_results)
        self.results_saved.connect(self._results_saved)
        self.results_saving.connect(self._results_saving)
        self.log_view.job_clicked.connect(self.select_job)
        self.workers_table.job_clicked.connect(self.select_job)
        self.bridge = EventBridge(engine.events, backend_workers=engine.backend_workers, parent=self,
                                  attached=attach_listener.incoming if attach_listener is not None else None)
        self._follow_updates()
        self.bridge.start()

        first_size(self)
        self._add_history_dock()
        self.restore_settings()
        if dask_scheduler:  # given on the command line: it is the one this engine can use
            self.launch_panel.set_scheduler_address(dask_scheduler)
        self._update_title()
        self.setWindowIcon(application_icon())
        self._build_graph_actions()
        self._build_help_menu()

    def _add_history_dock(self) -> None:
        """The History dock (View > History, Ctrl+H): past jobs, run again or edited in the launch panel."""
        self.history_dock = dock = HistoryDock(self, self.engine)
        self.history, self.history_view, self.history_recorder = dock.history, dock.view, dock.recorder
        self._add_view_toggle(dock.toggleViewAction())
        self.history_view.run_again_requested.connect(self._run_again_from_history)
        self.history_view.edit_requested.connect(self._edit_from_history)
        self.history_view.saved.connect(self._results_saved)
        self.history_view.notice.connect(self._history_notice)
        for message in self.history.messages:  # what opening it found (a history moved aside, ...)
            self._history_notice(message)

    def _run_again_from_history(self, spec: Any) -> None:
        """A past job's settings into the launch panel, and Start (which checks user code first)."""
        self.launch_panel.show_spec(spec)
        self.launch_panel.start()

    def _edit_from_history(self, spec: Any) -> None:
        self.launch_panel.show_spec(spec)
        self.focus_pane(self.launch_panel)

    def _history_notice(self, message: str) -> None:
        self.log_model.append([LogEntry(time=time.time(), level="info", message=message)])
        self.status.say(message)

    def focus_pane(self, widget: QWidget) -> None:
        """Give the keyboard to ``widget`` (a pane, or its first field), showing it if it scrolled away."""
        if widget is self.launch_panel:  # its first field that takes Tab
            widget = first_field(widget, self)
            self.launch_scroll.ensureWidgetVisible(widget)
        widget.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        arrange_graphs(self.right_splitter, self.graphs_splitter)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        arrange_graphs(self.right_splitter, self.graphs_splitter)
        self.cpu_graph.refresh()  # what came while hidden (no redraw then)
        self.throughput_graph.refresh()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if (event.type() in (QEvent.Type.ActivationChange, QEvent.Type.WindowStateChange) and hasattr(self, "notifier")
                and self.notifier.in_front() and self.notifier.came_to_front()):
            self._update_title()  # what ended while away is seen now

    # -- quitting ------------------------------------------------------------------------------

    def running_jobs(self) -> list[Any]:
        """Engine handles of the jobs not yet final (the engine's word, not the table's)."""
        return [job for job in self.jobs.values() if not job.state.is_final]

    def ask_how_to_quit(self, running: int) -> str | None:
        """Ask whether to cancel or terminate the running jobs; None: do not quit (see
        gui/quit_question.py: the count follows :meth:`running_jobs` while it is asked)."""
        return ask_how_to_quit(self, running, lambda: len(self.running_jobs()))

    def quit_now(self, mode: str = QUIT_CANCEL) -> None:
        """Close without asking, stopping running jobs the given way (e.g. on SIGINT)."""
        self._quit_mode = mode
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
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
        self._stop_updates()
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
            if self.history_recorder is not None:
                self.history_recorder.close()  # after the engine's last events
            if self.attach_listener is not None:
                self.attach_listener.stop()  # scripts go on running, without the window
            self.bridge.stop()
            self._take_last_update()
            QApplication.restoreOverrideCursor()

    # -- settings ------------------------------------------------------------------------------

    def save_settings(self) -> None:
        settings = self.settings
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        for part in self._splitters:
            settings.setValue(f"splitters/{part.objectName()}", part.saveState())
        settings.setValue("graphs/cpu_history", self.cpu_graph.history)
        settings.setValue("graphs/throughput_history", self.throughput_graph.history)
        settings.setValue("graphs/cpu_smooth", self.cpu_graph.smooth)
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
        for part in self._splitters:
            value = settings.value(f"splitters/{part.objectName()}")
            if value is not None:
                part.restoreState(value)
        graphs = (("graphs/cpu_history", self.cpu_graph), ("graphs/throughput_history", self.throughput_graph))
        for key, graph in graphs:
            value = settings.value(key)
            try:
                if value is not None and int(value) != graph.history:
                    graph.set_history(int(value))
            except (TypeError, ValueError):
                pass
        self.cpu_graph.set_smooth(bool(settings.value("graphs/cpu_smooth", False, type=bool)))
        self.launch_panel.restore_settings(settings)
