"""Soak a live pyqtgraph plot: thousands of setData + repaint frames, offscreen.

PySide6 6.12.0 on Python 3.11 drops a reference to ``None`` on every void Qt call and aborts
the interpreter ("none_dealloc") after a few hundred pyqtgraph frames. This test paints far
more frames than that, the way the window does (fixed ranges, setData, the dirty region
repainted by the event loop, a full repaint now and then), and checks that ``None``'s reference
count does not fall, so a build with that fault fails here (CI) instead of in a user's window.
(6.11.3 leaks the other way, a few references to ``None`` per frame while a plot auto-ranges:
harmless, the count only grows; the window's graphs use fixed ranges.)
"""

from __future__ import annotations

import gc
import sys

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from poolscope.gui.widgets.plotting import live_curve, make_plot

FRAMES = 1500  # several times the few hundred after which the bad build aborts


@pytest.mark.timeout(180)
def test_thousands_of_live_plot_frames(qtbot):
    plot = make_plot(left="load %")
    qtbot.addWidget(plot)
    plot.resize(320, 200)
    plot.show()
    curves = [live_curve(plot, pg.intColor(i, 4)) for i in range(4)]
    plot.getPlotItem().setXRange(-60, 0, padding=0)
    plot.getPlotItem().setYRange(0, 100, padding=0)
    x = np.linspace(-60, 0, 240)
    phase = np.linspace(0, 2 * np.pi, 240)
    app = QApplication.instance()
    # settle first: windows of earlier tests waiting for deleteLater, and garbage, hold Nones too
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    gc.collect()
    none_refs = []
    for frame in range(FRAMES):
        for i, curve in enumerate(curves):
            curve.setData(x, 50 + 40 * np.sin(phase + frame * 0.05 + i))
        if frame % 50 == 0:
            plot.viewport().repaint()
        app.processEvents()
        if frame % 250 == 0:
            none_refs.append(sys.getrefcount(None))
    assert all(curve.getData()[0].size == 240 for curve in curves)
    # a build that drops a reference per void call takes this down by thousands (then aborts)
    assert min(none_refs) >= none_refs[0] - 500, none_refs
