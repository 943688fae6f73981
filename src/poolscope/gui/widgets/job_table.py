"""The jobs table with its toolbar, right-click menu and shortcuts.

It renders :class:`JobsModel` and turns the user's actions on the selected rows into signals
carrying job ids; the main window forwards them to the engine.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QToolBar, QVBoxLayout, QWidget

from poolscope.gui.models import JobsModel, ProgressDelegate

__all__ = ["JobTable"]


class JobTable(QWidget):
    """Toolbar (Cancel, Terminate, Run again, Clear finished) over the jobs table."""

    cancel_requested = Signal(list)  # list[int]: ids of the selected jobs not yet final
    terminate_requested = Signal(list)  # list[int]: ids of the selected jobs not yet final
    run_again_requested = Signal(list)  # list[int]: ids of the selected jobs
    clear_finished_requested = Signal()  # the user asked to drop every finished row
    save_results_requested = Signal(int)  # the id of the one selected job

    def __init__(self, model: JobsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)

        self.toolbar = QToolBar("Jobs")
        self.toolbar.setObjectName("jobs_toolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.cancel_action = self._action("Cancel", "Delete", "Cancel the selected jobs: unstarted tasks are "
                                          "dropped, running ones are asked to stop", self._cancel)
        self.terminate_action = self._action("Terminate", "Shift+Delete", "Terminate the selected jobs: kill the "
                                             "processes running their tasks now (threads cannot be killed: "
                                             "their jobs are cancelled)", self._terminate)
        self.run_again_action = self._action("Run again", "Ctrl+R", "Start the selected jobs again with the same "
                                             "settings", self._run_again)
        self.save_results_action = self._action("Save results…", "Ctrl+S", "Save the selected job's finished "
                                                "results to a file, one JSON line per task, in input order",
                                                self._save_results)
        self.save_results_action.setObjectName("save_results")
        self.clear_action = self._action("Clear finished", "Ctrl+L", "Remove every finished job from the table "
                                         "(and the results the window keeps for it)",
                                         self.clear_finished_requested.emit)
        for action in (self.cancel_action, self.terminate_action, self.run_again_action):
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.save_results_action)
        self.toolbar.addAction(self.clear_action)
        layout.addWidget(self.toolbar)

        self.view = QTableView()
        self.view.setObjectName("jobs_view")
        self.view.setModel(model)
        self.view.setItemDelegateForColumn(JobsModel.PROGRESS_COLUMN, ProgressDelegate(self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(24)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(JobsModel.PROGRESS_COLUMN, QHeaderView.ResizeMode.Stretch)
        for column, width in enumerate((40, 110, 80, 90, 160, 150, 60, 80, 65, 65, 65)):
            if column != JobsModel.PROGRESS_COLUMN:
                self.view.setColumnWidth(column, width)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().selectionChanged.connect(self.update_actions)
        model.dataChanged.connect(self._data_changed)
        model.rowsInserted.connect(self.update_actions)
        model.modelReset.connect(self.update_actions)
        layout.addWidget(self.view)
        self.update_actions()

    def _action(self, text: str, shortcut: str, tip: str, slot: object) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})")
        action.setObjectName(text.lower().replace(" ", "_"))
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # -- selection -------------------------------------------------------------------------------

    def selected_job_ids(self) -> list[int]:
        rows = sorted({index.row() for index in self.view.selectionModel().selectedRows()})
        return [self.model.job(row).job_id for row in rows]

    def select_jobs(self, job_ids: list[int]) -> None:
        """Select the rows of ``job_ids`` (and scroll to the first)."""
        selection = self.view.selectionModel()
        selection.clearSelection()
        first = None
        for job_id in job_ids:
            row = self.model.row_of(job_id)
            if row is None:
                continue
            index = self.model.index(row, 0)
            selection.select(index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
            first = index if first is None else first
        if first is not None:
            selection.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.view.scrollTo(first)

    def _selected_running(self, selected: list[int] | None = None) -> list[int]:
        """The running jobs among ``selected`` (by default, the selected rows)."""
        running = []
        for job_id in self.selected_job_ids() if selected is None else selected:
            view = self.model.view_of(job_id)
            if view is not None and not view.state.is_final:
                running.append(job_id)
        return running

    def _data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, *_roles: object) -> None:
        # the actions depend on the jobs' states only: the clock's repaints of the time columns
        # (every 200 ms) and progress leave them as they are
        if top_left.column() <= JobsModel.STATE_COLUMN <= bottom_right.column():
            self.update_actions()

    def update_actions(self, *_args: object) -> None:
        selected = self.selected_job_ids()
        running = self._selected_running(selected)
        self.cancel_action.setEnabled(bool(running))
        self.terminate_action.setEnabled(bool(running))
        # a script's job (attached to the window) runs and keeps its results in the script: the
        # window can stop it, not run it again nor save its results
        own = [job_id for job_id in selected if (view := self.model.view_of(job_id)) is None or view.source_key is None]
        self.run_again_action.setEnabled(bool(own))
        self.save_results_action.setEnabled(len(selected) == 1 and len(own) == 1)
        self.clear_action.setEnabled(any(view.state.is_final for view in self.model.jobs()))

    # -- actions ---------------------------------------------------------------------------------

    def _cancel(self) -> None:
        ids = self._selected_running()
        if ids:
            self.cancel_requested.emit(ids)

    def _terminate(self) -> None:
        ids = self._selected_running()
        if ids:
            self.terminate_requested.emit(ids)

    def _run_again(self) -> None:
        ids = self.selected_job_ids()
        if ids:
            self.run_again_requested.emit(ids)

    def _save_results(self) -> None:
        ids = self.selected_job_ids()
        if len(ids) == 1:
            self.save_results_requested.emit(ids[0])

    def _context_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        if index.isValid() and not self.view.selectionModel().isRowSelected(index.row(), index.parent()):
            self.select_jobs([self.model.job(index.row()).job_id])
        self.update_actions()
        menu = QMenu(self)
        for action in (self.cancel_action, self.terminate_action, self.run_again_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.save_results_action)
        menu.addAction(self.clear_action)
        menu.exec(self.view.viewport().mapToGlobal(position))
