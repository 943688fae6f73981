"""The log pane: job lifecycle messages and task failures, the selected one in full below.

One line per entry in a list; the full text of the selected entries (a failure's remote
traceback) in a read-only text box under it, selectable and copyable. Ctrl+C on the list
copies the selected entries in full. Clicking an entry that belongs to a job selects that job.
A long traceback reads better large: "Show in full" (Enter on the list, a double click, or
Ctrl+T) opens the selected entries in a dialog of their own.

Above the list, filters: one job (or all), the least level (all, warnings and errors, errors) and
a text to search for (Ctrl+F; in the message or the traceback, any case). They only hide lines
(:class:`LogFilter`, a proxy over the model; ``monitor/log_text.entry_matches`` decides). "Export
the log…" writes it as text (``monitor/log_text.log_text``): the lines shown, or every line.
"""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from poolscope.gui.models import JOB_ID_ROLE, LogModel
from poolscope.gui.shortcuts import key_text, make_action
from poolscope.monitor.log_text import LEVELS, entry_matches, log_text
from poolscope.monitor.views import LogEntry

__all__ = ["LogFilter", "LogView", "TextDialog"]

#: The level filter's choices: (label, the least level shown).
LEVEL_CHOICES = (("All levels", LEVELS[0]), ("Warnings and errors", "warning"), ("Errors", "error"))


