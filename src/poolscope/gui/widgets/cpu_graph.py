"""Per-core CPU load, live, at any core count; and, once a Dask cluster runs, one curve per Dask
worker (its process's CPU %, from the scheduler's worker metrics), chosen with a selector
("This machine" / "Cluster workers"; the graph turns to the cluster the first time one appears).

This machine's cores are drawn as **small multiples** (:class:`CoreGrid`): one small chart per
core, each with its name and its current load as a figure above its own plot area, so no line
hides another (two cores at 100% are two full charts, not one line) and no legend covers the
data. With more than :data:`HEATMAP_ABOVE` cores the cells would be too small to read: a heat
map (a row per core) takes over, with each core's current load as a figure on its right axis
where the rows are tall enough. This is what btop and GNOME System Monitor do at these sizes.

The number of cores is the width of the readings the sampler gives (:meth:`CpuGraph.add_sample`),
not a count taken elsewhere: the graph rebuilds itself for the first reading of another width.
"Smooth" (the user's choice, off by default) draws the mean over the last :data:`SMOOTH_SECONDS`
instead of each reading; the figures then say so.

Samples (from the bridge's telemetry) go into one numpy :class:`RingBuffer` sized for the
longest history, and one per Dask worker. :meth:`CpuGraph.refresh` redraws; the window calls it
when samples arrive (the sample rate), never on a timer of its own.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from poolscope.core.telemetry import RingBuffer, TelemetrySample
from poolscope.gui.shortcuts import make_action
from poolscope.gui.widgets.plotting import (
    HISTORY_CHOICES,
    HoverTips,
    add_legend,
    base_colour,
    clock_text,
    context_menu,
    curves_text,
    export_plot,
    export_widget,
    export_with_dialog,
    history_combo,
    legible,
    live_curve,
    make_plot,
    paused_label,
    remove_curve,
    set_interactive,
    style_plot,
)
from poolscope.monitor.views import ClusterSample

__all__ = [
    "CLUSTER_VIEW",
    "HEATMAP_ABOVE",
    "LOCAL_VIEW",
    "SMOOTH_SECONDS",
    "CoreGrid",
    "CpuGraph",
    "grid_shape",
    "trailing_mean",
]

#: The two views of the graph: this machine's cores, or the cluster's workers.
LOCAL_VIEW = "local"
CLUSTER_VIEW = "cluster"

#: With more logical cores than this, the graph draws a heat-map row per core instead of small multiples.
HEATMAP_ABOVE = 32
#: Fastest sampling the ring buffer is sized for (seconds between samples).
MIN_SAMPLE_INTERVAL = 0.2
#: Fastest cluster polling a Dask worker's ring buffer is sized for (seconds between readings).
MIN_CLUSTER_INTERVAL = 0.25
#: "Smooth" draws, at each reading, the mean load over this many seconds up to it.
SMOOTH_SECONDS = 1.0
#: The shape of a small-multiples cell the grid aims for (width / height).
CELL_ASPECT = 2.0
#: Pixels between two cells of the grid.
CELL_GAP = 4
#: Opacity (of 255) of the meter of a core's current load behind its name and figure.
METER_ALPHA = 60
#: A heat-map row must be this tall (pixels) for its core's figure on the right axis.
MIN_FIGURE_ROW = 12


def trailing_mean(times: np.ndarray, values: np.ndarray, window: float) -> np.ndarray:
    """At each row, the mean of the rows whose time is within ``window`` seconds up to it."""
    if len(times) == 0:
        return values
    sums = np.concatenate((np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)))
    first = np.searchsorted(times, times - window, side="right")
    rows = np.arange(1, len(times) + 1)
    return (sums[rows] - sums[first]) / (rows - first)[:, None]


def grid_shape(count: int, width: float, height: float) -> tuple[int, int]:
    """(columns, rows) for ``count`` cells in ``width`` x ``height``, cells as near CELL_ASPECT as can be."""
    best, best_score = (1, count), math.inf
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        if columns > 1 and math.ceil(count / (columns - 1)) == rows:
            continue  # the same rows with fewer columns: no need for this one
        aspect = (width / columns) / max(1.0, height / rows)
        score = abs(math.log(max(aspect, 1e-6) / CELL_ASPECT))
        if score < best_score:
            best, best_score = (columns, rows), score
    return best


class CoreGrid(QWidget):
    """Small multiples: one cell per core, its name and current load above its own small chart.

    Painted with QPainter from the arrays :meth:`set_data` gives (nothing else triggers a paint
    but a resize or an expose). Colours are the palette's: the Text colour for the figures, the
    Highlight colour (made to stand out 3:1 from Base) for the load's line.
    """

    def __init__(self, cores: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cpu_grid")
        self.cores = cores
        self.history = float(HISTORY_CHOICES[0])
        self._x = np.empty(0)  # seconds before now (<= 0), oldest first
        self._values = np.empty((0, cores))  # load per core (percent) at each x
        self.smoothed = False  # what the figures show: each reading, or the mean over SMOOTH_SECONDS
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 60)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        # The seconds (before the drawing's time) the charts span: None, the live view (-history to 0);
        # set by the mouse while the graph is paused (interactive).
        self.x_range: tuple[float, float] | None = None
        self.interactive = False
        self.drawn_at = 0.0  # time.monotonic() that x counts back from
        self._drag: tuple[float, tuple[float, float]] | None = None  # (mouse x, x_range) as a drag began
        self.hover = HoverTips(self, self.hover_text)

    def set_data(self, x: np.ndarray, values: np.ndarray, history: float, *, smoothed: bool,
                 drawn_at: float = 0.0) -> None:
        self._x, self._values, self.history, self.smoothed = x, values, float(history), smoothed
        self.drawn_at = drawn_at
        self.update()

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """(seconds before the drawing's time, load per core) as drawn."""
        return self._x, self._values

    def visible_range(self) -> tuple[float, float]:
        return self.x_range if self.x_range is not None else (-self.history, 0.0)

    def set_interactive(self, on: bool) -> None:
        """Paused: the wheel zooms the charts' time span, a drag pans it. Live: the span is the history."""
        self.interactive = on
        self._drag = None
        if not on and self.x_range is not None:
            self.x_range = None
            self.update()

    # -- the mouse: hover, and zoom and pan while paused ---------------------------------------

    def _cell_at(self, position: QPointF) -> tuple[int, QRectF] | None:
        """(core, its chart's area) under ``position``, or None."""
        band = self.label_height()
        for core, cell in enumerate(self.cell_rects()):
            area = QRectF(cell.left(), cell.top() + band, cell.width(), max(1.0, cell.height() - band))
            if area.contains(position):
                return core, area
        return None

    def hover_text(self, position: QPoint) -> str | None:
        """The load and time of the reading under ``position``; over a name, what a chart is."""
        found = self._cell_at(QPointF(position))
        if found is None:
            return ("Each chart: one core's load, 0 to 100% of that core, over the graph's history; "
                    "the figure is its latest reading")
        core, area = found
        if len(self._x) == 0:
            return f"cpu{core}: no reading yet"
        x0, x1 = self.visible_range()
        x = x0 + (position.x() - area.left()) / max(area.width(), 1.0) * (x1 - x0)
        index = int(np.argmin(np.abs(self._x - x)))
        mean = f" ({SMOOTH_SECONDS:g} s mean)" if self.smoothed else ""
        return f"cpu{core}: {self._values[index, core]:.1f}%{mean}\n{clock_text(self.drawn_at, float(self._x[index]))}"

    def wheelEvent(self, event: QWheelEvent) -> None:
        found = self._cell_at(event.position()) if self.interactive else None
        if found is None:
            event.ignore()
            return
        _, area = found
        x0, x1 = self.visible_range()
        anchor = x0 + (event.position().x() - area.left()) / max(area.width(), 1.0) * (x1 - x0)
        factor = 0.8 ** (event.angleDelta().y() / 120)  # a notch up zooms in by a fifth
        span = min(max((x1 - x0) * factor, 0.5), float(max(HISTORY_CHOICES)))
        share = (anchor - x0) / (x1 - x0)
        self.x_range = (anchor - share * span, anchor + (1 - share) * span)
        self.update()
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.interactive and event.button() == Qt.MouseButton.LeftButton:
            self._drag = (event.position().x(), self.visible_range())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is None:
            super().mouseMoveEvent(event)
            return
        start, (x0, x1) = self._drag
        width = self.cell_rects()[0].width() if self.cores else float(self.width())
        shift = (event.position().x() - start) / max(width, 1.0) * (x1 - x0)
        self.x_range = (x0 - shift, x1 - shift)
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        super().mouseReleaseEvent(event)

    def current(self) -> np.ndarray | None:
        """Each core's figure as shown now (percent), or None before the first reading."""
        return self._values[-1] if len(self._values) else None

    def figure_texts(self) -> list[str]:
        """The figure each cell shows, by core ("" before the first reading)."""
        current = self.current()
        return ["" if current is None else f"{value:.0f}%" for value in (current if current is not None
                                                                          else range(self.cores))]

    def cell_rects(self) -> list[QRectF]:
        """Each core's cell, in widget coordinates."""
        columns, rows = grid_shape(self.cores, self.width(), self.height())
        cell_w = (self.width() - CELL_GAP * (columns - 1)) / columns
        cell_h = (self.height() - CELL_GAP * (rows - 1)) / rows
        return [QRectF((core % columns) * (cell_w + CELL_GAP), (core // columns) * (cell_h + CELL_GAP),
                       cell_w, cell_h) for core in range(self.cores)]

    def label_height(self) -> int:
        return self.fontMetrics().height() + 2

    # -- painting -------------------------------------------------------------------------------

    def colours(self) -> dict[str, QColor]:
        """The colours the grid paints with, from the palette (tests check their contrast)."""
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        line = legible(palette.color(QPalette.ColorRole.Highlight), base, 3.0)
        meter = QColor(line)
        meter.setAlpha(METER_ALPHA)
        return {"background": palette.color(QPalette.ColorRole.Window), "base": base,
                "text": palette.color(QPalette.ColorRole.Text), "line": line, "meter": meter,
                "frame": palette.color(QPalette.ColorRole.Mid)}

    def paintEvent(self, event: QPaintEvent) -> None:
        colours = self.colours()
        painter = QPainter(self)
        painter.fillRect(self.rect(), colours["background"])
        band = self.label_height()
        bold = QFont(self.font())
        bold.setBold(True)
        current = self.current()
        x, values = self._x, self._values
        for core, cell in enumerate(self.cell_rects()):
            label = QRectF(cell.left() + 2, cell.top(), cell.width() - 4, band)
            area = QRectF(cell.left(), cell.top() + band, cell.width(), max(1.0, cell.height() - band))
            if current is not None:  # the label band is a meter of the current load, under the text
                load = min(max(current[core], 0.0), 100.0) / 100
                painter.fillRect(QRectF(cell.left(), cell.top(), cell.width() * load, band - 1), colours["meter"])
            painter.setPen(colours["text"])
            painter.setFont(self.font())
            painter.drawText(label, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), f"cpu{core}")
            if current is not None:
                painter.setFont(bold)
                painter.drawText(label, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                                 f"{current[core]:.0f}%")
            painter.fillRect(area, colours["base"])
            painter.setPen(QPen(colours["frame"], 1))
            painter.drawRect(area.adjusted(0, 0, -1, -1))
            if len(x) >= 2:  # (100% stays clear of the frame)
                self._paint_load(painter, area.adjusted(1, 3, -1, -1), x, values[:, core], colours)
        painter.end()

    def _paint_load(self, painter: QPainter, area: QRectF, x: np.ndarray, load: np.ndarray,
                    colours: dict[str, QColor]) -> None:
        x0, x1 = self.visible_range()
        px = area.left() + (x - x0) / (x1 - x0) * area.width()
        # 0% on the bottom row of pixels, 100% on the top row (centred on them, so a 1 px line is whole)
        py = area.bottom() - 0.5 - np.clip(load, 0.0, 100.0) / 100.0 * (area.height() - 1.0)
        columns = int(area.width())
        if len(px) > 2 * columns > 0:  # more readings than pixels: each pixel column keeps its peak
            bucket = np.minimum(((px - area.left()) / area.width() * columns).astype(int), columns - 1)
            starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
            px = px[starts]
            py = np.minimum.reduceat(py, starts)  # the highest load is the smallest y
        # A thin line only: a 1.5 px pen goes through Qt's stroker and a filled area under a jagged
        # line took 10 to 90 ms a cell to rasterise; a 1 px antialiased polyline takes under 1 ms.
        line = pg.functions.create_qpolygonf(len(px))
        points = pg.functions.ndarray_from_qpolygonf(line)
        points[:, 0] = px
        points[:, 1] = py
        painter.save()
        painter.setClipRect(area)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(colours["line"], 1))
        painter.drawPolyline(line)
        painter.restore()

    def sizeHint(self) -> QSize:
        return QSize(360, 240)


