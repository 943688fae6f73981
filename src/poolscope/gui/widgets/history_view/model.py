"""The History view's table of past jobs: one row per job (HistoryModel), and the rows its state,
target and search text let through (HistoryFilter)."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt

from poolscope.core.history import JobRow

__all__ = ["HistoryFilter", "HistoryModel", "duration_text"]

Index = QModelIndex | QPersistentModelIndex


def duration_text(seconds: float | None) -> str:
    """A duration as the table shows it: seconds under a minute, else m:ss or h:mm:ss."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


class HistoryModel(QAbstractTableModel):
    """One row per past job, newest first; sorts by the values (Qt.UserRole), shows text."""

    COLUMNS = ("Job", "State", "Name", "Target", "Inputs", "Source", "Submitted", "Duration", "Done / total",
               "Failed", "Tasks/s")
    STATE_COLUMN = 1
    TARGET_COLUMN = 3
    _RIGHT_ALIGNED = (0, 7, 8, 9, 10)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[JobRow] = []

    def set_jobs(self, jobs: list[JobRow]) -> None:
        self.beginResetModel()
        self._rows = list(jobs)
        self.endResetModel()

    def job(self, row: int) -> JobRow:
        return self._rows[row]

    def jobs(self) -> list[JobRow]:
        return list(self._rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        job = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.UserRole:
            return self._sort_value(job, column)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(job, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self._RIGHT_ALIGNED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column in (3, 4):
            return self._text(job, column)
        return None

    @staticmethod
    def _text(job: JobRow, column: int) -> str:
        if column == 0:
            return str(job.id)
        if column == 1:
            return job.state
        if column == 2:
            return job.name
        if column == 3:
            return job.target
        if column == 4:
            return job.inputs
        if column == 5:
            return job.source
        if column == 6:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.submitted))
        if column == 7:
            return duration_text(job.duration)
        if column == 8:
            return f"{job.done:,} / {job.total:,}" if job.total is not None else f"{job.done:,} / ?"
        if column == 9:
            return f"{job.failed:,}"
        rate = job.rate
        return "" if rate is None else f"{rate:,.1f}" if rate < 100 else f"{rate:,.0f}"

    @staticmethod
    def _sort_value(job: JobRow, column: int) -> Any:
        values: tuple[Any, ...] = (job.id, job.state, job.name.lower(), job.target.lower(), job.inputs, job.source,
                                   job.submitted, job.duration or 0.0, job.done, job.failed, job.rate or 0.0)
        return values[column]


class HistoryFilter(QSortFilterProxyModel):
    """Rows of the state and target chosen whose name, target, inputs or source holds the text."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.state = ""
        self.target = ""
        self.text = ""
        self.setSortRole(Qt.ItemDataRole.UserRole)

    def set_filter(self, state: str, target: str, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9 and later
            self.beginFilterChange()
            self.state, self.target, self.text = state, target, text.strip().lower()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.state, self.target, self.text = state, target, text.strip().lower()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, HistoryModel)
        job = model.job(source_row)
        if self.state and job.state != self.state:
            return False
        if self.target and job.target != self.target:
            return False
        if self.text:
            return any(self.text in value.lower() for value in (job.name, job.target, job.inputs, job.source))
        return True
