"""Sorting the jobs and workers tables by any column: a proxy between a table model and its view
that orders rows by what their cells say, read as the number or duration they show.

The models stay in their own order (submission; backend and slot) and keep their row lookups
(``row_of``); whoever turns a view's row into a job asks the row's ``JOB_ID_ROLE``, and whoever
turns a job into a view's row maps the model's index through the proxy (:meth:`SortProxy.view_index`).
Unsorted (the sort indicator cleared: a third click on a header), rows are in the model's order.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt

__all__ = ["SortProxy", "sort_key"]

_UNITS = {"b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")
_CLOCK = re.compile(r"^(\d+):(\d{2})(?::(\d{2}))?$")
_QUANTITY = re.compile(r"^([-+]?\d[\d,]*(?:\.\d+)?)\s*(%|/s|s|b|kib|mib|gib)?$")


def sort_key(text: Any) -> tuple[int, Any]:
    """How a cell's text sorts: empty cells first, then numbers and durations by their value
    ("9.5 s" < "1:05" < "1:02:03"; "12,345/s"; "1.5 MiB" < "2 GiB"; "34 / 3,000" by its first
    number), then text in natural order ("slot 2" < "slot 10"), ignoring case."""
    text = "" if text is None else str(text).strip()
    if not text:
        return (0, 0.0)
    folded = text.casefold()
    clock = _CLOCK.match(folded)
    if clock:
        first, second, third = clock.groups()
        seconds = int(first) * 60 + int(second) if third is None else (int(first) * 60 + int(second)) * 60 + int(third)
        return (1, float(seconds))
    quantity = _QUANTITY.match(folded)
    if quantity:
        number, unit = quantity.groups()
        return (1, float(number.replace(",", "")) * _UNITS.get(unit or "", 1))
    leading = _NUMBER.match(folded)
    if leading and folded[leading.end():leading.end() + 3] == " / ":  # done / total: by done
        return (1, float(leading.group().replace(",", "")))
    parts = re.split(r"(\d+)", folded)
    return (2, tuple((0, int(part)) if part.isdigit() else (1, part) for part in parts if part))


class SortProxy(QSortFilterProxyModel):
    """Orders a table model's rows by :func:`sort_key` of the cells of the sorted column."""

    def __init__(self, model: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSourceModel(model)
        self.setDynamicSortFilter(True)  # a changed row moves to its place (only while sorted)

    def lessThan(self, left: QModelIndex | QPersistentModelIndex, right: QModelIndex | QPersistentModelIndex) -> bool:
        role = Qt.ItemDataRole.DisplayRole
        left_key, right_key = sort_key(left.data(role)), sort_key(right.data(role))
        if left_key[0] != right_key[0]:
            return left_key[0] < right_key[0]
        if left_key[1] != right_key[1]:
            return bool(left_key[1] < right_key[1])
        return left.row() < right.row()  # ties keep the model's order

    def view_index(self, source_row: int, column: int = 0) -> QModelIndex:
        """The view's index of the model's ``source_row`` (invalid if the row is not shown)."""
        source = self.sourceModel()
        return self.mapFromSource(source.index(source_row, column))
