"""The workers table's model: a row per worker (the window's own processes or thread slots, each
attached script's, then the Dask workers), its figures as the last update gave them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush

from poolscope.core.backends import REGISTRY, backend_info
from poolscope.gui.colours import on_base
from poolscope.gui.models.base import ViewTableModel, format_bytes
from poolscope.monitor.views import WorkerView

__all__ = ["WorkersModel"]

_BACKEND_ORDER = {name: order for order, name in enumerate(REGISTRY)}


class WorkersModel(ViewTableModel):
    """One row per worker: local processes and thread slots by slot (the window's own, then each
    attached script's), then the Dask workers by address."""

    COLUMNS = ("Backend", "PID", "Worker", "State", "Job", "Task", "CPU %", "Memory", "Tasks done")
    _RIGHT_ALIGNED = (1, 6, 7, 8)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        # ordered by backend, source, then slot (unknown slots last), then pid/address
        self._rows: list[WorkerView] = []
        self._row_of: dict[int | str, int] = {}  # WorkerView.key -> row
        self._job_names: dict[int, str] = {}  # job id -> name, for the Job column
        self._shown_ids: dict[int, int] = {}  # window job id -> its id in its script (attached jobs only)

    def set_job_names(self, names: dict[int, str]) -> None:
        self._job_names.update(names)

    def set_shown_ids(self, shown: dict[int, int]) -> None:
        """The ids attached scripts' jobs are known by (window id -> the script's own id)."""
        self._shown_ids.update(shown)

    def forget_job_names(self, job_ids: Iterable[int]) -> None:
        """Drop the names of jobs the window cleared."""
        for job_id in job_ids:
            self._job_names.pop(job_id, None)
            self._shown_ids.pop(job_id, None)

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
        # the window's own workers first, then each attached script's
        self._rows = sorted(by_key.values(), key=lambda v: (_BACKEND_ORDER.get(v.backend, 9), v.source,
                                                            v.slot is None, v.slot or 0, v.address, v.pid or 0))
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
            slot = f"{backend_info(view.backend).slot_noun} {view.slot}" if view.slot is not None else ""
            return f"{slot} · {view.source}" if view.source else slot
        if column == 3:
            return "busy" if view.busy else "idle"
        if column == 4:
            if view.job_id is None:
                return ""
            name = self._job_names.get(view.job_id)
            shown = self._shown_ids.get(view.job_id, view.job_id)
            return f"{shown} {name}" if name else str(shown)
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
        of = f" of {view.source}" if view.source else ""
        return f"Worker process {view.pid}{of} in slot {view.slot} (CPU and memory include its child processes)"
