"""This machine's cores as a **heat map**, for more cores than small multiples can show legibly: a
row per core and a column per reading (0 to 100%, the inferno colour map), each core's current
load as a figure on the right axis where the rows are tall enough for one, as btop and GNOME
System Monitor do at these sizes. The CPU graph (``cpu_graph.py``) shows it above ``HEATMAP_ABOVE``
cores.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QRectF

from poolscope.gui.widgets.plotting import HoverTips, clock_text, make_plot, set_interactive, style_plot, view_point

__all__ = ["MIN_FIGURE_ROW", "CoreHeatmap"]

#: A heat-map row must be this tall (pixels) for its core's figure on the right axis.
MIN_FIGURE_ROW = 12


class CoreHeatmap:
    """A heat map of ``cores`` loads over a rolling history of ``history`` seconds, on its own
    PlotWidget (:attr:`plot`, which the CPU graph shows); paused, the mouse zooms and pans it."""

    def __init__(self, cores: int, history: float) -> None:
        self.cores = cores
        self.history = history
        self.plot = make_plot(left="")
        self.plot.setObjectName("cpu_plot")
        item = self.plot.getPlotItem()
        self._every = 0  # the heat map names and gives a figure for every this many rows
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("inferno"))
        item.addItem(self.image)
        item.setYRange(0, cores, padding=0)
        item.getAxis("left").setTicks([[(i + 0.5, f"cpu{i}") for i in range(0, cores, max(1, cores // 16))], []])
        item.showAxis("right")
        right = item.getAxis("right")
        right.setPen(item.getAxis("left").pen())
        right.setTextPen(item.getAxis("left").textPen())
        right.setWidth(40)
        item.setXRange(-history, 0, padding=0)
        # as last drawn: (seconds before drawn_at, load per core), and the time.monotonic() it counts from
        self.drawn: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty((0, cores)))
        self.drawn_at = 0.0
        self.hover = HoverTips(self.plot.viewport(), self.hover_text)

    def set_data(self, x: np.ndarray, values: np.ndarray, drawn_at: float) -> None:
        """Draw ``values`` (a row per reading, a load per core) at ``x`` (seconds before ``drawn_at``)."""
        self.drawn, self.drawn_at = (x, values), drawn_at
        self.image.setImage(np.ascontiguousarray(values.T), autoLevels=False, levels=(0, 100))
        start = float(x[0])
        span = max(float(x[-1]) - start, 1e-3)
        step = span / max(len(x) - 1, 1)
        # each column covers one sample interval ending at its sample time
        self.image.setRect(QRectF(start - step, 0, span + step, self.cores))
        # each core's current load as a figure on the right, every row that is tall enough for one
        row_height = self.plot.getPlotItem().getViewBox().height() / max(self.cores, 1)
        every = max(1, math.ceil(MIN_FIGURE_ROW / max(row_height, 1e-3)))
        last = values[-1]
        item = self.plot.getPlotItem()
        if every != self._every:  # the rows named on the left are the rows with a figure on the right
            self._every = every
            item.getAxis("left").setTicks([[(core + 0.5, f"cpu{core}") for core in range(0, self.cores, every)], []])
        ticks = [(core + 0.5, f"{last[core]:.0f}%") for core in range(0, self.cores, every)]
        item.getAxis("right").setTicks([ticks, []])

    def figures(self) -> list[str]:
        """The figures on the right axis: the current load of every row tall enough for one."""
        ticks = self.plot.getPlotItem().getAxis("right")._tickLevels
        return [text for _, text in ticks[0]] if ticks else []

    def hover_text(self, position: QPoint) -> str | None:
        """The load and time of the reading under ``position`` (the plot's viewport), or None."""
        point = view_point(self.plot, position)
        x, values = self.drawn
        if point is None or len(x) == 0:
            return None
        core = int(point.y())
        if not 0 <= core < values.shape[1]:
            return None
        index = int(np.argmin(np.abs(x - point.x())))
        return f"cpu{core}: {values[index, core]:.1f}%\n{clock_text(self.drawn_at, float(x[index]))}"

    def set_history(self, seconds: float) -> None:
        self.history = seconds
        self.plot.getPlotItem().setXRange(-seconds, 0, padding=0)

    def set_interactive(self, on: bool) -> None:
        """Paused: the mouse zooms and pans. Live: the ranges are the history and every core."""
        set_interactive(self.plot, on)
        if not on:
            self.plot.getPlotItem().setRange(xRange=(-self.history, 0), yRange=(0, self.cores), padding=0)

    def restyle(self) -> None:
        """Take the application palette's colours (the image's colours are its own)."""
        style_plot(self.plot)
