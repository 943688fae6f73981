"""The workers table: local worker processes and thread slots (pid, idle/busy, the job and task it
runs, CPU %, memory, tasks done) and, once a Dask job ran, the cluster's workers (address, pid,
tasks running, CPU %, memory), with a backend column. A click on a column's header sorts by it
(:class:`SortProxy`; a third click: the model's order, by backend and slot)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from poolscope.core.backends import REGISTRY
from poolscope.gui.models import JOB_ID_ROLE, WorkersModel
from poolscope.gui.sorting import SortProxy

__all__ = ["WorkersTable"]

#: A typical value of each column but the last, to size the columns by.
_TYPICAL = ("processes", "123456", "127.0.0.1:40163", "busy", "12 primes", "1 running, 2 queued", "100",
            "123.4 MiB")


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
        self.proxy = SortProxy(model, self)  # what the view shows: the model's rows, sorted as asked
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.setAlternatingRowColors(True)
        header = self.view.horizontalHeader()
        header.setSortIndicatorClearable(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        # Each column fits its header and a typical value in the table's font; the Worker and
        # Task columns (addresses, free text) share what is left, so every column stays in view.
        metrics = self.view.fontMetrics()
        header_metrics = header.fontMetrics()
        for column, typical in enumerate(_TYPICAL):
            width = max(metrics.horizontalAdvance(typical), header_metrics.horizontalAdvance(model.COLUMNS[column]))
            self.view.setColumnWidth(column, width + 12)
        for column in (model.COLUMNS.index("Worker"), model.COLUMNS.index("Task")):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.view.clicked.connect(self._clicked)
        layout.addWidget(self.view)
        # an update of the model emits one of these (rows came or went, or rows changed)
        model.modelReset.connect(self.refresh_title)
        model.dataChanged.connect(self.refresh_title)
        self.refresh_title()

    def refresh_title(self, *_args: object) -> None:
        """Count the workers (by backend when there are several) and the busy ones in the title."""
        workers = self.model.workers()
        busy = sum(1 for view in workers if view.busy)
        counts = [(name, sum(1 for view in workers if view.backend == name)) for name in REGISTRY]
        present = [(name, count) for name, count in counts if count]
        if len(present) > 1:
            parts = ", ".join(f"{count} {REGISTRY[name].nouns[count != 1]}" for name, count in present)
            self.title.setText(f"Workers ({parts}; {busy} busy)")
        else:
            self.title.setText(f"Workers ({len(workers)}, {busy} busy)")

    def _clicked(self, index: object) -> None:
        job_id = index.data(JOB_ID_ROLE)  # type: ignore[attr-defined]
        if job_id is not None:
            self.job_clicked.emit(int(job_id))
