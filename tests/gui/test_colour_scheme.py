"""The window follows the desktop's light or dark scheme while it runs: the palette changes, and
the graphs take its colours, legible in both (WCAG 2: text 4.5:1, lines 3:1)."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from poolscope.core.telemetry import TelemetrySample
from poolscope.gui.colours import composite, contrast_ratio, dark_palette, follow_colour_scheme, is_dark
from poolscope.monitor.views import BridgeUpdate, ClusterSample

TEXT, LINE = 4.5, 3.0


@pytest.fixture
def app_palette():
    app = QApplication.instance()
    before = app.palette()
    yield app
    app.setPalette(before)


def colour_of(value) -> QColor:
    return value.color() if hasattr(value, "color") else pg.mkColor(value)


def graph_colours(window) -> list[tuple[str, QColor, QColor, float]]:
    """(what, colour, drawn on, contrast needed) of every colour the graphs draw with now."""
    pairs = []
    throughput = window.throughput_graph
    for name, plot, legend in (("throughput", throughput.plot, throughput.legend),
                               ("cluster", window.cpu_graph.cluster_plot, window.cpu_graph.cluster_legend)):
        background = plot.backgroundBrush().color()
        box = composite(colour_of(legend.opts["brush"]), background)
        for _sample, label in legend.items:
            pairs.append((f"{name} legend {label.text}", colour_of(label.opts["color"]), box, TEXT))
        for side in ("left", "bottom"):
            axis = plot.getPlotItem().getAxis(side)
            pairs.append((f"{name} {side} axis text", axis.textPen().color(), background, TEXT))
            pairs.append((f"{name} {side} axis line", axis.pen().color(), background, LINE))
    background = throughput.plot.backgroundBrush().color()
    pairs.append(("total curve", throughput.total_curve.opts["pen"].color(), background, LINE))
    for job_id, curve in throughput.job_curves.items():
        pairs.append((f"job {job_id} curve", curve.opts["pen"].color(), background, LINE))
    cluster_background = window.cpu_graph.cluster_plot.backgroundBrush().color()
    for address, curve in window.cpu_graph.cluster_curves.items():
        pairs.append((f"worker {address} curve", curve.opts["pen"].color(), cluster_background, LINE))
    grid = window.cpu_graph.grid.colours()
    pairs += [("core figures", grid["text"], grid["background"], TEXT), ("core load", grid["line"], grid["base"], LINE)]
    return pairs


def too_faint(pairs) -> list[str]:
    return [f"{name}: {contrast_ratio(fg, bg):.2f}:1 ({fg.name()} on {bg.name()})" for name, fg, bg, need in pairs
            if contrast_ratio(fg, bg) < need]


def test_the_graphs_take_the_new_palette_when_the_desktop_turns_dark_and_back(qtbot, fake_window, app_palette):
    app = app_palette
    window = fake_window
    window.show()
    window.bridge.stop()
    now = time.monotonic()
    window.throughput_graph.set_job_name(1, "primes")
    window.apply_update(BridgeUpdate(samples=[TelemetrySample(time=now - 1 + k * 0.25, cpu=np.full(2, 50.0),
                                                              total_rate=9.0, job_rates={1: 4.0, 3: 5.0})
                                              for k in range(4)],
                                     cluster=[ClusterSample(time=now, cpu={"tcp://a:1": 40.0}, labels={})]))
    window.throughput_graph.refresh()
    window.cpu_graph.refresh()
    assert window.throughput_graph.job_curves and window.cpu_graph.cluster_curves
    light_base = QApplication.palette().color(QPalette.ColorRole.Base)
    assert not too_faint(graph_colours(window))
    app.setPalette(dark_palette())  # as Qt does when the desktop turns dark
    QApplication.processEvents()
    base = QApplication.palette().color(QPalette.ColorRole.Base)
    assert window.throughput_graph.plot.backgroundBrush().color() == base != light_base
    assert window.cpu_graph.cluster_plot.backgroundBrush().color() == base
    faint = too_faint(graph_colours(window))
    assert not faint, "\n".join(faint)
    app.setPalette(app.style().standardPalette())  # and light again
    QApplication.processEvents()
    assert window.throughput_graph.plot.backgroundBrush().color() == QApplication.palette().color(
        QPalette.ColorRole.Base)
    faint = too_faint(graph_colours(window))
    assert not faint, "\n".join(faint)


def test_a_desktop_that_only_says_its_scheme_changed_gets_the_palette_for_it(qtbot, app_palette):
    app = app_palette
    app.setPalette(app.style().standardPalette())
    slot = follow_colour_scheme(app)
    hints = app.styleHints()
    try:
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
        assert is_dark(app.palette())
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # already dark: left as it is
        assert app.palette().color(QPalette.ColorRole.Base) == dark_palette().color(QPalette.ColorRole.Base)
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert not is_dark(app.palette())
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Unknown)
        assert not is_dark(app.palette())
    finally:
        hints.colorSchemeChanged.disconnect(slot)
