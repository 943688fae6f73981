"""The main window: composition and wiring only.

The window holds an :class:`Engine` (the pool), an :class:`EventBridge` reading its events
(and polling the engine's remote backends' workers), the models the bridge's updates feed, and
the widgets that render them. User actions go straight to the engine (submit, cancel,
terminate); what they cause comes back as events.

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
``poolscope run`` starts it (see :meth:`MainWindow.submit`).
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDockWidget,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from poolscope.core.backends import DASK, backend_info
from poolscope.core.backends.start import BackendStart
from poolscope.core.errors import SpecError
from poolscope.core.jobs import JobSpec
from poolscope.core.telemetry import logical_cores
from poolscope.gui.about import AboutDialog
from poolscope.gui.app import application_icon
from poolscope.gui.bridge import EventBridge
from poolscope.gui.models import JobsModel, LogModel, WorkersModel
from poolscope.gui.notify import JobEndNotifier
from poolscope.gui.shortcuts import ShortcutsDialog, key_sequence, make_action, shortcut
from poolscope.gui.widgets.cpu_graph import CpuGraph
from poolscope.gui.widgets.job_table import JobTable
from poolscope.gui.widgets.launch_panel import LaunchPanel, parse_scheduler_address
from poolscope.gui.widgets.log_view import LogView
from poolscope.gui.widgets.throughput_graph import ThroughputGraph
from poolscope.gui.widgets.workers_table import WorkersTable
from poolscope.monitor.views import BridgeUpdate, LogEntry

__all__ = ["QUIT_CANCEL", "QUIT_TERMINATE", "MainWindow"]

#: How the window quits while jobs run: ask them to stop, or kill them.
QUIT_CANCEL = "cancel"
QUIT_TERMINATE = "terminate"
#: Seconds a cancelled shutdown may take before what is left is terminated.
CANCEL_GRACE_SECONDS = 5.0
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
#: How often the status bar's events/s figure is recounted while jobs run (seconds).
EVENTS_STATUS_SECONDS = 1.0
#: Below this width of the right-hand side (px) the two graphs stack instead of standing side by side.
GRAPHS_SIDE_BY_SIDE_MIN = 760
#: The columns of the jobs and workers tables, in the order shown: what tells most first, so that
#: a narrow window still shows it (columns not named keep their place after these).
JOB_COLUMN_ORDER = ("ID", "Name", "State", "Progress", "Done / total", "ETA", "Rate", "Elapsed", "Failed")
WORKER_COLUMN_ORDER = ("PID", "State", "CPU %", "Memory", "Job", "Task", "Tasks done", "Worker")
#: The width of the jobs table's progress bars (px).
PROGRESS_WIDTH = 100
#: A typical value of the jobs table's columns, to size them by.
JOB_TYPICAL = {"ID": "999", "Name": "mandelbrot", "State": "cancelling", "Done / total": "88,888 / 100,000",
               "ETA": "1:23:45", "Rate": "12,345/s", "Queued": "12:34", "Running": "1:23:45", "Failed": "1,234"}
#: The window's size the first time it opens (px), on a screen big enough for it.
FIRST_SIZE = (1500, 950)
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
HISTORY_DOCK_MIN = 180  # px: the History dock's first height at least (a third of the window)


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
                 dask_scheduler: str | None = None, attach_listener: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine  # the pool; the window shuts it down when it closes
        # Scripts that report to this window (core/attach/listener.py AttachListener, started), or None; the
        # window stops it when it closes
        self.attach_listener = attach_listener
        # The scheduler address the engine was made with (its dask_scheduler); None: a local cluster.
        self.dask_scheduler = dask_scheduler
        self._nice = nice
        self.settings = settings if settings is not None else QSettings("poolscope", "poolscope")
        self.jobs: dict[int, Any] = {}  # job id -> engine Job handle, for run again and the quit question
        self._shut_down = False
        self._quit_mode: str | None = None  # set by quit_now(): skip the question
        # The local Dask cluster's start while it holds SIGINT ignored (see submit); None: no
        # cluster is starting. Main thread only.
        self._cluster_start: BackendStart | None = None
        self._local_cluster_up = False  # the local Dask cluster started (this window's engine keeps it)
        self.notifier = JobEndNotifier(self)  # a job that ends while the window is not in front: told

        # -- models and widgets ---------------------------------------------------------------
        self.jobs_model = JobsModel(self)
        self.workers_model = WorkersModel(self)
        self.log_model = LogModel(parent=self)
        self.launch_panel = LaunchPanel()
        self.job_table = JobTable(self.jobs_model)
        cores = logical_cores()
        self.cpu_graph = CpuGraph(cores)  # its core count follows the samples' width (the sampler's)
        self.throughput_graph = ThroughputGraph()
        self.workers_table = WorkersTable(self.workers_model)
        self.log_view = LogView(self.log_model)

        # -- layout ---------------------------------------------------------------------------
        launch_scroll = QScrollArea()
        launch_scroll.setWidget(self.launch_panel)
        launch_scroll.setWidgetResizable(True)
        launch_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        launch_scroll.setMinimumWidth(self.launch_panel.minimumSizeHint().width() + 24)
        launch_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes into the panel's fields, not the frame
        # Start stays in view under the scrolling form, however short the window
        launch_side = QWidget()
        launch_side.setObjectName("launch_side")
        launch_layout = QVBoxLayout(launch_side)
        launch_layout.setContentsMargins(0, 0, 0, 4)
        launch_layout.addWidget(launch_scroll, 1)
        panel_layout = self.launch_panel.layout()
        assert panel_layout is not None  # the panel lays itself out in its constructor
        panel_layout.removeWidget(self.launch_panel.start_button)
        launch_layout.addWidget(self.launch_panel.start_button)
        self.launch_scroll = launch_scroll
        self.graphs_splitter = self._splitter("graphs_splitter", Qt.Orientation.Horizontal,
                                              self.cpu_graph, self.throughput_graph)
        self.bottom_splitter = self._splitter("bottom_splitter", Qt.Orientation.Horizontal,
                                              self.workers_table, self.log_view)
        self.right_splitter = self._splitter("right_splitter", Qt.Orientation.Vertical,
                                             self.job_table, self.graphs_splitter, self.bottom_splitter)
        self.right_splitter.setSizes([240, 420, 250])
        self.bottom_splitter.setSizes([700, 500])  # the workers table's columns fit without scrolling
        self.main_splitter = self._splitter("main_splitter", Qt.Orientation.Horizontal, launch_side,
                                            self.right_splitter)
        self.main_splitter.setStretchFactor(0, 0)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setSizes([280, 1200])
        self._arrange_tables()
        for label in self.throughput_graph.findChildren(QLabel):  # a narrow graph clips its header's text
            label.setMinimumWidth(24)
        self.setCentralWidget(self.main_splitter)
        self._splitters = (self.main_splitter, self.right_splitter, self.graphs_splitter, self.bottom_splitter,
                           self.log_view.splitter)

        self.status_workers = QLabel()
        self.status_workers.setObjectName("status_workers")
        self.status_events = QLabel()
        self.statusBar().addWidget(self.status_workers)
        self.statusBar().addPermanentWidget(self.status_events)
        self._update_status()
        self._events_seen = 0
        self._events_at = (time.monotonic(), 0)

        self.quit_action = make_action("quit", self, self.close, context=Qt.ShortcutContext.ApplicationShortcut)
        self.file_menu = menu = self.menuBar().addMenu("&File")
        menu.addAction(self.quit_action)
        jobs_menu = self.menuBar().addMenu("&Jobs")
        # the Start button's key is the menu's (two owners of one key would make it do nothing)
        self.start_action = make_action("start_job", self, self.launch_panel.start_button.click)
        self.launch_panel.start_button.setShortcut(QKeySequence())
        jobs_menu.addAction(self.start_action)
        for action in (self.job_table.cancel_action, self.job_table.terminate_action,
                       self.job_table.run_again_action, self.job_table.save_results_action,
                       self.job_table.clear_action):
            jobs_menu.addAction(action)
        jobs_menu.addSeparator()
        jobs_menu.addAction(self.log_view.show_full_action)
        jobs_menu.addAction(self.log_view.find_action)
        self.view_menu = self.menuBar().addMenu("&View")
        self.pane_actions: dict[str, QAction] = {}
        for name, widget in (("launch", self.launch_panel), ("jobs", self.job_table.view),
                             ("cpu", self.cpu_graph.history_combo), ("throughput", self.throughput_graph.history_combo),
                             ("workers", self.workers_table.view), ("log", self.log_view.list)):
            action = make_action(f"go_to_{name}", self, lambda _=False, w=widget: self.focus_pane(w))
            self.view_menu.addAction(action)
            self.pane_actions[name] = action
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.cpu_graph.smooth_action)
        for view in (self.job_table.view, self.workers_table.view):
            view.setTabKeyNavigation(False)  # Tab leaves the table; the arrow keys move between cells

        # -- wiring ---------------------------------------------------------------------------
        self.launch_panel.launch_requested.connect(self._submit_from_panel)
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

        self.bridge = EventBridge(engine.events, backend_workers=engine.backend_workers, parent=self,
                                  attached=attach_listener.incoming if attach_listener is not None else None)
        self.bridge.updates_ready.connect(self._take_update)
        self._last_taken = 0.0  # time.monotonic() when the window last took an update
        self._graphs_at = 0.0  # time.monotonic() of the graphs' last redraw
        self._workers_at = 0.0  # ... and of the workers table's last update
        self._pending_workers: dict[int | str, Any] = {}  # worker changes held back until WORKERS_MIN_MS
        self._graphs_stale = False  # samples came that the graphs have not drawn yet
        self._worker_keys: set[int | str] = set()  # the workers in the table (WorkerView.key)
        self._take_timer = QTimer(self)  # takes the waiting update once UPDATE_MIN_MS have passed
        self._take_timer.setSingleShot(True)
        self._take_timer.timeout.connect(self._take_update_now)
        self.bridge.start()

        # Repaints the running jobs' clocks; runs only while some job is not final (see _follow_clock).
        self.clock_timer = QTimer(self)
        self.clock_timer.setObjectName("clock_timer")
        self.clock_timer.setInterval(CLOCK_MS)
        self.clock_timer.timeout.connect(self._on_clock)

        # the first size, before saved settings: roomy, but never larger than the screen's free area
        available = self.screen().availableGeometry()
        self.resize(min(FIRST_SIZE[0], available.width() * 9 // 10), min(FIRST_SIZE[1], available.height() * 9 // 10))
        self._build_history_tab()
        self.restore_settings()
        if dask_scheduler:  # given on the command line: it is the one this engine can use
            self.launch_panel.set_scheduler_address(dask_scheduler)
        self._update_title()
        self.setWindowIcon(application_icon())
        self._build_graph_actions()
        self._build_help_menu()

    def _build_graph_actions(self) -> None:
        """Pause the graphs (Space, with the keyboard in a graph; View menu; a graph's right-click
        menu), and File > Export of each graph."""
        # Space works with the keyboard in a graph only: elsewhere it presses buttons and selects rows
        self.pause_action = make_action("pause_graphs", self, self.set_graphs_paused, checkable=True, add=False,
                                        context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
                                        tip="Stop the graphs where they are, to read, zoom (wheel) and pan (drag) "
                                            "them; again to go back to the live view")
        for graph in (self.cpu_graph, self.throughput_graph):
            graph.insertAction(graph.actions()[0], self.pause_action)  # first in its right-click menu
        self.view_menu.addAction(self.pause_action)
        self.export_menu = QMenu("&Export", self)
        self.export_menu.setObjectName("export_menu")
        self.export_menu.addAction(self.cpu_graph.export_action)
        self.export_menu.addAction(self.throughput_graph.export_action)
        self.export_menu.addAction(self.log_view.export_action)
        self.file_menu.insertMenu(self.quit_action, self.export_menu)
        self.file_menu.insertSeparator(self.quit_action)

    def set_graphs_paused(self, paused: bool) -> None:
        """Pause both graphs, or take them back to the live view."""
        for graph in (self.cpu_graph, self.throughput_graph):
            graph.set_paused(paused)
        if self.pause_action.isChecked() != paused:
            self.pause_action.setChecked(paused)
        if not paused:
            self._graphs_at, self._graphs_stale = time.monotonic(), False

    def _build_help_menu(self) -> None:
        """Help: About (the versions it runs on) and the keyboard shortcuts (gui/shortcuts.py's table)."""
        menu = self.menuBar().addMenu("&Help")
        self.help_dialog: QWidget | None = None  # the last Help dialog opened (tests)

        def show(dialog: QWidget) -> None:
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.help_dialog = dialog
            dialog.show()

        menu.addAction(make_action("keyboard_shortcuts", self, lambda: show(ShortcutsDialog(self))))
        menu.addAction(make_action("about", self, lambda: show(AboutDialog(self))))

    def _build_history_tab(self) -> None:
        """The History dock (View > History, Ctrl+H): past jobs from the job history, which records
        this window's jobs (core/history/); jobs older than its retention are removed now."""
        from poolscope.core.history import History, Recorder, recording_wanted
        from poolscope.gui.widgets.history_view import HistoryView

        self.history = History()
        days = self.history.retention_days
        if days and self.history.writable:
            self.history.prune(days)
        self.history_view = HistoryView(self.history)
        notice = self.history_view.notice
        self.history_recorder = None
        if recording_wanted() and callable(getattr(self.engine, "subscribe", None)):  # a real engine (not a stand-in)
            self.history_recorder = Recorder(self.history, self.engine, "window", on_message=notice.emit,
                                             on_job_ended=self.history_view.job_recorded.emit)
        dock = QDockWidget("History", self)
        dock.setObjectName("history_dock")
        dock.setWidget(self.history_view)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        dock.hide()
        self.history_dock = dock
        self._history_sized = False  # the dock's first height is set when it is first shown
        dock.visibilityChanged.connect(self._size_history_dock)
        toggle = dock.toggleViewAction()  # shown and hidden with the dock: its key from the one table
        toggle.setObjectName("show_history")
        toggle.setText(shortcut("show_history").text)
        toggle.setShortcut(key_sequence("show_history"))
        self.view_menu.addSeparator()
        self.view_menu.addAction(toggle)
        self.history_view.run_again_requested.connect(self._run_again_from_history)
        self.history_view.edit_requested.connect(self._edit_from_history)
        self.history_view.saved.connect(self._results_saved)
        notice.connect(self._history_notice)
        for message in self.history.messages:  # what opening it found (a history moved aside, ...)
            self._history_notice(message)

    def _size_history_dock(self, visible: bool) -> None:
        """Shown the first time: a third of the window (its own size hint took most of it and
        squeezed the graphs to a strip); the user's own height stands after that."""
        if visible and not self._history_sized:
            self._history_sized = True
            self.resizeDocks([self.history_dock], [max(HISTORY_DOCK_MIN, self.height() // 3)],
                             Qt.Orientation.Vertical)

    def _run_again_from_history(self, spec: JobSpec) -> None:
        """A past job's settings into the launch panel, and Start (which checks user code first)."""
        self.launch_panel.show_spec(spec)
        self.launch_panel.start()

    def _edit_from_history(self, spec: JobSpec) -> None:
        self.launch_panel.show_spec(spec)
        self.focus_pane(self.launch_panel)

    def _history_notice(self, message: str) -> None:
        self.log_model.append([LogEntry(time=time.time(), level="info", message=message)])
        self.statusBar().showMessage(message, NOTICE_MS)

    def _splitter(self, name: str, orientation: Qt.Orientation, *widgets: QWidget) -> QSplitter:
        splitter = QSplitter(orientation)
        splitter.setObjectName(name)
        splitter.setChildrenCollapsible(False)
        for widget in widgets:
            splitter.addWidget(widget)
        return splitter

    def _arrange_tables(self) -> None:
        """Show the tables' most telling columns first (JOB_COLUMN_ORDER, WORKER_COLUMN_ORDER)."""
        for view, order in ((self.job_table.view, JOB_COLUMN_ORDER), (self.workers_table.view, WORKER_COLUMN_ORDER)):
            model, header = view.model(), view.horizontalHeader()
            names = [model.headerData(column, Qt.Orientation.Horizontal) for column in range(model.columnCount())]
            for position, name in enumerate(name for name in order if name in names):
                header.moveSection(header.visualIndex(names.index(name)), position)
        # The progress bar gets a fixed width and the last column the width to spare: a stretched
        # bar kept the width it had in a wide window and pushed Done / total and ETA out of a narrow one.
        header, columns = self.job_table.view.horizontalHeader(), JobsModel.COLUMNS
        if "Progress" in columns:
            header.setSectionResizeMode(columns.index("Progress"), QHeaderView.ResizeMode.Interactive)
            header.resizeSection(columns.index("Progress"), PROGRESS_WIDTH)
        header.setStretchLastSection(True)
        # the other columns as wide as a typical value (or their title) needs
        metrics, header_metrics = self.job_table.view.fontMetrics(), header.fontMetrics()
        for name, typical in JOB_TYPICAL.items():
            if name in columns:
                header.resizeSection(columns.index(name), 14 + max(metrics.horizontalAdvance(typical),
                                                                 header_metrics.horizontalAdvance(name)))
        self.job_table.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.workers_table.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)

    def focus_pane(self, widget: QWidget) -> None:
        """Give the keyboard to ``widget`` (a pane, or its first field), showing it if it scrolled away."""
        if widget is self.launch_panel:  # its first field that takes Tab
            field: QWidget | None = widget.nextInFocusChain()
            while field is not None and field is not widget and not (
                    field.focusPolicy() & Qt.FocusPolicy.TabFocus and field.isVisibleTo(self) and field.isEnabled()):
                field = field.nextInFocusChain()
            widget = field or widget
            self.launch_scroll.ensureWidgetVisible(widget)
        widget.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._arrange_graphs()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._arrange_graphs()
        self.cpu_graph.refresh()  # what came while hidden (no redraw then)
        self.throughput_graph.refresh()

    def _arrange_graphs(self) -> None:
        """Side by side when the right-hand side is wide enough, else one above the other."""
        wide = self.right_splitter.width() >= GRAPHS_SIDE_BY_SIDE_MIN
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.graphs_splitter.orientation() != orientation:
            self.graphs_splitter.setOrientation(orientation)
            self.graphs_splitter.setSizes([1, 1])

    # -- user actions --------------------------------------------------------------------------

    def _submit_from_panel(self, spec: JobSpec) -> None:
        """Start pressed and the form is good: submit ``spec``, a Dask job on the scheduler the
        form names (made the engine's now, not while the form was checked)."""
        if backend_info(spec.backend).takes_scheduler:
            wanted = _full_address(self.launch_panel.scheduler_text())
            try:
                self.engine.set_dask_scheduler(wanted)
            except RuntimeError as exc:  # Dask started on another since the form was checked
                self.log_model.append([LogEntry(time=time.time(), level="error",
                                                message=f"Could not start {spec.describe()}: {exc}")])
                return
            if wanted != self.dask_scheduler:
                self.dask_scheduler = wanted
                self._update_status()  # the status bar names where Dask jobs run
        self.submit(spec)

    def submit(self, spec: JobSpec) -> Any:
        """Start ``spec`` on the engine; its row appears when the engine reports it. Returns the
        engine's Job, or None (and a log line) if the engine refused it. A Dask job runs where the
        engine's Dask runs (see :meth:`dask_scheduler_problem`).

        The first Dask job on a local cluster starts the cluster (in the engine's thread). Like
        ``poolscope run``, the window ignores Ctrl-C meanwhile (a :class:`BackendStart`), so that
        the cluster's worker processes start with it ignored; it does not block its own thread for
        that: ``local_cluster_started`` says when the start is over, and Ctrl-C is the window's again.
        """
        starts_cluster = (spec.backend == DASK and not self._local_cluster_up and self._cluster_start is None
                          and self.engine.dask_scheduler is None)
        try:
            if starts_cluster:
                self._start_local_cluster()
            job = self.engine.submit(spec)
        except Exception as exc:  # noqa: BLE001 - e.g. the pool is shutting down: say so, do not crash
            if starts_cluster:
                self._take_sigint_back()
            self.log_model.append([LogEntry(time=time.time(), level="error", message=f"Could not start "
                                            f"{spec.describe()}: {type(exc).__name__}: {exc}")])
            return None
        self.jobs[job.id] = job
        self.launch_panel.save_settings(self.settings)
        self.job_submitted.emit(job)
        return job

    def _start_local_cluster(self) -> None:
        """Start the local Dask cluster with Ctrl-C ignored; ``local_cluster_started`` tells the
        window (from the helper thread that waited) when the start is over."""
        self.statusBar().showMessage("Starting a local Dask cluster (Ctrl-C in the terminal waits until "
                                     "it has started) ...", NOTICE_MS)
        self._cluster_start = start = BackendStart(self.engine, DASK, timeout=DASK_START_TIMEOUT)
        started = self.local_cluster_started

        def tell(slots: Future[int]) -> None:
            exc = slots.exception()
            try:
                started.emit(slots.result() if exc is None else exc)
            except RuntimeError:  # the window is gone; so is the handler it would restore
                pass

        start.slots.add_done_callback(tell)

    def _local_cluster_ready(self, result: Any) -> None:
        if self._cluster_start is None:
            return  # the window shut down meanwhile
        self._take_sigint_back()
        if isinstance(result, BaseException):
            self.statusBar().clearMessage()  # the job's row and the log say why
            return
        self._local_cluster_up = True
        self.statusBar().showMessage(f"The local Dask cluster is ready: {result} worker threads", NOTICE_MS)

    def _take_sigint_back(self) -> None:
        start, self._cluster_start = self._cluster_start, None
        if start is not None:
            start.finish()

    def dask_scheduler_problem(self, address: str | None) -> str | None:
        """Why this window's engine cannot run Dask jobs on ``address`` (None: a local cluster),
        or None when it can. A question only: the scheduler is set when the job is submitted.

        Called when Start is pressed for a Dask job. Any address will do until Dask has started;
        after that only the one it runs on.
        """
        wanted = _full_address(address)
        if self.engine.can_use_dask_scheduler(wanted):
            return None
        configured = _full_address(self.engine.dask_scheduler)
        where = "a local cluster" if configured is None else f"the scheduler at {configured}"
        target = "a local cluster" if wanted is None else wanted
        command = "poolscope gui --backend dask" + (f" --scheduler {wanted}" if wanted else "")
        return (f"this window already runs Dask jobs on {where}; to use {target}, "
                f"start a new window: {command}")

    def cancel_jobs(self, job_ids: list[int]) -> None:
        for job_id in self._send_to_scripts("cancel", job_ids):
            self.engine.cancel(job_id)

    def terminate_jobs(self, job_ids: list[int]) -> None:
        for job_id in self._send_to_scripts("terminate", job_ids):
            self.engine.terminate(job_id)

    def _send_to_scripts(self, action: str, job_ids: list[int]) -> list[int]:
        """Send ``action`` of the attached scripts' jobs among ``job_ids`` back to their scripts
        (by the scripts' own ids); returns the window's own jobs, for its engine."""
        own = []
        for job_id in job_ids:
            view = self.jobs_model.view_of(job_id)
            if view is None or view.source_key is None:
                own.append(job_id)
            elif self.attach_listener is not None and view.source_job_id is not None \
                    and not self.attach_listener.command(view.source_key, action, view.source_job_id):
                self.statusBar().showMessage(f"{view.source} is gone: its job {view.shown_id} cannot be told to "
                                             f"{action}", NOTICE_MS)
        return own

    def run_again(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            job = self.jobs.get(job_id)
            if job is not None:
                self.submit(job.spec)

    def clear_finished(self) -> None:
        removed = self.jobs_model.remove_finished()
        for job_id in removed:
            self.jobs.pop(job_id, None)
            if job_id > 0:  # the window's own (an attached script's are negative: not this engine's)
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
            suggested = os.path.join(str(self.settings.value("results/folder", os.getcwd(), type=str)),
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
        self._events_seen += update.events
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

    def show_notice(self, message: str) -> None:
        """Show something the engine said about a job plainly, in the status bar (it is in the log too)."""
        self.statusBar().showMessage(f"⚠ {message}", NOTICE_MS)

    def _update_status(self) -> None:
        nice_text = f", nice {self._nice}" if self._nice is not None else ""
        processes = "worker process" if self.engine.workers == 1 else "worker processes"
        text = f"{self.engine.workers} {processes}{nice_text} · {self.cpu_graph.cores} logical cores"
        dask_workers = self.workers_model.workers(DASK)
        if dask_workers:
            threads = sum(view.nthreads for view in dask_workers)
            where = "local cluster" if self.dask_scheduler is None else _full_address(self.dask_scheduler)
            text += (f" · Dask: {len(dask_workers)} worker{'s' if len(dask_workers) != 1 else ''}, "
                     f"{threads} thread{'s' if threads != 1 else ''} ({where})")
        elif self.dask_scheduler:
            text += f" · Dask: {_full_address(self.dask_scheduler)}"
        self.status_workers.setText(text)

    def _follow_clock(self) -> None:
        """Run the clock timer while some job is not final, and stop it once none is."""
        running = any(not view.state.is_final for view in self.jobs_model.jobs())
        if running and not self.clock_timer.isActive() and not self._shut_down:
            self._events_at = (time.monotonic(), self._events_seen)
            self.clock_timer.start(CLOCK_MS)
        elif not running and self.clock_timer.isActive():
            self.clock_timer.stop()
            self._on_clock()  # the final figures
            self.status_events.setText("")

    def _on_clock(self) -> None:
        now = time.monotonic()
        self.jobs_model.tick(now)
        fine = any(not view.state.is_final and (view.queued_seconds(now) if view.started_at is None
                                                else view.running_seconds(now) or 0.0) < FINE_CLOCK_BELOW
                   for view in self.jobs_model.jobs())  # a clock the table shows is under FINE_CLOCK_BELOW
        interval = CLOCK_MS if fine else CLOCK_SLOW_MS
        if self.clock_timer.interval() != interval:
            self.clock_timer.setInterval(interval)
        since, seen = self._events_at
        if now - since >= EVENTS_STATUS_SECONDS:
            rate = (self._events_seen - seen) / (now - since)
            self.status_events.setText(f"{rate:,.0f} events/s · {self.bridge.signals_emitted:,} updates")
            self._events_at = (now, self._events_seen)

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
        self.clock_timer.stop()
        self._take_timer.stop()
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
            self._stop_listening()
            self.bridge.stop()
            update = self.bridge.take_update()
            if update is not None:
                self.apply_update(update)
            if self._pending_workers:
                self._apply_workers(time.monotonic())
            QApplication.restoreOverrideCursor()

    def _stop_listening(self) -> None:
        """Stop taking scripts' reports: they go on running, without the window."""
        if self.attach_listener is not None:
            self.attach_listener.stop()

    # -- settings ------------------------------------------------------------------------------

    def save_settings(self) -> None:
        settings = self.settings
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        for splitter in self._splitters:
            settings.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
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
        for splitter in self._splitters:
            value = settings.value(f"splitters/{splitter.objectName()}")
            if value is not None:
                splitter.restoreState(value)
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
