"""Shared set-up of the live graphs: a PlotWidget styled like the rest of the window, fixed
ranges, no mouse interaction, and curves with clip-to-view and peak downsampling on.

Every colour a graph draws with comes from the application's palette (or is checked against it):
text in the palette's Text colour on its Base, legends on a Base-coloured box, so that a dark
palette gives light text on a dark box and never light on light. :func:`contrast_ratio` is the
WCAG 2 ratio the tests hold the colours to (text 4.5:1, lines and areas 3:1; see ``gui/colours.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QApplication, QComboBox

from poolscope.gui.colours import composite, contrast_ratio, legible

__all__ = [
    "HISTORY_CHOICES",
    "add_legend",
    "base_colour",
    "composite",
    "contrast_ratio",
    "history_combo",
    "legend_brush",
    "legible",
    "live_curve",
    "make_plot",
    "remove_curve",
    "text_colour",
    "total_colour",
]

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


def base_colour() -> QColor:
    """The background the graphs are drawn on (the palette's Base)."""
    return QApplication.palette().color(QPalette.ColorRole.Base)


def legend_brush() -> QBrush:
    """A legend's box: the graph's own background, nearly opaque, so its text (the palette's Text)
    reads the same as the axes' (a white box made light text unreadable in a dark palette)."""
    colour = QColor(base_colour())
    colour.setAlpha(LEGEND_ALPHA)
    return QBrush(colour)


#: Opacity of a legend's box (of 255): the curves under it show a little.
LEGEND_ALPHA = 230


#: Opacity (of 255) of a total drawn as a band under other curves.
TOTAL_ALPHA = 110


def total_colour() -> QColor:
    """A band for a total under thinner curves: the palette's Text, translucent (grey on either palette)."""
    colour = QColor(text_colour())
    colour.setAlpha(TOTAL_ALPHA)
    return colour


def add_legend(plot_item: Any, **options: Any) -> Any:
    """A legend on ``plot_item`` with the palette's text on a box of the graph's background."""
    legend = plot_item.addLegend(labelTextColor=text_colour(), labelTextSize="8pt", **options)
    legend.setBrush(legend_brush())
    return legend




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
