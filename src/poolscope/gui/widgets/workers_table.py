"""The workers table: pid, idle/busy, the job and task it runs, CPU %, memory, tasks done."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from poolscope.gui.models import JOB_ID_ROLE, WorkersModel

__all__ = ["WorkersTable"]


class WorkersTable(QWidget):
    job_clicked = Signal(int)  # job id of the task the clicked worker runs

    def __init__(self, model: WorkersModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Workers")
        self.title.setStyleSheet("font-weight: bold;")
        layout.addWidget(self.title)
        self.view = QTableView()
        self.view.setObjectName("workers_view")
        self.view.setModel(model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.setAlternatingRowColors(True)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((70, 50, 110, 90, 55, 85)):
            self.view.setColumnWidth(column, width)
        self.view.clicked.connect(self._clicked)
        layout.addWidget(self.view)
        model.modelReset.connect(self._update_title)
        self._update_title()

    def _update_title(self) -> None:
        workers = self.model.workers()
        busy = sum(1 for view in workers if view.busy)
        self.title.setText(f"Workers ({len(workers)}, {busy} busy)")

    def refresh_title(self) -> None:
        self._update_title()

    def _clicked(self, index: object) -> None:
        job_id = index.data(JOB_ID_ROLE)  # type: ignore[attr-defined]
        if job_id is not None:
            self.job_clicked.emit(int(job_id))
