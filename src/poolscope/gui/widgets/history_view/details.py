"""The History view's details of the selected past job: its settings, its failures grouped by
exception type with a count, and its throughput curve."""

from __future__ import annotations

import json
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QPlainTextEdit, QSplitter, QTreeWidget, QTreeWidgetItem

from poolscope.core.history import History, JobRow
from poolscope.gui.widgets.history_view.model import duration_text
from poolscope.gui.widgets.plotting import live_curve, make_plot, text_colour

__all__ = ["JobDetails", "settings_of"]


class JobDetails(QSplitter):
    """Three panes side by side, showing one job of ``history`` (or none)."""

    def __init__(self, history: History) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.history = history
        self.settings_text = QPlainTextEdit()
        self.settings_text.setObjectName("history_settings")
        self.settings_text.setReadOnly(True)
        self.failures_tree = QTreeWidget()
        self.failures_tree.setObjectName("history_failures")
        self.failures_tree.setHeaderLabels(["Failure", "Count", "Message"])
        self.failures_tree.setColumnWidth(0, 200)
        self.failures_tree.setColumnWidth(1, 60)
        self.plot = make_plot(left="tasks/s", bottom="seconds after it was submitted")
        self.curve = live_curve(self.plot, QColor(text_colour()), width=1.5)
        self._fill = QColor(text_colour())
        self._fill.setAlpha(60)  # the area under the steps: its count
        self.setChildrenCollapsible(False)
        for pane in (self.settings_text, self.failures_tree, self.plot):
            self.addWidget(pane)
        self.setSizes([300, 380, 420])

    def show_job(self, job: JobRow | None) -> None:
        """Show ``job``'s details, or clear them for None."""
        self.failures_tree.clear()
        if job is None:
            self.settings_text.setPlainText("")
            self.curve.setData([], [], stepMode=None)
            return
        self.settings_text.setPlainText(settings_of(job))
        for type_name, count, message in self.history.failure_groups(job.id):
            group = QTreeWidgetItem([type_name, f"{count:,}", message])
            group.setToolTip(2, message)
            self.failures_tree.addTopLevelItem(group)
        for failure in self.history.failures(job.id):
            groups = self.failures_tree.findItems(failure.type, Qt.MatchFlag.MatchExactly, 0)
            if groups:
                where = f"input {failure.index}" if failure.index >= 0 else "the job"
                item = QTreeWidgetItem([where, "", f"{failure.input}: {failure.message}" if failure.input
                                        else failure.message])
                item.setToolTip(2, failure.traceback or failure.message)
                groups[0].addChild(item)
        edges, rates = job.throughput_curve()
        self.curve.setData(edges, rates, stepMode="center", fillLevel=0, brush=self._fill)


def settings_of(job: JobRow) -> str:
    """A past job's settings and outcome, a line each."""
    spec = job.spec
    lines = [f"Job {job.id}: {job.name} ({job.state})", f"Target: {job.target}", f"Inputs: {job.inputs}",
             "Keyword arguments: " + (json.dumps(spec["kwargs"]) if spec.get("kwargs") is not None
                                      else str(spec.get("kwargs_repr"))),
             f"Backend: {job.backend}, {job.workers if job.workers is not None else '?'} workers",
             f"Chunk size: {spec.get('chunksize') or 'automatic'}",
             (f"Timeout: {spec.get('timeout') or 'none'}; retries: {spec.get('retries', 0)}; "
             f"max tasks per worker: {spec.get('max_tasks_per_worker') or 'no limit'}"),
             f"Initializer: {spec['initializer']['text'] if spec.get('initializer') else 'none'}",
             f"Source: {job.source}",
             f"Submitted: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(job.submitted))}",
             f"Duration: {duration_text(job.duration) or '-'}",
             (f"Done {job.done:,}, failed {job.failed:,}, cancelled {job.cancelled:,} of "
             f"{job.total if job.total is not None else '?'}"),
             f"Results: {job.results_path or 'none'}"]
    lines.extend(f"Notice: {notice}" for notice in job.notices)
    return "\n".join(lines)
