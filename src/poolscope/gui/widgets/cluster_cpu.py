"""The Dask workers' CPU as one curve per worker (its process's CPU %, from the scheduler's worker
metrics) over the rolling history: the CPU graph's cluster view. Each curve is made once and fed
with setData; a worker that is gone keeps its line until it scrolls out of view; the y range grows
past 100% for a worker that uses more than one core.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor

from poolscope.gui.widgets.plotting import (
    HoverTips,
    add_legend,
    base_colour,
    curves_text,
    legible,
    live_curve,
    make_plot,
    remove_curve,
    set_interactive,
    style_plot,
    view_point,
)
from poolscope.monitor.cpu_history import ClusterInView

__all__ = ["ClusterCpuPlot"]


class ClusterCpuPlot:
    """A curve per Dask worker on its own PlotWidget (:attr:`plot`, which the CPU graph shows),
    with a legend of the workers' names; paused, the mouse zooms and pans it."""

    def __init__(self, history: float) -> None:
        self.history = history
        self.plot = make_plot(left="CPU % per worker")
        self.plot.setObjectName("cluster_plot")
        item = self.plot.getPlotItem()
        self.legend = add_legend(item, offset=(6, 4), colCount=4)
        item.setXRange(-history, 0, padding=0)
        item.setYRange(-2, 104, padding=0)
        self.curves: dict[str, pg.PlotDataItem] = {}  # address -> its curve, made once
        self._colours = 0  # curves made so far: the next one's colour
        self._hue: dict[str, int] = {}  # address -> its colour's number (pg.intColor)
        self._y_max = 0.0
        self.drawn_at = time.monotonic()  # the time.monotonic() the curves' x (seconds before it) count from
        self.hover = HoverTips(self.plot.viewport(), self.hover_text)

    def add_worker(self, address: str, label: str) -> None:
        """Make the curve of a worker first heard of, named ``label`` in the legend."""
        self._hue[address] = self._colours
        self._colours += 1
        self.curves[address] = live_curve(self.plot, self.colour(address), name=label, width=2)

    def colour(self, address: str) -> QColor:
        return legible(pg.intColor(self._hue[address], hues=8, values=1, maxValue=220), base_colour())

    def draw(self, shown: ClusterInView, drawn_at: float) -> None:
        """Show the workers' readings in view (x: seconds before ``drawn_at``); forgotten ones lose their curve."""
        self.drawn_at = drawn_at
        for address in shown.gone:
            curve = self.curves.pop(address, None)
            if curve is not None:
                remove_curve(self.plot, self.legend, curve)
        y_max = 0.0
        for address, (x, cpu) in shown.lines.items():
            curve = self.curves[address]
            if x.size:
                curve.setData(x, cpu)
                y_max = max(y_max, float(cpu.max()))
            else:
                curve.setData([], [])
        # 100% is one core; a worker with several threads can use more: the range grows to show it
        target = 104.0 if y_max <= 100 else float(np.ceil(y_max / 50.0) * 50 + 4)
        if target != self._y_max:
            self._y_max = target
            self.plot.getPlotItem().setYRange(-2, target, padding=0)

    def hover_text(self, position: QPoint) -> str | None:
        """Each worker's CPU % nearest the time under ``position`` (the plot's viewport), and the time."""
        point = view_point(self.plot, position)
        if point is None:
            return None
        labels = {curve: curve.name() or address for address, curve in self.curves.items()}
        return curves_text([(labels[curve], curve) for curve in self.curves.values()], point.x(), self.drawn_at, "%")

    def curve_data(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """What each worker's curve shows now."""
        return {address: curve.getData() for address, curve in self.curves.items()}

    def set_history(self, seconds: float) -> None:
        self.history = seconds
        self.plot.getPlotItem().setXRange(-seconds, 0, padding=0)

    def set_interactive(self, on: bool) -> None:
        """Paused: the mouse zooms and pans. Live: the history's range, the y range fitted at the next draw."""
        set_interactive(self.plot, on)
        if not on:
            self.plot.getPlotItem().setXRange(-self.history, 0, padding=0)
            self._y_max = 0.0

    def restyle(self) -> None:
        """Take the application palette's colours (it changed: the desktop turned dark or light)."""
        style_plot(self.plot, self.legend)
        for address, curve in self.curves.items():
            curve.setPen(pg.mkPen(self.colour(address), width=2))