class CpuGraph(QWidget):
    """This machine's cores (small multiples, or a heat map) or the cluster's workers, over a rolling history."""

    def __init__(self, cores: int, *, history: int = HISTORY_CHOICES[0], heatmap_above: int = HEATMAP_ABOVE,
                 smooth: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cores = 0
        self.heatmap_above = heatmap_above
        self.history = history
        self.smooth = smooth
        self.grid: CoreGrid | None = None  # the small multiples (cores <= heatmap_above)
        self.plot: pg.PlotWidget | None = None  # the heat map's plot (more cores)
        self.heatmap: pg.ImageItem | None = None
        self._heatmap_every = 0  # the heat map names and gives a figure for every this many rows
        self.cluster: dict[str, RingBuffer] = {}  # Dask worker address -> its CPU %, oldest first
        self.cluster_curves: dict[str, pg.PlotDataItem] = {}  # address -> its curve, made once
        self._cluster_colours = 0  # curves made so far: the next one's colour
        self._cluster_hue: dict[str, int] = {}  # address -> its colour's number (pg.intColor)
        self._cluster_y_max = 0.0
        self._cluster_seen = False  # a cluster reading has arrived (the view turns to it once)
        self._cluster_now: set[str] = set()  # the addresses of the latest reading: the workers there are now
        self.paused = False  # set_paused(): nothing is drawn, the mouse zooms and pans
        self.drawn_at = time.monotonic()  # the time.monotonic() the drawn x (seconds before it) count from
        # this machine's view as last drawn: (seconds before drawn_at, load per core); what CSV exports
        self.drawn: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty((0, cores)))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold;")
        self.average = QLabel("")
        self.average.setObjectName("cpu_average")
        for label in (self.title, self.average):  # a narrow graph clips these rather than widen the window
            label.setMinimumWidth(24)
        self.view_combo = QComboBox()
        self.view_combo.setObjectName("cpu_view")
        self.view_combo.addItem("This machine", LOCAL_VIEW)
        self.view_combo.addItem("Cluster workers", CLUSTER_VIEW)
        self.view_combo.setToolTip("This machine's cores, or the CPU of each Dask worker of the cluster")
        self.view_combo.setVisible(False)  # shown once a cluster reports
        self.view_combo.currentIndexChanged.connect(lambda i: self.set_view(str(self.view_combo.itemData(i))))
        self.smooth_check = QCheckBox("Smooth")
        self.smooth_check.setObjectName("cpu_smooth")
        self.smooth_check.setToolTip(f"Draw the mean load over the last {SMOOTH_SECONDS:g} s at each reading, "
                                     "instead of each reading")
        self.smooth_check.setChecked(smooth)
        self.smooth_check.toggled.connect(self.set_smooth)
        # the same choice for a menu (the window's View menu)
        self.smooth_action = make_action("cpu_smooth_action", self, checkable=True)
        self.smooth_action.setChecked(smooth)
        self.smooth_action.toggled.connect(self.set_smooth)
        self.history_combo = history_combo("cpu_history", history, self.set_history)
        self.history_combo.setToolTip("How much history the graph shows")
        self.paused_mark = paused_label()
        header.addWidget(self.title)
        header.addWidget(self.paused_mark)
        header.addStretch(1)
        header.addWidget(self.average)
        header.addWidget(self.view_combo)
        header.addWidget(self.smooth_check)
        header.addWidget(self.history_combo)
        layout.addLayout(header)

        self.stack = QStackedWidget()
        self.stack.addWidget(QWidget())  # this machine's view: made by set_cores
        self.cluster_plot = make_plot(left="CPU % per worker")
        self.cluster_plot.setObjectName("cluster_plot")
        cluster_item = self.cluster_plot.getPlotItem()
        self.cluster_legend = add_legend(cluster_item, offset=(6, 4), colCount=4)
        cluster_item.setXRange(-history, 0, padding=0)
        cluster_item.setYRange(-2, 104, padding=0)
        self.stack.addWidget(self.cluster_plot)
        layout.addWidget(self.stack, 1)
        self.cluster_hover = HoverTips(self.cluster_plot.viewport(), self._cluster_hover_text)
        self.export_action = make_action("export_cpu_graph", self, self._export_asked,
                                         tip="Save the CPU graph as a PNG or SVG image, or its data as CSV")
        context_menu(self)
        self.buffer = RingBuffer(1)
        self.set_cores(cores)

    @property
    def heatmap_mode(self) -> bool:
        return self.heatmap is not None

    def set_cores(self, cores: int) -> None:
        """Show ``cores`` cores: small multiples, or a heat map above ``heatmap_above``; history restarts."""
        if cores == self.cores:
            return
        self.cores = cores
        capacity = int(max(HISTORY_CHOICES) / MIN_SAMPLE_INTERVAL) + 1
        self.buffer = RingBuffer(capacity, width=cores)  # time.monotonic() -> load per core, percent
        old = self.stack.widget(0)
        view: QWidget
        if cores > self.heatmap_above:
            view = self._make_heatmap(cores)
            self.grid = None
        else:
            self.grid = view = CoreGrid(cores)
            self.plot = self.heatmap = None
            self.smooth_check.setEnabled(True)
        if self.grid is not None:
            self.grid.set_interactive(self.paused)
        elif self.plot is not None:
            set_interactive(self.plot, self.paused)
        current = self.stack.currentIndex()
        self.stack.insertWidget(0, view)
        if old is not None:
            self.stack.removeWidget(old)
            old.deleteLater()
        self.stack.setCurrentIndex(current)
        self._update_title()

    def _make_heatmap(self, cores: int) -> pg.PlotWidget:
        self.plot = make_plot(left="")
        self.plot.setObjectName("cpu_plot")
        item = self.plot.getPlotItem()
        self._heatmap_every = 0
        self.heatmap = pg.ImageItem(axisOrder="row-major")
        self.heatmap.setColorMap(pg.colormap.get("inferno"))
        item.addItem(self.heatmap)
        item.setYRange(0, cores, padding=0)
        item.getAxis("left").setTicks([[(i + 0.5, f"cpu{i}") for i in range(0, cores, max(1, cores // 16))], []])
        item.showAxis("right")
        right = item.getAxis("right")
        right.setPen(item.getAxis("left").pen())
        right.setTextPen(item.getAxis("left").textPen())
        right.setWidth(40)
        item.setXRange(-self.history, 0, padding=0)
        self._heatmap_hover = HoverTips(self.plot.viewport(), self._heatmap_hover_text)
        return self.plot

    # -- data ------------------------------------------------------------------------------------

    def add_samples(self, samples: Iterable[TelemetrySample]) -> None:
        for sample in samples:
            self.add_sample(sample.time, sample.cpu)

    def add_sample(self, t: float, loads: np.ndarray) -> None:
        """Append one reading: a load per core, as wide as the sampler's core count."""
        width = len(loads)
        if width != self.cores:
            self.set_cores(width)
        self.buffer.append(t, loads)

    def add_cluster_samples(self, samples: Iterable[ClusterSample]) -> None:
        """Append readings of the cluster's workers; the first ever turns the graph to the cluster."""
        added = False
        for sample in samples:
            for address, cpu in sample.cpu.items():
                buffer = self.cluster.get(address)
                if buffer is None:
                    buffer = self.cluster[address] = RingBuffer(int(max(HISTORY_CHOICES) / MIN_CLUSTER_INTERVAL) + 1)
                    self._make_cluster_curve(address, sample.labels.get(address, address))
                    added = True
                buffer.append(sample.time, cpu)
            if set(sample.cpu) != self._cluster_now:
                self._cluster_now = set(sample.cpu)
                added = True
            if sample.cpu and not self._cluster_seen:
                self._cluster_seen = True
                self.view_combo.setVisible(True)
                self.set_view(CLUSTER_VIEW)
        if added:  # new workers, or some gone
            self._update_title()

    def _make_cluster_curve(self, address: str, label: str) -> None:
        self._cluster_hue[address] = self._cluster_colours
        self._cluster_colours += 1
        self.cluster_curves[address] = live_curve(self.cluster_plot, self._cluster_colour(address), name=label, width=2)

    def _cluster_colour(self, address: str) -> QColor:
        return legible(pg.intColor(self._cluster_hue[address], hues=8, values=1, maxValue=220), base_colour())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.restyle()

    def restyle(self) -> None:
        """Take the application palette's colours (it changed: the desktop turned dark or light).
        The core grid paints with its palette anyway; the heat map's colours are its own."""
        style_plot(self.cluster_plot, self.cluster_legend)
        for address, curve in self.cluster_curves.items():
            curve.setPen(pg.mkPen(self._cluster_colour(address), width=2))
        if self.plot is not None:
            style_plot(self.plot)
        self.paused_mark.setStyleSheet(self.paused_mark.styleSheet())  # its palette() colours, again

    def _forget_cluster_worker(self, address: str) -> None:
        self.cluster.pop(address, None)
        curve = self.cluster_curves.pop(address, None)
        if curve is not None:
            remove_curve(self.cluster_plot, self.cluster_legend, curve)

    @property
    def view(self) -> str:
        return LOCAL_VIEW if self.stack.currentIndex() == 0 else CLUSTER_VIEW

    def set_view(self, view: str) -> None:
        """Show this machine's cores (LOCAL_VIEW) or the cluster's workers (CLUSTER_VIEW)."""
        index = 1 if view == CLUSTER_VIEW else 0
        if self.view_combo.currentIndex() != index:
            self.view_combo.setCurrentIndex(index)  # comes back here through the signal
            return
        if self.stack.currentIndex() != index:
            self.stack.setCurrentIndex(index)
            self.refresh()
        self.smooth_check.setVisible(index == 0)
        self._update_title()

    def _update_title(self) -> None:
        if self.view == CLUSTER_VIEW:
            self.title.setText(f"CPU per Dask worker ({len(self._cluster_now)})")
        else:
            self.title.setText(f"CPU per core ({self.cores} logical)")

    def set_history(self, seconds: int) -> None:
        self.history = seconds
        self.cluster_plot.getPlotItem().setXRange(-seconds, 0, padding=0)
        if self.plot is not None:
            self.plot.getPlotItem().setXRange(-seconds, 0, padding=0)
        index = self.history_combo.findData(seconds)
        if index >= 0 and index != self.history_combo.currentIndex():
            self.history_combo.setCurrentIndex(index)
        self.refresh()

    def set_smooth(self, smooth: bool) -> None:
        """Draw the mean over SMOOTH_SECONDS at each reading (True) or each reading as it is."""
        changed = self.smooth != bool(smooth)
        self.smooth = bool(smooth)
        for control in (self.smooth_check, self.smooth_action):
            if control.isChecked() != self.smooth:
                control.setChecked(self.smooth)  # comes back here through its signal, unchanged
        if changed:
            self.refresh()

    def set_paused(self, paused: bool) -> None:
        """Pause (draw nothing new, PAUSED shown, the mouse zooms and pans) or go back to live."""
        if paused == self.paused:
            return
        self.paused = paused
        self.paused_mark.setVisible(paused)
        self.average.setVisible(not paused)  # "now" no longer is: the mark takes its room
        set_interactive(self.cluster_plot, paused)
        if self.grid is not None:
            self.grid.set_interactive(paused)
        if self.plot is not None:
            set_interactive(self.plot, paused)
        if not paused:  # the live ranges, and what came meanwhile
            self.cluster_plot.getPlotItem().setXRange(-self.history, 0, padding=0)
            self._cluster_y_max = 0.0
            if self.plot is not None:
                self.plot.getPlotItem().setRange(xRange=(-self.history, 0), yRange=(0, self.cores), padding=0)
            self.refresh()

    # -- hover and export ------------------------------------------------------------------------

    def _heatmap_hover_text(self, position: QPoint) -> str | None:
        assert self.plot is not None
        view_box = self.plot.getPlotItem().getViewBox()
        scene_point = self.plot.mapToScene(position)
        x, values = self.drawn
        if not view_box.sceneBoundingRect().contains(scene_point) or len(x) == 0:
            return None
        point = view_box.mapSceneToView(scene_point)
        core = int(point.y())
        if not 0 <= core < values.shape[1]:
            return None
        index = int(np.argmin(np.abs(x - point.x())))
        return f"cpu{core}: {values[index, core]:.1f}%\n{clock_text(self.drawn_at, float(x[index]))}"

    def _cluster_hover_text(self, position: QPoint) -> str | None:
        view_box = self.cluster_plot.getPlotItem().getViewBox()
        scene_point = self.cluster_plot.mapToScene(position)
        if not view_box.sceneBoundingRect().contains(scene_point):
            return None
        labels = {curve: curve.name() or address for address, curve in self.cluster_curves.items()}
        return curves_text([(labels[curve], curve) for curve in self.cluster_curves.values()],
                           view_box.mapSceneToView(scene_point).x(), self.drawn_at, "%")

    def export(self, path: str) -> None:
        """Write the view shown to ``path``: .png or .svg (an image of the charts), or .csv of the
        data drawn (this machine: a row per reading, seconds before the drawing and a column per
        core; the cluster: pyqtgraph's (x, y) per worker). Raises ValueError for another suffix,
        OSError when the file cannot be written."""
        suffix = os.path.splitext(path)[1].lower()
        if self.view == CLUSTER_VIEW:
            export_plot(self.cluster_plot, path)
        elif suffix == ".csv":
            self._export_csv(path)
        elif self.plot is not None:
            export_plot(self.plot, path)
        elif suffix in (".png", ".svg"):
            assert self.grid is not None
            export_widget(self.grid, path)
        else:
            export_plot(self.cluster_plot, path)  # says which suffixes there are

    def _export_csv(self, path: str) -> None:
        x, values = self.drawn
        with open(path, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["seconds"] + [f"cpu{core}" for core in range(values.shape[1])])
            for t, row in zip(x, values, strict=True):
                writer.writerow([repr(float(t))] + [repr(float(value)) for value in row])

    def _export_asked(self) -> None:
        export_with_dialog(self, "poolscope-cpu", self.export)

    # -- drawing ---------------------------------------------------------------------------------

    def visible_loads(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """(seconds before ``now``, load per core) of the visible history, smoothed if asked."""
        start = now - self.history - 1.0
        if not self.smooth:
            times, values = self.buffer.since(start)
            return times - now, values
        times, values = self.buffer.since(start - SMOOTH_SECONDS)
        values = trailing_mean(times, values, SMOOTH_SECONDS)
        keep = int(np.searchsorted(times, start, side="left"))
        return times[keep:] - now, values[keep:]

    def refresh(self, now: float | None = None) -> None:
        """Redraw the visible history (the window calls it when samples arrive); nothing while paused."""
        if self.paused:
            return
        now = time.monotonic() if now is None else now
        self.drawn_at = now
        if self.view == CLUSTER_VIEW:
            self._refresh_cluster(now)
            return
        if not len(self.buffer):
            return
        x, values = self.visible_loads(now)
        if x.size == 0:
            return
        self.drawn = (x, values)
        if self.heatmap is not None:
            self._draw_heatmap(x, values)
        elif self.grid is not None:
            self.grid.set_data(x, values, self.history, smoothed=self.smooth, drawn_at=now)
        mean = float(values[-1].mean())
        over = f" ({SMOOTH_SECONDS:g} s mean)" if self.smooth else ""
        self.average.setText(f"now {mean:.0f}% average{over}")

    def _refresh_cluster(self, now: float) -> None:
        start = now - self.history - 1.0
        y_max = 0.0
        latest: list[float] = []
        for address in list(self.cluster):
            buffer = self.cluster[address]
            last = buffer.last_time()
            if last is None or last < start:
                self._forget_cluster_worker(address)  # gone, and its line has scrolled out of view
                continue
            times, values = buffer.since(start)
            curve = self.cluster_curves[address]
            if times.size:
                curve.setData(times - now, values[:, 0])
                y_max = max(y_max, float(values[:, 0].max()))
                if last >= now - 5.0:  # still reporting
                    latest.append(float(values[-1, 0]))
            else:
                curve.setData([], [])
        # 100% is one core; a worker with several threads can use more: the range grows to show it
        target = 104.0 if y_max <= 100 else float(np.ceil(y_max / 50.0) * 50 + 4)
        if target != self._cluster_y_max:
            self._cluster_y_max = target
            self.cluster_plot.getPlotItem().setYRange(-2, target, padding=0)
        if latest:
            self.average.setText(f"now {sum(latest) / len(latest):.0f}% average of {len(latest)}")
        else:
            self.average.setText("no worker reporting")

    def _draw_heatmap(self, x: np.ndarray, values: np.ndarray) -> None:
        assert self.heatmap is not None and self.plot is not None
        self.heatmap.setImage(np.ascontiguousarray(values.T), autoLevels=False, levels=(0, 100))
        start = float(x[0])
        span = max(float(x[-1]) - start, 1e-3)
        step = span / max(len(x) - 1, 1)
        # each column covers one sample interval ending at its sample time
        self.heatmap.setRect(QRectF(start - step, 0, span + step, self.cores))
        # each core's current load as a figure on the right, every row that is tall enough for one
        row_height = self.plot.getPlotItem().getViewBox().height() / max(self.cores, 1)
        every = max(1, math.ceil(MIN_FIGURE_ROW / max(row_height, 1e-3)))
        last = values[-1]
        item = self.plot.getPlotItem()
        if every != self._heatmap_every:  # the rows named on the left are the rows with a figure on the right
            self._heatmap_every = every
            item.getAxis("left").setTicks([[(core + 0.5, f"cpu{core}") for core in range(0, self.cores, every)], []])
        ticks = [(core + 0.5, f"{last[core]:.0f}%") for core in range(0, self.cores, every)]
        item.getAxis("right").setTicks([ticks, []])

    def figures(self) -> list[str]:
        """Each core's current load as the graph shows it (tests, screenshots)."""
        if self.grid is not None:
            return self.grid.figure_texts()
        if self.plot is None:
            return []
        ticks = self.plot.getPlotItem().getAxis("right")._tickLevels
        return [text for _, text in ticks[0]] if ticks else []

    def surface(self) -> QWidget:
        """The widget this machine's view paints on (benchmarks count its paints)."""
        if self.plot is not None:
            return self.plot.viewport()
        assert self.grid is not None
        return self.grid

    def cluster_curve_data(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """What each Dask worker's curve shows now (tests)."""
        return {address: curve.getData() for address, curve in self.cluster_curves.items()}

