"""Tasks completed per second, live: the total over every job, and one curve per running job.

Rates come from the bridge's telemetry (counts turned into rates in ``core/telemetry.py``, as
points whose straight-line curve has the tasks' count as its area: a job's area is the tasks it
finished); each series lives in a numpy :class:`RingBuffer` and is drawn by a curve made once.
Paused (:meth:`ThroughputGraph.set_paused`), it draws nothing and the mouse zooms and pans it;
hovering shows each curve's value and the time; :meth:`ThroughputGraph.export` writes it as PNG,
SVG or CSV (see ``plotting.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from poolscope.core.telemetry import RingBuffer, TelemetrySample
from poolscope.gui.shortcuts import make_action
from poolscope.gui.widgets.plotting import (
    HISTORY_CHOICES,
    HoverTips,
    add_legend,
    base_colour,
    context_menu,
    curves_text,
    export_plot,
    export_with_dialog,
    history_combo,
    legible,
    live_curve,
    make_plot,
    paused_label,
    remove_curve,
    set_interactive,
    style_plot,
    total_colour,
)

__all__ = ["ThroughputGraph"]

#: Points kept for the total: the longest history at the fastest sampling, two points a reading
#: (a reading's time, and a window's end since the last reading).
TOTAL_CAPACITY = 2 * int(max(HISTORY_CHOICES) / 0.2) + 1
#: Points kept per job: five minutes at 4 readings a second, so hundreds of jobs stay cheap.
JOB_CAPACITY = 2400
#: Job curves drawn at most (the most recently active jobs); the total covers every job. Each
#: curve costs a setData per frame and a legend row, so hundreds of them stall the window.
MAX_JOB_CURVES = 8

_JOB_COLOURS = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#db2777", "#65a30d")


def job_colour(job_id: int) -> QColor:
    """A job's line: its colour of _JOB_COLOURS, made to stand out 3:1 from the palette's Base."""
    return legible(_JOB_COLOURS[(job_id - 1) % len(_JOB_COLOURS)], base_colour())


def _nice_ceiling(value: float) -> float:
    """A round number a little above ``value`` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        candidate = factor * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


