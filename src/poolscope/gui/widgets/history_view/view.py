"""The History view: the table of past jobs with its filters, the selected job's details, and
what can be done with it (run again, edit, save its results, export its timeline); the history's
retention and the space it takes."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from poolscope.core.errors import SpecError
from poolscope.core.history import (
    FINAL_STATES,
    SCRIPT_SOURCE_PREFIX,
    History,
    HistoryError,
    JobRow,
    spec_from_json,
    target_from_json,
)
from poolscope.gui.widgets.history_view.details import JobDetails
from poolscope.gui.widgets.history_view.model import HistoryFilter, HistoryModel

__all__ = ["RUN_AGAIN_BY_SCRIPT_TIP", "RUN_AGAIN_TIP", "HistoryView"]

SHOWN_JOBS = 2000  # the newest jobs the table lists
REFRESH_MS = 300  # after a job's end is recorded, the shown table is read again this much later (once a burst)
SAVE_PAUSE_SECONDS = 0.002  # a saving thread sleeps this long every thousand results (see MainWindow.save_results)
ALL = "All"
RUN_AGAIN_TIP = "Start the selected job again with the same settings (its target is checked first, as on Start)"
RUN_AGAIN_BY_SCRIPT_TIP = ("A script's pool ran this job, with the script's own functions and inputs: run the "
                           "script again to run it again")


class HistoryView(QWidget):
    """Past jobs, the selected one's details, and what can be done with it (see the module)."""

    run_again_requested = Signal(object)  # JobSpec: start a past job again with its settings
    edit_requested = Signal(object)  # JobSpec: put a past job's settings in the launch panel
    job_recorded = Signal(int)  # a job's end was recorded (its history id); emitted from the recorder's thread
    saved = Signal(int, str, object)  # (job id, path, how many written or the OSError): a save ended; from its thread
    notice = Signal(str)  # something to tell the user (the window shows it in its status bar and log)

    def __init__(self, history: History, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self._stale = True  # a job was recorded while the view was hidden
        self.saving: threading.Thread | None = None  # the thread of the save under way, if any
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        filters = QHBoxLayout()
        self.state_combo = QComboBox()
        self.state_combo.setObjectName("history_state")
        self.state_combo.addItems([ALL, *FINAL_STATES, "running"])
        self.target_combo = QComboBox()
        self.target_combo.setObjectName("history_target")
        self.target_combo.setMinimumContentsLength(16)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("history_search")
        self.search_edit.setPlaceholderText("Search name, target, inputs, source")
        self.search_edit.setClearButtonEnabled(True)
        self.refresh_button = QPushButton("Refresh")
        for label, widget in (("State", self.state_combo), ("Target", self.target_combo)):
            filters.addWidget(QLabel(label))
            filters.addWidget(widget)
        filters.addWidget(self.search_edit, 1)
        filters.addWidget(self.refresh_button)
        layout.addLayout(filters)

        self.model = HistoryModel(self)
        self.proxy = HistoryFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("history_table")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((50, 85, 110, 160, 120, 100, 140, 75, 110, 60, 75)):
            self.table.setColumnWidth(column, width)

        self.details = JobDetails(history)
        self.settings_text, self.failures_tree, self.plot, self.curve = (
            self.details.settings_text, self.details.failures_tree, self.details.plot, self.details.curve)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("history_splitter")
        split.setChildrenCollapsible(False)
        split.addWidget(self.table)
        split.addWidget(self.details)
        split.setSizes([300, 220])
        layout.addWidget(split, 1)

        actions = QHBoxLayout()
        self.save_button = QPushButton("Save results…")
        self.save_button.setToolTip("Write the selected job's results as JSON Lines (.jsonl) or CSV (.csv)")
        self.timeline_button = QPushButton("Export timeline…")
        self.timeline_button.setToolTip("Write which worker ran which chunk, when, as Chrome trace JSON "
                                        "(opens in Perfetto and chrome://tracing)")
        self.run_again_button = QPushButton("Run again")
        self.run_again_button.setToolTip(RUN_AGAIN_TIP)
        self.edit_button = QPushButton("Edit in launch panel")
        self.edit_button.setToolTip("Put the selected job's settings in the launch panel, to change and start")
        self.retention_spin = QSpinBox()
        self.retention_spin.setObjectName("history_retention")
        self.retention_spin.setRange(0, 3650)
        self.retention_spin.setSpecialValueText("for ever")
        self.retention_spin.setSuffix(" days")
        self.retention_spin.setToolTip("How long ended jobs and their results are kept (removed when a window opens)")
        self.space_label = QLabel()
        self.space_label.setObjectName("history_space")
        for button in (self.save_button, self.timeline_button, self.run_again_button, self.edit_button):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(QLabel("Keep"))
        actions.addWidget(self.retention_spin)
        actions.addWidget(self.space_label)
        layout.addLayout(actions)

        days = history.retention_days
        self.retention_spin.setValue(0 if days is None else max(1, round(days)))
        self.retention_spin.setEnabled(history.writable)
        self.state_combo.currentIndexChanged.connect(self._filter_changed)
        self.target_combo.currentIndexChanged.connect(self._filter_changed)
        self.search_edit.textChanged.connect(self._filter_changed)
        self.refresh_button.clicked.connect(self.refresh)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.save_button.clicked.connect(lambda: self.save_results())
        self.timeline_button.clicked.connect(lambda: self.export_timeline())
        self.run_again_button.clicked.connect(lambda: self._hand_over(self.run_again_requested))
        self.edit_button.clicked.connect(lambda: self._hand_over(self.edit_requested))
        self.retention_spin.valueChanged.connect(self._retention_changed)
        # Refreshes the shown table once after jobs' ends were recorded (REFRESH_MS gathers a burst).
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self.job_recorded.connect(self._job_recorded)
        self._selection_changed()

    # -- reading -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the jobs again, keeping the selection and the filters."""
        selected = self.selected_job()
        self.model.set_jobs(self.history.jobs(limit=SHOWN_JOBS))
        current = self.target_combo.currentText()
        targets = sorted({job.target for job in self.model.jobs()})
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        self.target_combo.addItems([ALL, *targets])
        self.target_combo.setCurrentIndex(max(0, self.target_combo.findText(current)))
        self.target_combo.blockSignals(False)
        self._filter_changed()
        if selected is not None:
            self.select_job(selected.id)
        self._show_space()
        self._stale = False

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _job_recorded(self, _job_id: int) -> None:
        self._stale = True
        if self.isVisible() and not self._refresh_timer.isActive():  # many jobs ending: one read
            self._refresh_timer.start()

    def _show_space(self) -> None:
        self.space_label.setText(f"using {self.history.space_used() / 1e6:,.1f} MB in {self.history.directory}")

    def _filter_changed(self, *_args: Any) -> None:
        state = self.state_combo.currentText()
        target = self.target_combo.currentText()
        self.proxy.set_filter("" if state == ALL else state, "" if target in (ALL, "") else target,
                              self.search_edit.text())

    def visible_job_ids(self) -> list[int]:
        """The ids of the jobs the table shows, in its order."""
        return [int(self.proxy.data(self.proxy.index(row, 0), Qt.ItemDataRole.UserRole))
                for row in range(self.proxy.rowCount())]

    def selected_job(self) -> JobRow | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        return self.model.job(self.proxy.mapToSource(rows[0]).row())

    def select_job(self, job_id: int) -> None:
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if self.proxy.data(index, Qt.ItemDataRole.UserRole) == job_id:
                self.table.selectRow(row)
                self.table.scrollTo(index)
                return

    def _selection_changed(self, *_args: Any) -> None:
        job = self.selected_job()
        for button in (self.save_button, self.timeline_button, self.run_again_button, self.edit_button):
            button.setEnabled(job is not None)
        self.details.show_job(job)
        if job is None:
            return
        self.save_button.setEnabled(bool(job.results_path) and os.path.exists(job.results_path or ""))
        # A script's pool ran it, with the script's own functions and inputs in memory: the
        # window cannot start it again (run the script again); its other details stand.
        by_script = job.source.startswith(SCRIPT_SOURCE_PREFIX)
        for button in (self.run_again_button, self.edit_button):
            button.setEnabled(not by_script)
        self.run_again_button.setToolTip(RUN_AGAIN_BY_SCRIPT_TIP if by_script else RUN_AGAIN_TIP)

    # -- acting on the selected job ----------------------------------------------------------
    def _hand_over(self, signal: Any) -> None:
        job = self.selected_job()
        if job is None:
            return
        try:
            spec = spec_from_json(job.spec)
        except SpecError as exc:
            self.notice.emit(f"Job {job.id} cannot be run again as it was: {exc}")
            return
        signal.emit(spec)

    def _retention_changed(self, days: int) -> None:
        try:
            self.history.set_retention_days(None if days == 0 else float(days))
        except (HistoryError, OSError, ValueError) as exc:
            self.notice.emit(f"The history's retention could not be set: {exc}")

    def export_timeline(self, path: str | None = None) -> bool:
        """Write the selected job's timeline as Chrome trace JSON to ``path`` (asked for when None)."""
        from poolscope.core.exports import write_trace

        job = self.selected_job()
        if job is None:
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, f"Export the timeline of job {job.id} ({job.name})",
                                                  f"{job.name}-{job.id}-timeline.json", "Chrome trace JSON (*.json)")
            if not path:
                return False
        try:
            with open(path, "w", encoding="utf-8") as stream:
                count = write_trace(stream, job, self.history.timeline(job.id))
        except OSError as exc:
            self.notice.emit(f"Could not write the timeline of job {job.id} to {path}: {exc.strerror or exc}")
            return False
        self.notice.emit(f"Wrote the timeline of job {job.id} ({count:,} chunks) to {path}")
        return True

    def save_results(self, path: str | None = None) -> bool:
        """Write the selected job's results to ``path`` (asked for when None) in a thread: CSV if
        the name ends in .csv, else JSON Lines. ``saved`` says how it ended."""
        job = self.selected_job()
        if job is None or not job.results_path:
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, f"Save the results of job {job.id} ({job.name})",
                                                  f"{job.name}-{job.id}-results.jsonl",
                                                  "JSON Lines (*.jsonl);;CSV (*.csv);;All files (*)")
            if not path:
                return False
        self.notice.emit(f"Saving the results of job {job.id} to {path} ...")
        results_path, spec, job_id, signal = job.results_path, job.spec, job.id, self.saved

        def save() -> None:
            outcome: Any
            try:
                outcome = _write_results(results_path, spec, path)
            except (OSError, ValueError) as exc:
                outcome = exc if isinstance(exc, OSError) else OSError(str(exc))
            try:
                signal.emit(job_id, path, outcome)
            except RuntimeError:  # the view is gone
                pass

        self.saving = threading.Thread(target=save, name="poolscope-save-history-results", daemon=True)
        self.saving.start()
        return True


def _write_results(results_path: str, spec: dict[str, Any], path: str) -> int:
    """Runs in a saving thread: the results of a results file, JSON-ready, to ``path``. Those of a
    target of the user's code are made JSON-ready in a child process (never in the window's)."""
    from poolscope.core.exports import job_inputs, write_csv, write_jsonl
    from poolscope.core.results import file_items, file_json_ready_items

    target = target_from_json(spec["target"])

    def items() -> Any:
        return file_json_ready_items(results_path, target) if target.is_user_code else file_items(results_path)

    def pause(_count: int) -> None:
        time.sleep(SAVE_PAUSE_SECONDS)  # let the window's main thread have the GIL

    with open(path, "w", encoding="utf-8", newline="") as stream:
        if path.lower().endswith(".csv"):
            return write_csv(stream, items, lambda: job_inputs(spec), pause)
        return write_jsonl(stream, items(), job_inputs(spec), pause)
