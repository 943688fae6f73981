"""The main window's menus and their keys: File (Export, Quit), Jobs, View (a pane each, the graphs'
pause, History) and Help, every action from the one table of keys (gui/shortcuts.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QWidget

from poolscope.gui.about import AboutDialog
from poolscope.gui.shortcuts import ShortcutsDialog, make_action

if TYPE_CHECKING:
    from poolscope.gui.widgets.cpu_graph import CpuGraph
    from poolscope.gui.widgets.job_table import JobTable
    from poolscope.gui.widgets.launch_panel import LaunchPanel
    from poolscope.gui.widgets.log_view import LogView
    from poolscope.gui.widgets.throughput_graph import ThroughputGraph
    from poolscope.gui.widgets.workers_table import WorkersTable

    _WindowBase = QMainWindow
else:
    _WindowBase = object


class WindowMenus(_WindowBase):
    """The main window's part that makes its menus (mixed into MainWindow)."""

    # What it uses of the window, made in MainWindow.__init__:
    launch_panel: LaunchPanel
    job_table: JobTable
    cpu_graph: CpuGraph
    throughput_graph: ThroughputGraph
    workers_table: WorkersTable
    log_view: LogView
    focus_pane: Callable[[QWidget], None]
    set_graphs_paused: Callable[[bool], None]

    def _build_menus(self) -> None:
        """File (Quit), Jobs (Start and the jobs table's actions, the log's), View (a pane each)."""
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

    def _add_view_toggle(self, action: QAction) -> None:
        """A dock's show/hide action at the end of the View menu (History)."""
        self.view_menu.addSeparator()
        self.view_menu.addAction(action)

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
