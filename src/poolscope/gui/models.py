"""Table models for the window: jobs, workers and log entries, fed by :class:`BridgeUpdate` s.

The models hold the views the bridge computed and only render them; they decide nothing.
The jobs table's progress column is a bar of done, failed and cancelled tasks drawn by
:class:`ProgressDelegate`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from poolscope.core.backends import REGISTRY, backend_info
from poolscope.core.jobs import JobState
from poolscope.gui.colours import on_base
from poolscope.monitor.views import JobView, LogEntry, WorkerView

__all__ = ["JobsModel", "LogModel", "ProgressDelegate", "WorkersModel", "format_bytes", "format_duration"]

#: Role under which the jobs model gives a row's progress as a float 0..1 (or None when unknown).
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 1
#: Role under which every model gives the row's job id (or None).
JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 2
#: Role under which the jobs model gives (done, failed, cancelled, total) for its bar (total None: unknown).
SEGMENTS_ROLE = Qt.ItemDataRole.UserRole + 3

#: The progress bar's segments: done, failed, cancelled. Mid tones that stand apart on a light and
#: on a dark base (contrast over 3:1 on white and on #1e1e1e), and from each other in hue and in
#: pattern (cancelled is hatched), so they do not rest on colour alone.
SEGMENT_COLOURS = {"done": QColor("#16a34a"), "failed": QColor("#dc2626"), "cancelled": QColor("#d97706")}

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

_Index = QModelIndex | QPersistentModelIndex


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


def outcome_text(done: int, failed: int, cancelled: int, total: int | None) -> str:
    """"8 done, 32 cancelled of 40": what became of a job's tasks, the counts that are not 0."""
    parts = [f"{done:,} done"] + [f"{count:,} {name}" for count, name in ((failed, "failed"), (cancelled, "cancelled"))
                                  if count]
    return ", ".join(parts) + (f" of {total:,}" if total is not None else "")


#: What each backend is, in a phrase (tooltips).
BACKEND_DESCRIPTIONS = {name: info.workers_are for name, info in REGISTRY.items()}
_BACKEND_ORDER = {name: order for order, name in enumerate(REGISTRY)}


def format_rate(rate: float) -> str:
    if rate <= 0:
        return ""
    if rate >= 100:
        return f"{rate:,.0f}/s"
    return f"{rate:.1f}/s"


class _ViewTableModel(QAbstractTableModel):
    """A table with one view object per row: the Qt side that the jobs and workers tables share.

    Subclasses set COLUMNS and _RIGHT_ALIGNED, keep ``_rows``, and say what a cell shows
    (``_display``) and, for other roles, ``_other_role``.
    """

    COLUMNS: tuple[str, ...] = ()
    _RIGHT_ALIGNED: tuple[int, ...] = ()
    _rows: list[Any]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
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


class JobsModel(_ViewTableModel):
    """One row per job, in submission order."""

    COLUMNS = ("ID", "Name", "Backend", "State", "Progress", "Done / total", "Failed", "Rate", "Queued", "Running",
               "ETA")
    BACKEND_COLUMN = 2
    STATE_COLUMN = 3
    PROGRESS_COLUMN = 4
    DONE_COLUMN = 5
    QUEUED_COLUMN = 8
    RUNNING_COLUMN = 9
    ETA_COLUMN = 10
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
        new = [view for job_id, view in sorted(jobs.items()) if job_id not in self._row_of]
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
            return str(view.job_id)
        if column == 1:
            return view.name
        if column == 2:
            return view.backend
        if column == 3:
            return view.state.value
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
        return ""


