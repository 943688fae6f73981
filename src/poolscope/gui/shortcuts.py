"""Every action of the window, with its key: the one table (:data:`SHORTCUTS`) that the actions are
made from (:func:`make_action`) and that Help > Keyboard shortcuts shows (:class:`ShortcutsDialog`).

An action's name is its ``objectName``; its text, key and group come from here, so a key is
changed in one place and the dialog can never list a key the window does not have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = ["SHORTCUTS", "Shortcut", "ShortcutsDialog", "key_sequence", "key_text", "make_action", "shortcut"]


@dataclass(frozen=True)
class Shortcut:
    """One action: its ``objectName``, its text, its key and the group the dialog lists it under."""

    name: str
    text: str
    keys: str  # in QKeySequence's portable text ("Ctrl+R"); used when ``standard`` is None or empty here
    group: str
    standard: QKeySequence.StandardKey | None = None  # the platform's own key for it, where there is one
    where: str = ""  # when the key works only with the keyboard in one place, that place (the dialog says so)


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("quit", "Quit", "Ctrl+Q", "File", standard=QKeySequence.StandardKey.Quit),
    Shortcut("export_cpu_graph", "Export the CPU graph…", "Ctrl+E", "File"),
    Shortcut("export_throughput_graph", "Export the throughput graph…", "Ctrl+Shift+E", "File"),
    Shortcut("export_log", "Export the log…", "Ctrl+Shift+L", "File"),
    Shortcut("start_job", "Start job", "Ctrl+Return", "Jobs"),
    Shortcut("cancel", "Cancel", "Delete", "Jobs"),
    Shortcut("terminate", "Terminate", "Shift+Delete", "Jobs"),
    Shortcut("run_again", "Run again", "Ctrl+R", "Jobs"),
    Shortcut("save_results", "Save results…", "Ctrl+S", "Jobs"),
    Shortcut("clear_finished", "Clear finished", "Ctrl+L", "Jobs"),
    Shortcut("show_full", "Show log message in full…", "Ctrl+T", "Log"),
    Shortcut("copy_log", "Copy", "Ctrl+C", "Log", standard=QKeySequence.StandardKey.Copy, where="in the log"),
    Shortcut("find_in_log", "Find in the log", "Ctrl+F", "Log", standard=QKeySequence.StandardKey.Find),
    Shortcut("go_to_launch", "Go to Launch panel", "Alt+1", "View"),
    Shortcut("go_to_jobs", "Go to Jobs", "Alt+2", "View"),
    Shortcut("go_to_cpu", "Go to CPU graph", "Alt+3", "View"),
    Shortcut("go_to_throughput", "Go to Throughput graph", "Alt+4", "View"),
    Shortcut("go_to_workers", "Go to Workers", "Alt+5", "View"),
    Shortcut("go_to_log", "Go to Log", "Alt+6", "View"),
    Shortcut("pause_graphs", "Pause the graphs", "Space", "View", where="in a graph"),
    Shortcut("cpu_smooth_action", "Smooth the CPU graph", "Ctrl+Shift+M", "View"),
    Shortcut("show_history", "History", "Ctrl+H", "View"),
    Shortcut("keyboard_shortcuts", "Keyboard shortcuts", "F1", "Help"),
    Shortcut("about", "About poolscope", "Ctrl+F1", "Help"),
)
_BY_NAME = {entry.name: entry for entry in SHORTCUTS}


def shortcut(name: str) -> Shortcut:
    """The table's row for the action named ``name`` (``KeyError`` if it has none)."""
    return _BY_NAME[name]


def key_sequence(name: str) -> QKeySequence:
    """The key of the action named ``name``: the platform's standard one where it has one, else the table's."""
    entry = _BY_NAME[name]
    if entry.standard is not None:
        standard = QKeySequence(entry.standard)
        if not standard.isEmpty():
            return standard
    return QKeySequence(entry.keys)


def key_text(name: str) -> str:
    """The key as the user reads it (the platform's words: Ctrl+Q, Del)."""
    return key_sequence(name).toString(QKeySequence.SequenceFormat.NativeText)


def make_action(name: str, parent: QWidget, slot: Callable[..., object] | None = None, *, tip: str = "",
                context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut, checkable: bool = False,
                add: bool = True) -> QAction:
    """The action named ``name`` with the table's text and key, in ``parent`` (which it is added to,
    so its key works in ``parent``'s window, unless ``add`` is false: a key that works only in the
    widgets the caller adds it to), calling ``slot`` when triggered; ``tip`` gets the key."""
    entry = _BY_NAME[name]
    action = QAction(entry.text, parent)
    action.setObjectName(name)
    action.setShortcut(key_sequence(name))
    action.setShortcutContext(context)
    action.setCheckable(checkable)
    if tip:
        action.setToolTip(f"{tip} ({key_text(name)})")
    if slot is not None:
        action.triggered.connect(slot)
    if add:
        parent.addAction(action)
    return action


class ShortcutsDialog(QDialog):
    """Help > Keyboard shortcuts: :data:`SHORTCUTS`, by group, as a table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcuts_dialog")
        self.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(SHORTCUTS), 3)
        self.table.setObjectName("shortcuts_table")
        self.table.setHorizontalHeaderLabels(["Group", "Action", "Key"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setTabKeyNavigation(False)
        for row, entry in enumerate(SHORTCUTS):
            key = key_text(entry.name) + (f" ({entry.where})" if entry.where else "")
            for column, text in enumerate((entry.group, entry.text.rstrip("…"), key)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.table.resizeColumnsToContents()
        width = sum(self.table.columnWidth(column) for column in range(3)) + 60
        height = self.table.rowHeight(0) * (len(SHORTCUTS) + 1) + 90
        self.resize(max(width, 420), min(height, 700))

    def rows(self) -> list[tuple[str, str, str]]:
        """What the table shows, row by row (tests)."""
        rows = []
        for row in range(self.table.rowCount()):
            group, text, key = (self.table.item(row, column) for column in range(3))
            assert group is not None and text is not None and key is not None
            rows.append((group.text(), text.text(), key.text()))
        return rows
