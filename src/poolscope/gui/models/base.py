"""What the window's table models share: the item roles they answer, the one-view-a-row table
the jobs and workers models are built on, and how durations, sizes and rates read in a cell."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

__all__ = [
    "JOB_ID_ROLE",
    "PROGRESS_ROLE",
    "SEGMENTS_ROLE",
    "ModelIndex",
    "ViewTableModel",
    "format_bytes",
    "format_duration",
    "format_rate",
]

#: Role under which the jobs model gives a row's progress as a float 0..1 (or None when unknown).
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 1
#: Role under which every model gives the row's job id (or None).
JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 2
#: Role under which the jobs model gives (done, failed, cancelled, total) for its bar (total None: unknown).
SEGMENTS_ROLE = Qt.ItemDataRole.UserRole + 3

#: The index a Qt model method is given.
ModelIndex = QModelIndex | QPersistentModelIndex


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = int(round(seconds))
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def format_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def format_rate(rate: float) -> str:
    if rate <= 0:
        return ""
    if rate >= 100:
        return f"{rate:,.0f}/s"
    return f"{rate:.1f}/s"


class ViewTableModel(QAbstractTableModel):
    """A table with one view object per row: the Qt side that the jobs and workers tables share.

    Subclasses set COLUMNS and _RIGHT_ALIGNED, keep ``_rows``, and say what a cell shows
    (``_display``) and, for other roles, ``_other_role``.
    """

    COLUMNS: tuple[str, ...] = ()
    _RIGHT_ALIGNED: tuple[int, ...] = ()
    _rows: list[Any]

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        view = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(view, column)
        if role == JOB_ID_ROLE:
            return view.job_id
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self._RIGHT_ALIGNED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return self._other_role(view, column, role)

    def _display(self, view: Any, column: int) -> str:
        raise NotImplementedError

    def _other_role(self, view: Any, column: int, role: int) -> Any:
        return None