class ProgressDelegate(QStyledItemDelegate):
    """Paints a job's tasks as a bar from the model's SEGMENTS_ROLE: done, failed and cancelled
    apart (cancelled hatched), the rest empty, and the percent done over it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        segments = index.data(SEGMENTS_ROLE)
        palette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, palette.highlight())
        bar = QRectF(option.rect.adjusted(3, 4, -3, -4))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.fillRect(bar, palette.color(QPalette.ColorRole.Base))
        text = "…"
        if segments is not None:
            done, failed, cancelled, total = segments
            if total:
                left = bar.left()
                for count, name in ((done, "done"), (failed, "failed"), (cancelled, "cancelled")):
                    width = bar.width() * min(count, total) / total
                    if width <= 0:
                        continue
                    piece = QRectF(left, bar.top(), min(width, bar.right() - left), bar.height())
                    colour = SEGMENT_COLOURS[name]
                    if name == "cancelled":
                        painter.fillRect(piece, QBrush(colour, Qt.BrushStyle.BDiagPattern))
                    else:
                        painter.fillRect(piece, colour)
                    left += width
            percent = index.data(Qt.ItemDataRole.DisplayRole)
            text = percent or ("…" if not total else "")
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawRect(bar.adjusted(0, 0, -1, -1))
        if text:
            # the figure on a patch of the base colour, so it reads over any segment in any palette
            metrics = option.fontMetrics
            width = metrics.horizontalAdvance(text) + 8
            patch = QRectF(bar.center().x() - width / 2, bar.top() + 2, width, bar.height() - 4)
            background = palette.color(QPalette.ColorRole.Base)
            background.setAlpha(215)
            painter.fillRect(patch, background)
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            painter.drawText(bar, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


class WorkersModel(_ViewTableModel):
    """One row per worker: local processes and thread slots by slot, then the Dask workers by address."""

    COLUMNS = ("Backend", "PID", "Worker", "State", "Job", "Task", "CPU %", "Memory", "Tasks done")
    _RIGHT_ALIGNED = (1, 6, 7, 8)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[WorkerView] = []  # ordered by backend, then slot (unknown slots last), then pid/address
        self._row_of: dict[int | str, int] = {}  # WorkerView.key -> row
        self._job_names: dict[int, str] = {}  # job id -> name, for the Job column

    def set_job_names(self, names: dict[int, str]) -> None:
        self._job_names.update(names)

    def forget_job_names(self, job_ids: Iterable[int]) -> None:
        """Drop the names of jobs the window cleared."""
        for job_id in job_ids:
            self._job_names.pop(job_id, None)

    def apply(self, workers: dict[int | str, WorkerView]) -> None:
        """Take the changed worker views of an update; ones no longer alive leave the table."""
        if not workers:
            return
        structural = any(
            key in self._row_of if not view.alive
            else key not in self._row_of or self._rows[self._row_of[key]].slot != view.slot
            for key, view in workers.items())
        if not structural:  # the same rows in the same order: replace the changed ones in place
            first_changed, last_changed = len(self._rows), -1
            for key, view in workers.items():
                if view.alive:
                    row = self._row_of[key]
                    self._rows[row] = view
                    first_changed, last_changed = min(first_changed, row), max(last_changed, row)
            if last_changed >= 0:
                self.dataChanged.emit(self.index(first_changed, 0), self.index(last_changed, len(self.COLUMNS) - 1))
            return
        by_key = {view.key: view for view in self._rows}
        for key, view in workers.items():
            if view.alive:
                by_key[key] = view
            else:
                by_key.pop(key, None)
        self.beginResetModel()
        self._rows = sorted(by_key.values(), key=lambda v: (_BACKEND_ORDER.get(v.backend, 9), v.slot is None,
                                                            v.slot or 0, v.address, v.pid or 0))
        self._row_of = {view.key: row for row, view in enumerate(self._rows)}
        self.endResetModel()

    def workers(self, backend: str | None = None) -> list[WorkerView]:
        """The rows (of one backend when given)."""
        return [view for view in self._rows if backend is None or view.backend == backend]

    def _other_role(self, view: WorkerView, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(view)
        if role == Qt.ItemDataRole.ForegroundRole and column == 3:
            return QBrush(on_base("#1d4ed8" if view.busy else "#6b7280"))
        return None

    def _display(self, view: WorkerView, column: int) -> str:
        remote = backend_info(view.backend).remote
        if column == 0:
            return view.backend
        if column == 1:
            return "" if view.pid is None else str(view.pid)
        if column == 2:
            if remote:  # tcp:// is the usual scheme: the rest is what tells workers apart (the tooltip has it all)
                return view.address.removeprefix("tcp://")
            return f"{backend_info(view.backend).slot_noun} {view.slot}" if view.slot is not None else ""
        if column == 3:
            return "busy" if view.busy else "idle"
        if column == 4:
            if view.job_id is None:
                return ""
            name = self._job_names.get(view.job_id)
            return f"{view.job_id} {name}" if name else str(view.job_id)
        if column == 5:
            if remote:
                parts = [f"{view.executing} running"] if view.executing else []
                parts += [f"{view.queued} queued"] if view.queued else []
                return ", ".join(parts)
            if view.index is None:
                return ""
            if view.task_progress is not None:
                return f"#{view.index} ({view.task_progress * 100:.0f}%)"
            return f"#{view.index}"
        if column == 6:
            return "" if view.cpu_percent is None else f"{view.cpu_percent:.0f}"
        if column == 7:
            return format_bytes(view.rss) if view.rss else ""
        if column == 8:
            return "" if remote else f"{view.tasks_done:,}"
        return ""

    @staticmethod
    def _tooltip(view: WorkerView) -> str:
        info = backend_info(view.backend)
        if info.remote:
            limit = f" of {format_bytes(view.memory_limit)}" if view.memory_limit else ""
            pid = f", pid {view.pid}" if view.pid is not None else ""
            return (f"{info.nouns[0]} worker {view.name or view.address} at {view.address}\nhost {view.host}{pid}, "
                    f"{view.nthreads} thread{'s' if view.nthreads != 1 else ''}\nmemory {format_bytes(view.rss)}"
                    f"{limit}; {view.executing} running, {view.queued} queued (CPU and memory as the scheduler "
                    f"last heard)")
        if info.sampled_as == "thread":
            return (f"Thread slot {view.slot} of this process (native thread id {view.pid}): its own CPU time; "
                    "threads share one GIL")
        return f"Worker process {view.pid} in slot {view.slot} (CPU and memory include its child processes)"


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

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
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