class ThroughputGraph(QWidget):
    """Total tasks/s (thick) and tasks/s per running job."""

    def __init__(self, *, history: int = HISTORY_CHOICES[0], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.total = RingBuffer(TOTAL_CAPACITY)  # time.monotonic() -> tasks/s over every job
        self.jobs: dict[int, RingBuffer] = {}  # job id -> its tasks/s while it ran
        self.job_curves: dict[int, pg.PlotDataItem] = {}  # job id -> its curve, made once
        self._job_names: dict[int, str] = {}  # job id -> name, for the legend
        self._y_max = 0.0
        self._at_rest = False  # the last refresh drew a flat zero across the view, and no job
        self.paused = False  # set_paused(): nothing is drawn, the mouse zooms and pans
        self.drawn_at = time.monotonic()  # the time.monotonic() the curves' x (seconds before it) count from

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        title = QLabel("Throughput (tasks/s)")
        title.setStyleSheet("font-weight: bold;")
        self.current = QLabel("")
        self.current.setObjectName("throughput_current")
        self.history_combo = history_combo("throughput_history", history, self.set_history)
        self.paused_mark = paused_label()
        header.addWidget(title)
        header.addWidget(self.paused_mark)
        header.addStretch(1)
        header.addWidget(self.current)
        header.addWidget(QLabel("History"))
        header.addWidget(self.history_combo)
        layout.addLayout(header)

        self.plot = make_plot(left="tasks/s")
        self.plot.setObjectName("throughput_plot")
        item = self.plot.getPlotItem()
        self.legend = add_legend(item, offset=(6, 4))
        # the total is a broad grey band under the jobs' thin lines, so one job's line stays visible
        self.total_curve = live_curve(self.plot, total_colour(), name="total", width=5)
        item.setXRange(-history, 0, padding=0)
        item.setYRange(0, 1, padding=0)
        layout.addWidget(self.plot, 1)
        self.hover = HoverTips(self.plot.viewport(), self.hover_text)
        self.export_action = make_action("export_throughput_graph", self, self._export_asked,
                                         tip="Save the throughput graph as a PNG or SVG image, or its data as CSV")
        context_menu(self)

    # -- data ------------------------------------------------------------------------------------

    def set_job_name(self, job_id: int, name: str) -> None:
        if self._job_names.get(job_id) == name:
            return
        self._job_names[job_id] = name
        curve = self.job_curves.get(job_id)
        if curve is not None:
            self._rename(curve, f"{job_id} {name}")

    def add_samples(self, samples: Iterable[TelemetrySample]) -> None:
        for sample in samples:
            for t, rate in sample.total_points or ((sample.time, sample.total_rate),):
                self.total.append(t, rate)
            job_points = sample.job_points or {job_id: ((sample.time, rate),)
                                               for job_id, rate in sample.job_rates.items()}
            for job_id, points in job_points.items():
                buffer = self.jobs.get(job_id)
                if buffer is None:
                    buffer = self.jobs[job_id] = RingBuffer(JOB_CAPACITY)  # its curve is made by refresh()
                for t, rate in points:
                    buffer.append(t, rate)

    def forget_job(self, job_id: int) -> None:
        """Drop a job's curve, history and name (its row was cleared)."""
        self._drop_history(job_id)
        self._job_names.pop(job_id, None)

    def _drop_history(self, job_id: int) -> None:
        self.jobs.pop(job_id, None)
        curve = self.job_curves.pop(job_id, None)
        if curve is not None:
            remove_curve(self.plot, self.legend, curve)

    def set_history(self, seconds: int) -> None:
        self.history = seconds
        self.plot.getPlotItem().setXRange(-seconds, 0, padding=0)
        index = self.history_combo.findData(seconds)
        if index >= 0 and index != self.history_combo.currentIndex():
            self.history_combo.setCurrentIndex(index)
        self.refresh()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.restyle()

    def restyle(self) -> None:
        """Take the application palette's colours (it changed: the desktop turned dark or light)."""
        style_plot(self.plot, self.legend)
        self.total_curve.setPen(pg.mkPen(total_colour(), width=5))
        for job_id, curve in self.job_curves.items():
            curve.setPen(pg.mkPen(job_colour(job_id), width=2))
        self.paused_mark.setStyleSheet(self.paused_mark.styleSheet())  # its palette() colours, again

    def set_paused(self, paused: bool) -> None:
        """Pause (draw nothing new, PAUSED shown, the mouse zooms and pans) or go back to live."""
        if paused == self.paused:
            return
        self.paused = paused
        self.paused_mark.setVisible(paused)
        self.current.setVisible(not paused)  # "now" no longer is: the mark takes its room
        set_interactive(self.plot, paused)
        if not paused:  # the live ranges, and what came meanwhile
            self.plot.getPlotItem().setXRange(-self.history, 0, padding=0)
            self._y_max = 0.0
            self._at_rest = False
            self.refresh()

    # -- hover and export ------------------------------------------------------------------------

    def hover_text(self, position: QPoint) -> str | None:
        """What the graph shows at ``position`` (the plot's viewport): each curve's value and the time."""
        view_box = self.plot.getPlotItem().getViewBox()
        point = view_box.mapSceneToView(self.plot.mapToScene(position))
        if not view_box.sceneBoundingRect().contains(self.plot.mapToScene(position)):
            return None
        curves = [("total", self.total_curve)]
        curves += [(f"{job_id} {self._job_names.get(job_id, '')}".strip(), curve)
                   for job_id, curve in sorted(self.job_curves.items())]
        return curves_text(curves, point.x(), self.drawn_at, "/s")

    def export(self, path: str) -> None:
        """Write the graph to ``path``: .png, .svg, or .csv of the curves' data (see plotting.export_plot)."""
        export_plot(self.plot, path)

    def _export_asked(self) -> None:
        export_with_dialog(self, "poolscope-throughput", self.export)

    def _make_job_curve(self, job_id: int) -> None:
        name = self._job_names.get(job_id, "")
        self.job_curves[job_id] = live_curve(self.plot, job_colour(job_id), name=f"{job_id} {name}".strip(), width=2)

    def _rename(self, curve: pg.PlotDataItem, label: str) -> None:
        self.legend.removeItem(curve)
        self.legend.addItem(curve, label)

    # -- drawing ---------------------------------------------------------------------------------

    def refresh(self, now: float | None = None) -> None:
        """Redraw the visible history (the window calls it when samples arrive); nothing while paused."""
        if self.paused:
            return
        now = time.monotonic() if now is None else now
        start = now - self.history - 1.0
        y_max = 0.0
        times, values = self.total.since(start)
        if not self.job_curves and not self.jobs and times.size and times[0] <= start + 1.0 and not values.any():
            if self._at_rest:
                return  # a flat zero across the whole view, as drawn last time: nothing to redraw
            self._at_rest = True
        else:
            self._at_rest = False
        self.drawn_at = now
        if times.size:
            rates = values[:, 0]
            self.total_curve.setData(times - now, rates)
            y_max = float(rates.max())
            self.current.setText(f"now {rates[-1]:,.0f}/s")
        for job_id in list(self.jobs):
            last = self.jobs[job_id].last_time()
            if last is None or last < now - max(HISTORY_CHOICES):
                self._drop_history(job_id)  # ended long ago: out of every history (its row may remain)
        # curves for the most recently active jobs still in view; the others lose theirs
        in_view = [job_id for job_id, buffer in self.jobs.items() if (buffer.last_time() or 0.0) >= start]
        in_view.sort(key=lambda job_id: (self.jobs[job_id].last_time(), job_id), reverse=True)
        shown = set(in_view[:MAX_JOB_CURVES])
        for job_id in [job_id for job_id in self.job_curves if job_id not in shown]:
            remove_curve(self.plot, self.legend, self.job_curves.pop(job_id))
        for job_id in sorted(shown):
            if job_id not in self.job_curves:
                self._make_job_curve(job_id)
            times, values = self.jobs[job_id].since(start)
            curve = self.job_curves[job_id]
            if times.size:
                curve.setData(times - now, values[:, 0])
                y_max = max(y_max, float(values[:, 0].max()))
            else:
                curve.setData([], [])
        target = _nice_ceiling(y_max * 1.1)
        if target != self._y_max:
            self._y_max = target
            self.plot.getPlotItem().setYRange(0, target, padding=0)

    def point_count(self) -> int:
        """Points the total curve shows now (tests)."""
        x, _ = self.total_curve.getData()
        return 0 if x is None else len(x)
