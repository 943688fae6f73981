"""The log pane: job lifecycle messages and task failures, the selected one in full below.

One line per entry in a list; the full text of the selected entries (a failure's remote
traceback) in a read-only text box under it, selectable and copyable. Ctrl+C on the list
copies the selected entries in full. Clicking an entry that belongs to a job selects that job.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QFont, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QLabel, QListView, QPlainTextEdit, QSplitter, QVBoxLayout, QWidget

from poolscope.gui.bridge import LogEntry
from poolscope.gui.models import JOB_ID_ROLE, LogModel

__all__ = ["LogView"]


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
        copy = QAction("Copy", self.list)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selected)
        self.list.addAction(copy)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.detail = QPlainTextEdit()
        self.detail.setObjectName("log_detail")
        self.detail.setReadOnly(True)
        self.detail.setPlaceholderText("Select a message to see it in full (a failure shows its remote traceback)")
        self.detail.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.detail.setFont(mono)
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

    def _show_selected(self, *_args: object) -> None:
        self.detail.setPlainText(self.selected_text())

    def _clicked(self, index: QModelIndex) -> None:
        job_id = index.data(JOB_ID_ROLE)
        if job_id is not None:
            self.job_clicked.emit(int(job_id))
