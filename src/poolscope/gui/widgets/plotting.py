"""Shared set-up of the live graphs: a PlotWidget styled like the rest of the window, fixed
ranges, no mouse interaction while live, and curves with clip-to-view and peak downsampling on.

What every graph offers besides (each graph widget uses these helpers):

- **Pause.** A paused graph draws nothing (its data still comes in), shows a PAUSED mark
  (:func:`paused_label`) and can be zoomed and panned with the mouse (:func:`set_interactive`);
  going live puts its ranges back and draws what came meanwhile.
- **Hover.** Resting the mouse on a graph shows, in a tooltip, the value under it and its time
  (:class:`HoverTips`; the ToolTip event, so nothing runs while the mouse merely moves;
  :func:`view_point` is the data under it).
- **Export** as PNG, SVG or CSV of the data drawn (:func:`export_plot`, through pyqtgraph's
  exporters; :func:`ask_export_path` asks where).

Every colour a graph draws with comes from the application's palette (or is checked against it):
text in the palette's Text colour on its Base, legends on a Base-coloured box, so that a dark
palette gives light text on a dark box and never light on light. :func:`contrast_ratio` is the
WCAG 2 ratio the tests hold the colours to (text 4.5:1, lines and areas 3:1; see ``gui/colours.py``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QHelpEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QGraphicsView,
    QLabel,
    QMessageBox,
    QToolTip,
    QWidget,
)

from poolscope.gui.colours import composite, contrast_ratio, legible

__all__ = [
    "EXPORT_FILTERS",
    "HISTORY_CHOICES",
    "PAUSED_TEXT",
    "HoverTips",
    "add_legend",
    "ask_export_path",
    "base_colour",
    "clock_text",
    "composite",
    "context_menu",
    "contrast_ratio",
    "curves_text",
    "export_plot",
    "export_widget",
    "export_with_dialog",
    "history_combo",
    "legend_brush",
    "legible",
    "live_curve",
    "make_plot",
    "paused_label",
    "remove_curve",
    "set_interactive",
    "style_plot",
    "text_colour",
    "total_colour",
    "view_point",
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
    plot = pg.PlotWidget(background=base_colour())
    item = plot.getPlotItem()
    item.setMenuEnabled(False)
    item.hideButtons()
    item.setMouseEnabled(x=False, y=False)
    # No grid: pyqtgraph draws it inside the axes, and it was 4 to 10 ms of each frame
    # (bench_gui_graphs: 128-core heat map 14.4 -> 3.8 ms a frame; bench_gui_latency).
    item.setLabel("left", left)
    item.setLabel("bottom", bottom)
    style_plot(plot)
    item.getViewBox().setDefaultPadding(0.0)
    item.layout.setContentsMargins(2, 6, 14, 2)  # room for the last tick label at the right
    return plot


def style_plot(plot: pg.PlotWidget, legend: Any = None) -> None:
    """Give ``plot`` (and its ``legend``) the application palette's colours: made with them, and
    again when the palette changes (a desktop turning dark or light while the window is open)."""
    palette = QApplication.palette()
    foreground = palette.color(QPalette.ColorRole.Text)
    plot.setBackground(palette.color(QPalette.ColorRole.Base))
    item = plot.getPlotItem()
    for name in ("left", "bottom", "right"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(foreground))
        axis.setTextPen(pg.mkPen(foreground))
        if axis.labelText:
            axis.setLabel(axis.labelText, color=foreground.name())
    if legend is not None:
        legend.setBrush(legend_brush())
        legend.setLabelTextColor(foreground)
        for _sample, label in legend.items:  # the labels already there: drawn again in the new colour
            label.setText(label.text, color=foreground)


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


# -- pause ------------------------------------------------------------------------------------------

#: The mark a paused graph shows in its header.
PAUSED_TEXT = "PAUSED"


def paused_label() -> QLabel:
    """The PAUSED mark of a graph's header (hidden until the graph pauses): the palette's
    highlighted text on its highlight, so it reads in any palette and stands out from the graph."""
    label = QLabel(PAUSED_TEXT)
    label.setObjectName("paused_mark")
    label.setStyleSheet("QLabel { font-weight: bold; padding: 0 6px; border-radius: 3px;"
                        " background: palette(highlight); color: palette(highlighted-text); }")
    label.setToolTip("The graph is paused: it draws nothing new, and the mouse zooms (wheel) and pans (drag) it. "
                     "Space goes back to the live view.")
    label.setVisible(False)
    return label


def set_interactive(plot: pg.PlotWidget, on: bool) -> None:
    """Let the mouse zoom and pan ``plot`` (paused), or not (live: the ranges are the graph's)."""
    plot.getPlotItem().setMouseEnabled(x=on, y=on)


# -- hover ------------------------------------------------------------------------------------------

def clock_text(drawn_at: float, x: float) -> str:
    """The wall-clock time and age of a point ``x`` seconds from ``drawn_at`` (time.monotonic() of the
    drawing): "10:41:07 (8.2 s ago)"."""
    monotonic = drawn_at + x
    age = time.monotonic() - monotonic
    stamp = time.strftime("%H:%M:%S", time.localtime(time.time() - age))
    return f"{stamp} ({age:.1f} s ago)"


def view_point(plot: pg.PlotWidget, position: QPoint) -> QPointF | None:
    """The data coordinates under ``position`` (in ``plot``'s viewport), or None outside its plot area."""
    view_box = plot.getPlotItem().getViewBox()
    scene_point = plot.mapToScene(position)
    if not view_box.sceneBoundingRect().contains(scene_point):
        return None
    return view_box.mapSceneToView(scene_point)


def curves_text(curves: Sequence[tuple[str, Any]], x: float, drawn_at: float, unit: str) -> str | None:
    """The values of ``curves`` ((label, PlotDataItem)) at the point nearest ``x`` of each, and its
    time: a hover's text; None when no curve has a point."""
    lines: list[str] = []
    nearest_x: float | None = None
    for label, curve in curves:
        xs, ys = curve.getData()
        if xs is None or len(xs) == 0:
            continue
        index = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
        if index > 0 and abs(xs[index - 1] - x) <= abs(xs[index] - x):
            index -= 1
        if nearest_x is None or abs(xs[index] - x) < abs(nearest_x - x):
            nearest_x = float(xs[index])
        lines.append(f"{label}: {ys[index]:,.1f}{unit}")
    if nearest_x is None:
        return None
    return "\n".join([clock_text(drawn_at, nearest_x), *lines])


class HoverTips(QObject):
    """Shows ``text_at(position)`` (widget coordinates; None: nothing) as the tooltip of ``widget``
    where the mouse rests. Only the ToolTip event runs it: nothing runs while the mouse moves."""

    def __init__(self, widget: QWidget, text_at: Callable[[QPoint], str | None]) -> None:
        super().__init__(widget)
        self.widget = widget
        self.text_at = text_at
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget and event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            text = self.text_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self.widget)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return False


