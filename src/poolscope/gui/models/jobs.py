"""The jobs table's model: a row per job in submission order, its counts, clocks, rate and time
left as the window's clock shows them (running times never step back)."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from poolscope.core.backends import REGISTRY
from poolscope.core.jobs import JobState
from poolscope.gui.colours import on_base
from poolscope.gui.models.base import (
    PROGRESS_ROLE,
    SEGMENTS_ROLE,
    ViewTableModel,
    format_duration,
    format_rate,
)
from poolscope.monitor.views import JobView

__all__ = ["BACKEND_DESCRIPTIONS", "JobsModel", "outcome_text"]

_STATE_COLOURS = {
    JobState.PENDING: QColor("#6b7280"),
    JobState.RUNNING: QColor("#1d4ed8"),
    JobState.CANCELLING: QColor("#b45309"),
    JobState.TERMINATING: QColor("#b91c1c"),
    JobState.DONE: QColor("#15803d"),
    JobState.FAILED: QColor("#b91c1c"),
    JobState.CANCELLED: QColor("#b45309"),
    JobState.TERMINATED: QColor("#b91c1c"),
}


def outcome_text(done: int, failed: int, cancelled: int, total: int | None) -> str:
    """"8 done, 32 cancelled of 40": what became of a job's tasks, the counts that are not 0."""
    parts = [f"{done:,} done"] + [f"{count:,} {name}" for count, name in ((failed, "failed"), (cancelled, "cancelled"))
                                  if count]
    return ", ".join(parts) + (f" of {total:,}" if total is not None else "")


#: What each backend is, in a phrase (tooltips).
BACKEND_DESCRIPTIONS = {name: info.workers_are for name, info in REGISTRY.items()}


