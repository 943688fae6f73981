"""The jobs table with its toolbar, right-click menu and shortcuts.

It renders :class:`JobsModel` and turns the user's actions on the selected rows into signals
carrying job ids; the main window forwards them to the engine. A click on a column's header sorts
by it (:class:`SortProxy`; a third click goes back to submission order): a view's row is a job by
its ``JOB_ID_ROLE``, never by its number.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QToolBar, QVBoxLayout, QWidget

from poolscope.gui.models import JOB_ID_ROLE, JobsModel, ProgressDelegate
from poolscope.gui.shortcuts import make_action
from poolscope.gui.sorting import SortProxy

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
        self.cancel_action = make_action("cancel", self, self._cancel, tip="Cancel the selected jobs: unstarted tasks "
                                         "are dropped, running ones are asked to stop")
        self.terminate_action = make_action("terminate", self, self._terminate, tip="Terminate the selected jobs: "
                                            "kill the processes running their tasks now (threads cannot be killed: "
                                            "their jobs are cancelled)")
        self.run_again_action = make_action("run_again", self, self._run_again,
                                            tip="Start the selected jobs again with the same settings")
        self.save_results_action = make_action("save_results", self, self._save_results, tip="Save the selected "
                                               "job's finished results to a file, one JSON line per task, in input "
                                               "order")
        self.clear_action = make_action("clear_finished", self, self.clear_finished_requested.emit,
                                        tip="Remove every finished job from the table (and the results the window "
                                            "keeps for it)")
        for action in (self.cancel_action, self.terminate_action, self.run_again_action):
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.save_results_action)
        self.toolbar.addAction(self.clear_action)
        layout.addWidget(self.toolbar)

        self.view = QTableView()
        self.view.setObjectName("jobs_view")
        self.proxy = SortProxy(model, self)  # what the view shows: the model's rows, sorted as asked
        self.view.setModel(self.proxy)
        self.view.setItemDelegateForColumn(JobsModel.PROGRESS_COLUMN, ProgressDelegate(self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(24)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSortIndicatorClearable(True)  # a third click: submission order again
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)
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

    # -- selection -------------------------------------------------------------------------------

    def selected_job_ids(self) -> list[int]:
        """The selected jobs' ids, in the order the view shows them."""
        rows = sorted(self.view.selectionModel().selectedRows(), key=lambda index: index.row())
        return [int(index.data(JOB_ID_ROLE)) for index in rows]

    def view_index(self, job_id: int, column: int = 0) -> QModelIndex:
        """The view's index of a job's row (invalid when it has none)."""
        row = self.model.row_of(job_id)
        return QModelIndex() if row is None else self.proxy.view_index(row, column)

    def scroll_to_job(self, job_id: int) -> None:
        index = self.view_index(job_id)
        if index.isValid():
            self.view.doItemsLayout()  # the scroll range must include new rows first
            self.view.scrollTo(index)

    def select_jobs(self, job_ids: list[int]) -> None:
        """Select the rows of ``job_ids`` (and scroll to the first)."""
        selection = self.view.selectionModel()
        selection.clearSelection()
        first = None
        for job_id in job_ids:
            index = self.view_index(job_id)
            if not index.isValid():
                continue
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
        self.run_again_action.setEnabled(bool(selected))
        self.save_results_action.setEnabled(len(selected) == 1)
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
            self.select_jobs([int(index.data(JOB_ID_ROLE))])
        self.update_actions()
        menu = QMenu(self)
        for action in (self.cancel_action, self.terminate_action, self.run_again_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.save_results_action)
        menu.addAction(self.clear_action)
        menu.exec(self.view.viewport().mapToGlobal(position))