class LogFilter(QSortFilterProxyModel):
    """The log model's entries that the filters keep (see ``log_text.entry_matches``), in order."""

    def __init__(self, model: LogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSourceModel(model)
        self.log = model
        self.job_id: int | None = None  # None: every job's lines (and the lines of none)
        self.least_level = LEVELS[0]
        self.text = ""

    @property
    def active(self) -> bool:
        return self.job_id is not None or self.least_level != LEVELS[0] or bool(self.text)

    def set_filter(self, *, job_id: int | None, least_level: str, text: str) -> None:
        if (job_id, least_level, text) == (self.job_id, self.least_level, self.text):
            return
        if not hasattr(self, "endFilterChange"):  # Qt before 6.10
            self.job_id, self.least_level, self.text = job_id, least_level, text
            self.invalidateFilter()
            return
        self.beginFilterChange()
        self.job_id, self.least_level, self.text = job_id, least_level, text
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self.active:
            return True
        return entry_matches(self.log.entry(source_row), job_id=self.job_id, least_level=self.least_level,
                             text=self.text)

    def entry(self, row: int) -> LogEntry:
        """The entry shown in ``row``."""
        return self.log.entry(self.mapToSource(self.index(row, 0)).row())

    def entries(self) -> list[LogEntry]:
        """The entries shown, in order."""
        return [self.entry(row) for row in range(self.rowCount())]


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
        self.shown = LogFilter(model, self)  # what the list shows: the entries the filters keep
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        title = QLabel("Log")
        title.setStyleSheet("font-weight: bold;")
        self.job_filter = QComboBox()
        self.job_filter.setObjectName("log_job_filter")
        self.job_filter.setToolTip("Show the lines of one job only")
        self.job_filter.addItem("All jobs", None)
        self.level_filter = QComboBox()
        self.level_filter.setObjectName("log_level_filter")
        self.level_filter.setToolTip("Show every line, or only warnings and errors, or only errors")
        for label, level in LEVEL_CHOICES:
            self.level_filter.addItem(label, level)
        self.search = QLineEdit()
        self.search.setObjectName("log_search")
        self.search.setClearButtonEnabled(True)
        self.find_action = make_action("find_in_log", self, self.focus_search)
        self.search.setPlaceholderText("Search…")
        self.search.setToolTip(f"Show the lines whose message or traceback contains this text, in any case "
                               f"({key_text('find_in_log')})")
        self.export_action = make_action("export_log", self, self._export_asked,
                                         tip="Save the log as text: the lines shown, or every line")
        for combo in (self.job_filter, self.level_filter):  # a narrow pane shrinks them rather than its neighbour
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(5)
        self.search.setMinimumWidth(48)
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.job_filter)
        header.addWidget(self.level_filter)
        header.addWidget(self.search, 1)
        layout.addLayout(header)
        self.job_filter.currentIndexChanged.connect(self._filters_changed)
        self.level_filter.currentIndexChanged.connect(self._filters_changed)
        self.search.textChanged.connect(self._filters_changed)
        self._jobs_listed: set[int] = set()  # the jobs the job filter offers
        model.rowsInserted.connect(self._list_new_jobs)
        model.modelReset.connect(lambda: self._list_new_jobs())
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("log_splitter")
        self.list = QListView()
        self.list.setObjectName("log_list")
        self.list.setModel(self.shown)
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
        self.shown.rowsAboutToBeInserted.connect(self._remember_scroll)
        self.shown.rowsInserted.connect(self._follow)
        self._at_bottom = True

    # -- filters -------------------------------------------------------------------------------

    def set_filters(self, *, job_id: int | None = None, least_level: str = LEVELS[0], text: str = "") -> None:
        """Show the lines of ``job_id`` (None: all) at ``least_level`` or above containing ``text``."""
        self._list_new_jobs()
        if job_id is not None and job_id not in self._jobs_listed:
            self._add_job(job_id)
        self.job_filter.setCurrentIndex(max(0, self.job_filter.findData(job_id)))
        self.level_filter.setCurrentIndex(max(0, self.level_filter.findData(least_level)))
        self.search.setText(text)
        self._filters_changed()

    def _filters_changed(self, *_args: object) -> None:
        job = self.job_filter.currentData()
        self.shown.set_filter(job_id=None if job is None else int(job), text=self.search.text().strip(),
                              least_level=str(self.level_filter.currentData() or LEVELS[0]))
        self._show_selected()

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _list_new_jobs(self, _parent: object = None, first: int = 0, last: int | None = None) -> None:
        """Offer each job the log speaks of in the job filter (the rows ``first`` to ``last`` are new)."""
        last = self.model.rowCount() - 1 if last is None else last
        for row in range(first, last + 1):
            job_id = self.model.entry(row).job_id
            if job_id is not None and job_id not in self._jobs_listed:
                self._add_job(job_id)

    def _add_job(self, job_id: int) -> None:
        self._jobs_listed.add(job_id)
        position = 1 + sum(1 for listed in self._jobs_listed if listed < job_id)
        self.job_filter.insertItem(position, f"Job {job_id}", job_id)

    # -- export --------------------------------------------------------------------------------

    def export_text(self, path: str, *, filtered: bool) -> int:
        """Write the log as text to ``path``: the lines shown (``filtered``) or every line. Returns
        how many entries were written; raises OSError."""
        entries = self.shown.entries() if filtered else self.model.entries()
        with open(path, "w", encoding="utf-8") as file:
            file.write(log_text(entries))
        return len(entries)

    def _export_asked(self) -> None:
        filtered = False
        if self.shown.active:
            box = QMessageBox(QMessageBox.Icon.Question, "Export the log",
                              f"Export the {self.shown.rowCount():,} lines shown, or all "
                              f"{self.model.rowCount():,} lines of the log?", parent=self)
            shown = box.addButton("Lines shown", QMessageBox.ButtonRole.AcceptRole)
            whole = box.addButton("Whole log", QMessageBox.ButtonRole.AcceptRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            box.setDefaultButton(shown)
            box.exec()
            if box.clickedButton() not in (shown, whole):
                return
            filtered = box.clickedButton() is shown
        start = os.path.join(os.getcwd(), f"poolscope-log-{time.strftime('%Y%m%d-%H%M%S')}.txt")
        path, _ = QFileDialog.getSaveFileName(self, "Export the log", start, "Text (*.txt);;All files (*)")
        if not path:
            return
        try:
            self.export_text(path, filtered=filtered)
        except OSError as exc:
            QMessageBox.warning(self, "Export the log", f"Could not write {path}: {exc.strerror or exc}")

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
        return [self.shown.entry(row) for row in rows]

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