# -- export -----------------------------------------------------------------------------------------

#: The export file types, in the save dialog's words, by suffix.
EXPORT_FILTERS = {".png": "PNG image (*.png)", ".svg": "SVG image (*.svg)", ".csv": "CSV of the data drawn (*.csv)"}


def export_plot(plot: pg.PlotWidget, path: str) -> None:
    """Write ``plot`` to ``path`` through pyqtgraph's exporters, the kind by its suffix (.png, .svg,
    .csv: the curves' data, (x, y) per curve). Raises ValueError for another suffix, OSError when the
    file cannot be written."""
    suffix = os.path.splitext(path)[1].lower()
    item = plot.getPlotItem()
    exporters = {".png": pyqtgraph.exporters.ImageExporter, ".svg": pyqtgraph.exporters.SVGExporter,
                 ".csv": pyqtgraph.exporters.CSVExporter}
    if suffix not in exporters:
        raise ValueError(f"cannot export a graph as {suffix or 'a file without a suffix'}: "
                         f"choose one of {', '.join(EXPORT_FILTERS)}")
    exporter = exporters[suffix](item)
    if suffix == ".png":
        if not exporter.export(path):  # pyqtgraph says False rather than raising
            raise OSError(f"could not write the image {path}")
        return
    if suffix == ".svg":
        with open(path, "wb"):  # an unwritable path is an OSError before any drawing
            pass
        try:
            exporter.export(path)
        except ValueError:
            # pyqtgraph 0.14's SVG exporter cannot read the closed paths ("... Z") Qt 6.10+ writes
            # (pyqtgraph issue 3495): Qt's own SVG generator draws the plot instead
            export_widget(plot, path)
        return
    exporter.export(path)


def export_widget(widget: QWidget, path: str) -> None:
    """Write what ``widget`` paints to ``path``: .png (a grab) or .svg (its painting, recorded by
    QSvgGenerator); for a graph Qt paints itself rather than pyqtgraph. Raises OSError, ValueError."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".png":
        if not widget.grab().save(path, "PNG"):
            raise OSError(f"could not write the image {path}")
        return
    if suffix != ".svg":
        raise ValueError(f"cannot export this graph as {suffix or 'a file without a suffix'}: choose .png or .svg")
    from PySide6.QtSvg import QSvgGenerator

    with open(path, "wb"):  # QSvgGenerator says nothing when it cannot write: find out first
        pass
    generator = QSvgGenerator()
    generator.setFileName(path)
    generator.setSize(widget.size())
    generator.setViewBox(widget.rect())
    generator.setTitle(widget.objectName() or "poolscope graph")
    painter = QPainter(generator)
    try:
        if isinstance(widget, QGraphicsView):  # a pyqtgraph plot: its scene, as the view shows it
            widget.render(painter)
        else:
            widget.render(painter, QPoint(0, 0))
    finally:
        painter.end()


def ask_export_path(parent: QWidget, stem: str) -> str | None:
    """Ask where to export a graph (PNG, SVG or CSV); the suffix follows the chosen type when none is typed."""
    start = os.path.join(os.getcwd(), f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.png")
    filters = list(EXPORT_FILTERS.values())
    path, chosen = QFileDialog.getSaveFileName(parent, "Export graph", start, ";;".join(filters))
    if not path:
        return None
    if os.path.splitext(path)[1].lower() not in EXPORT_FILTERS:
        suffix = next((suffix for suffix, name in EXPORT_FILTERS.items() if name == chosen), ".png")
        path += suffix
    return path


def export_with_dialog(parent: QWidget, stem: str, export: Callable[[str], None]) -> str | None:
    """Ask for a path and ``export(path)``; a failure is shown in a message box. Returns the path written."""
    path = ask_export_path(parent, stem)
    if path is None:
        return None
    try:
        export(path)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        QMessageBox.warning(parent, "Export graph", f"Could not export to {path}: {reason}")
        return None
    return path


def context_menu(widget: QWidget) -> None:
    """Right-click on ``widget`` (or a child that does not take it) shows its actions."""
    widget.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
