"""This machine's cores as **small multiples** (:class:`CoreGrid`): one small chart per core, each
with its name and its current load as a figure above its own plot area, so no line hides another
(two cores at 100% are two full charts, not one line) and no legend covers the data. Painted with
QPainter; paused, the mouse zooms and pans its time span. The CPU graph shows it up to
``HEATMAP_ABOVE`` cores (``cpu_graph.py``), a heat map above (``core_heatmap.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from poolscope.gui.widgets.plotting import HISTORY_CHOICES, HoverTips, clock_text, legible
from poolscope.monitor.cpu_history import SMOOTH_SECONDS

__all__ = ["CELL_ASPECT", "CELL_GAP", "METER_ALPHA", "CoreGrid", "grid_shape"]

#: The shape of a small-multiples cell the grid aims for (width / height).
CELL_ASPECT = 2.0
#: Pixels between two cells of the grid.
CELL_GAP = 4
#: Opacity (of 255) of the meter of a core's current load behind its name and figure.
METER_ALPHA = 60


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
