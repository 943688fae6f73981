"""Shared set-up of the live graphs: a PlotWidget styled like the rest of the window, fixed
ranges, no mouse interaction, and curves with clip-to-view and peak downsampling on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QComboBox

__all__ = ["HISTORY_CHOICES", "history_combo", "live_curve", "make_plot", "remove_curve", "text_colour"]

#: The rolling histories a graph offers, in seconds; the first is the default.
HISTORY_CHOICES = (60, 300, 900)


def history_label(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def history_combo(name: str, history: int, on_change: Callable[[int], None]) -> QComboBox:
    """The "History" choice of a graph's header: HISTORY_CHOICES, ``history`` selected."""
    combo = QComboBox()
    combo.setObjectName(name)
    for seconds in HISTORY_CHOICES:
        combo.addItem(history_label(seconds), seconds)
    combo.setCurrentIndex(max(0, combo.findData(history)))
    combo.currentIndexChanged.connect(lambda i: on_change(int(combo.itemData(i))))
    return combo


def text_colour() -> QColor:
    return QApplication.palette().color(QPalette.ColorRole.Text)


def make_plot(*, left: str, bottom: str = "seconds ago") -> pg.PlotWidget:
    """A PlotWidget on the window's base colour, with labelled axes and the mouse switched off."""
    palette = QApplication.palette()
    background = palette.color(QPalette.ColorRole.Base)
    foreground = palette.color(QPalette.ColorRole.Text)
    plot = pg.PlotWidget(background=background)
    item = plot.getPlotItem()
    item.setMenuEnabled(False)
    item.hideButtons()
    item.setMouseEnabled(x=False, y=False)
    # No grid: pyqtgraph draws it inside the axes, and it was 4 to 10 ms of each frame
    # (bench_gui_graphs: 128-core heat map 14.4 -> 3.8 ms a frame; bench_gui_latency).
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(foreground))
        axis.setTextPen(pg.mkPen(foreground))
    item.setLabel("left", left, color=foreground.name())
    item.setLabel("bottom", bottom, color=foreground.name())
    item.getViewBox().setDefaultPadding(0.0)
    item.layout.setContentsMargins(2, 6, 14, 2)  # room for the last tick label at the right
    return plot


def live_curve(plot: pg.PlotWidget, colour: QColor | str, *, name: str | None = None, width: float = 1.5) -> Any:
    """A curve made once and then only fed with setData: clip-to-view, peak downsampling."""
    curve = plot.plot([], [], pen=pg.mkPen(colour, width=width), name=name)
    curve.setClipToView(True)
    curve.setDownsampling(auto=True, method="peak")
    curve.setSkipFiniteCheck(True)
    return curve


def remove_curve(plot: pg.PlotWidget, legend: Any, curve: Any) -> None:
    """Take a curve made by live_curve off its plot and its legend."""
    legend.removeItem(curve)
    plot.removeItem(curve)
