"""The log pane's model: its entries, oldest first, bounded, each with its time, level mark and job."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from poolscope.gui.colours import on_base
from poolscope.gui.models.base import JOB_ID_ROLE, ModelIndex
from poolscope.monitor.views import LogEntry

__all__ = ["LogModel"]


class LogModel(QAbstractListModel):
    """The log pane's entries, oldest first, bounded to ``limit`` (the oldest are dropped)."""

    _ICONS = {"info": "", "warning": "⚠ ", "error": "✖ "}
    _COLOURS = {"warning": QColor("#b45309"), "error": QColor("#b91c1c")}

    def __init__(self, limit: int = 5000, parent: Any = None) -> None:
        super().__init__(parent)
        self.limit = limit
        self._entries: list[LogEntry] = []

    def append(self, entries: Iterable[LogEntry]) -> None:
        entries = list(entries)
        if not entries:
            return
        overflow = len(self._entries) + len(entries) - self.limit
        if overflow > 0:
            drop = min(overflow, len(self._entries))
            if drop:
                self.beginRemoveRows(QModelIndex(), 0, drop - 1)
                del self._entries[:drop]
                self.endRemoveRows()
            entries = entries[-self.limit:]
        start = len(self._entries)
        self.beginInsertRows(QModelIndex(), start, start + len(entries) - 1)
        self._entries.extend(entries)
        self.endInsertRows()

    def entry(self, row: int) -> LogEntry:
        return self._entries[row]

    def entries(self) -> list[LogEntry]:
        return list(self._entries)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            stamp = time.strftime("%H:%M:%S", time.localtime(entry.time))
            more = "  [traceback]" if entry.detail and entry.level == "error" else ""
            return f"{stamp}  {self._ICONS.get(entry.level, '')}{entry.message}{more}"
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = self._COLOURS.get(entry.level)
            return QBrush(on_base(colour)) if colour is not None else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return entry.detail or entry.message
        if role == JOB_ID_ROLE:
            return entry.job_id
        return None
