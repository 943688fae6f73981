"""The log pane: job lifecycle messages and task failures, the selected one in full below.

One line per entry in a list; the full text of the selected entries (a failure's remote
traceback) in a read-only text box under it, selectable and copyable. Ctrl+C on the list
copies the selected entries in full. Clicking an entry that belongs to a job selects that job.
A long traceback reads better large: "Show in full" (Enter on the list, a double click, or
Ctrl+T) opens the selected entries in a dialog of their own.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from poolscope.gui.models import JOB_ID_ROLE, LogModel
from poolscope.gui.shortcuts import make_action
from poolscope.monitor.views import LogEntry

__all__ = ["LogView", "TextDialog"]


def _monospace() -> QFont:
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font


class TextDialog(QDialog):
    """Read-only text in a large, resizable window, with Copy and Close (a failure's traceback)."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("log_full_text")
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setTabChangesFocus(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(_monospace())
        self.text.setPlainText(text)
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(text))
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        # as large as its text asks, within most of the screen
        metrics = self.text.fontMetrics()
        lines = text.splitlines() or [""]
        width = max(metrics.horizontalAdvance(line) for line in lines[:2000]) + 60
        height = metrics.lineSpacing() * len(lines) + 90
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        max_w, max_h = (screen.width() * 0.85, screen.height() * 0.85) if screen is not None else (1200, 800)
        self.resize(int(min(max(width, 640), max_w)), int(min(max(height, 360), max_h)))


class LogView(QWidget):
    job_clicked = Signal(int)  # job id of the entry the user clicked

    def __init__(self, model: LogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Log")
        title.setStyleSheet("font-weight: bold;")
        layout.addWidget(title)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("log_splitter")
        self.list = QListView()
        self.list.setObjectName("log_list")
        self.list.setModel(model)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setUniformItemSizes(True)
        self.list.setWordWrap(False)
        self.list.clicked.connect(self._clicked)
        self.list.selectionModel().selectionChanged.connect(self._show_selected)
        self.copy_action = make_action("copy_log", self.list, self.copy_selected,
                                       context=Qt.ShortcutContext.WidgetShortcut)
        self.show_full_action = make_action("show_full", self, self.show_full, tip="Open the selected log messages "
                                            "(a failure's traceback) in a large window")
        self.list.addAction(self.show_full_action)
        self.list.activated.connect(lambda _index: self.show_full())  # Enter, or a double click
        self.full_dialog: TextDialog | None = None  # the last one opened, while open
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.detail = QPlainTextEdit()
        self.detail.setObjectName("log_detail")
        self.detail.setReadOnly(True)
        self.detail.setPlaceholderText("Select a message to see it in full (a failure shows its remote traceback)")
        self.detail.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.detail.setTabChangesFocus(True)  # Tab moves on, as everywhere else
        self.detail.setFont(_monospace())
        self.splitter.addWidget(self.list)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout.addWidget(self.splitter)
        model.rowsAboutToBeInserted.connect(self._remember_scroll)
        model.rowsInserted.connect(self._follow)
        self._at_bottom = True

    def append(self, entries: list[LogEntry]) -> None:
        self.model.append(entries)

    def _remember_scroll(self, *_args: object) -> None:
        bar = self.list.verticalScrollBar()
        self._at_bottom = bar.value() >= bar.maximum() - 2

    def _follow(self, *_args: object) -> None:
        if self._at_bottom:
            self.list.scrollToBottom()

    def selected_entries(self) -> list[LogEntry]:
        rows = sorted(index.row() for index in self.list.selectionModel().selectedRows())
        return [self.model.entry(row) for row in rows]

    def selected_text(self) -> str:
        return "\n\n".join(entry.detail or entry.message for entry in self.selected_entries())

    def copy_selected(self) -> None:
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text)

    def show_full(self) -> TextDialog | None:
        """Open the selected entries in full in a dialog of their own; None when nothing is selected."""
        entries = self.selected_entries()
        if not entries:
            return None
        job = entries[0].job_id
        title = (f"Job {job}: {entries[0].message}" if len(entries) == 1 and job is not None
                 else f"{len(entries)} log messages")
        dialog = TextDialog(title[:120], self.selected_text(), self.window())
        dialog.finished.connect(lambda _result: setattr(self, "full_dialog", None))
        self.full_dialog = dialog
        dialog.show()
        return dialog

    def _show_selected(self, *_args: object) -> None:
        self.detail.setPlainText(self.selected_text())

    def _clicked(self, index: QModelIndex) -> None:
        job_id = index.data(JOB_ID_ROLE)
        if job_id is not None:
            self.job_clicked.emit(int(job_id))