class JobsModel(ViewTableModel):
    """One row per job, in submission order."""

    COLUMNS = ("ID", "Name", "Backend", "State", "Progress", "Done / total", "Failed", "Rate", "Queued", "Running",
               "ETA", "Source")
    BACKEND_COLUMN = 2
    STATE_COLUMN = 3
    PROGRESS_COLUMN = 4
    DONE_COLUMN = 5
    QUEUED_COLUMN = 8
    RUNNING_COLUMN = 9
    ETA_COLUMN = 10
    SOURCE_COLUMN = 11  # the window's own engine ("this window") or the attached script it runs in
    #: What the Source column says of the window's own jobs.
    OWN_SOURCE = "this window"
    _TIME_COLUMNS = (7, 8, 9, 10)
    _RIGHT_ALIGNED = (0, 5, 6, 7, 8, 9, 10)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[JobView] = []  # in submission order
        self._row_of: dict[int, int] = {}  # job id -> row
        self._now = time.monotonic()  # the clock elapsed times are shown at; advanced by tick()
        # BridgeUpdate.as_of of the newest update (None: not told): the jobs not final were still
        # running then, and no later. Their clocks stop there (a job's end comes after it, with
        # the engine's own end time: a clock run on to now would overshoot it), and their rate and
        # time left are measured then (core/estimate.py)
        self._heard_at: float | None = None
        # job id -> the running time last shown for it: it must never step back
        self._running_shown: dict[int, float] = {}

    # -- feeding ---------------------------------------------------------------------------

    def apply(self, jobs: dict[int, JobView]) -> None:
        """Take the changed job views of an update: new rows are appended, others repainted."""
        # the window's own in id order, then attached ones in the order heard of (their window ids count down)
        new = sorted((view for job_id, view in jobs.items() if job_id not in self._row_of),
                     key=lambda view: (view.source_key is not None, abs(view.job_id)))
        first_changed, last_changed = len(self._rows), -1
        for job_id, view in jobs.items():
            row = self._row_of.get(job_id)
            if row is not None:
                self._rows[row] = view
                first_changed, last_changed = min(first_changed, row), max(last_changed, row)
        if last_changed >= 0:
            self.dataChanged.emit(self.index(first_changed, 0), self.index(last_changed, len(self.COLUMNS) - 1))
        if new:
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
            for offset, view in enumerate(new):
                self._row_of[view.job_id] = start + offset
                self._rows.append(view)
            self.endInsertRows()

    def heard(self, as_of: float) -> None:
        """The newest update was made at ``as_of`` (BridgeUpdate.as_of)."""
        self._heard_at = as_of if self._heard_at is None else max(self._heard_at, as_of)

    @property
    def _clock(self) -> float:
        """The time the growing clocks are shown at: now, but no later than the newest news."""
        return self._now if self._heard_at is None else min(self._now, self._heard_at)

    def tick(self, now: float | None = None) -> None:
        """Advance the clock for elapsed/ETA of running jobs and repaint those cells."""
        self._now = time.monotonic() if now is None else now
        running = [row for row, view in enumerate(self._rows) if not view.state.is_final]
        for row in running:
            view = self._rows[row]
            seconds = view.running_seconds(self._clock)
            if seconds is not None:
                self._running_shown[view.job_id] = max(seconds, self._running_shown.get(view.job_id, 0.0))
        if running:
            self.dataChanged.emit(self.index(running[0], self._TIME_COLUMNS[0]),
                                  self.index(running[-1], self._TIME_COLUMNS[-1]), [Qt.ItemDataRole.DisplayRole])

    def remove_finished(self) -> list[int]:
        """Drop every row whose job is final; returns their job ids."""
        keep = [view for view in self._rows if not view.state.is_final]
        removed = [view.job_id for view in self._rows if view.state.is_final]
        if removed:
            self.beginResetModel()
            self._rows = keep
            self._row_of = {view.job_id: row for row, view in enumerate(keep)}
            for job_id in removed:
                self._running_shown.pop(job_id, None)
            self.endResetModel()
        return removed

    # -- reading ---------------------------------------------------------------------------

    def job(self, row: int) -> JobView:
        return self._rows[row]

    def jobs(self) -> list[JobView]:
        return list(self._rows)

    def row_of(self, job_id: int) -> int | None:
        return self._row_of.get(job_id)

    def view_of(self, job_id: int) -> JobView | None:
        row = self._row_of.get(job_id)
        return None if row is None else self._rows[row]

    # -- Qt model interface ------------------------------------------------------------------

    def running_seconds(self, view: JobView) -> float | None:
        """The running time shown for a job: never less than was shown before."""
        seconds = view.running_seconds(self._clock)
        if seconds is None:
            return None
        return max(seconds, self._running_shown.get(view.job_id, 0.0))

    def _other_role(self, view: JobView, column: int, role: int) -> Any:
        if role == PROGRESS_ROLE:
            return view.fraction
        if role == SEGMENTS_ROLE:
            return view.done, view.failed, view.cancelled, view.total
        if role == Qt.ItemDataRole.ToolTipRole and column in (self.PROGRESS_COLUMN, self.DONE_COLUMN):
            return outcome_text(view.done, view.failed, view.cancelled, view.total)
        if role == Qt.ItemDataRole.ToolTipRole and column in (self.QUEUED_COLUMN, self.RUNNING_COLUMN):
            return "Queued: from submission until its first task started. Running: from then until it ended."
        if role == Qt.ItemDataRole.ToolTipRole and column == self.STATE_COLUMN and view.lost:
            return f"Lost: {view.lost}"
        if role == Qt.ItemDataRole.ToolTipRole and column == self.SOURCE_COLUMN:
            return ("run by this window's own pool" if view.source_key is None
                    else f"run by the script {view.source}, which reports to this window (its job {view.shown_id})")
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATE_COLUMN:
            return QBrush(on_base(_STATE_COLOURS.get(view.state, QColor("black"))))
        if role == Qt.ItemDataRole.FontRole and column == self.STATE_COLUMN and not view.state.is_final:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            backend = view.backend
            on = f"\non {BACKEND_DESCRIPTIONS.get(backend, backend)}" if backend else ""
            return f"{view.target} over {view.inputs}{on}" if view.target else None
        return None

    def _display(self, view: JobView, column: int) -> str:
        if column == 0:
            return str(view.shown_id)
        if column == 1:
            return view.name
        if column == 2:
            return view.backend
        if column == 3:
            return "lost" if view.lost else view.state.value
        if column == 4:
            return "" if view.percent is None else f"{view.percent}%"
        if column == 5:
            total = "?" if view.total is None else f"{view.total:,}"
            cancelled = f", {view.cancelled:,} cancelled" if view.cancelled else ""
            return f"{view.done:,} / {total}{cancelled}"
        if column == 6:
            return f"{view.failed:,}" if view.failed else ""
        if column == 7:
            return format_rate(view.estimate(self._now, self._heard_at).rate)
        if column == 8:
            return format_duration(view.queued_seconds(self._clock))
        if column == 9:
            return format_duration(self.running_seconds(view))
        if column == 10:
            return format_duration(view.estimate(self._now, self._heard_at).eta)
        if column == 11:
            return view.source or self.OWN_SOURCE
        return ""
