"""Legible in light and dark palettes: the contrast of the colours the window actually draws with,
against what they are drawn on (WCAG 2: text 4.5:1, lines 3:1)."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from poolscope.core.jobs import JobState
from poolscope.gui.colours import composite, contrast_ratio
from poolscope.gui.models import JobsModel
from poolscope.monitor.views import JobView, LogEntry
from tests.gui.conftest import FakeEngine, close

TEXT, LINE = 4.5, 3.0

#: A dark palette as a dark desktop theme gives Qt's Fusion style.
DARK = {
    QPalette.ColorRole.Window: "#353535", QPalette.ColorRole.WindowText: "#ffffff",
    QPalette.ColorRole.Base: "#2a2a2a", QPalette.ColorRole.AlternateBase: "#424242",
    QPalette.ColorRole.Text: "#ffffff", QPalette.ColorRole.Button: "#353535",
    QPalette.ColorRole.ButtonText: "#ffffff", QPalette.ColorRole.Highlight: "#2a82da",
    QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.Mid: "#4a4a4a",
    QPalette.ColorRole.Dark: "#232323", QPalette.ColorRole.Light: "#505050",
    QPalette.ColorRole.Midlight: "#3e3e3e", QPalette.ColorRole.PlaceholderText: "#a0a0a0",
    QPalette.ColorRole.ToolTipBase: "#353535", QPalette.ColorRole.ToolTipText: "#ffffff",
}


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in DARK.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7f7f7f"))
    return palette


@pytest.fixture(params=["light", "dark"])
def palette_window(request, qtbot, settings):
    from poolscope.gui.main_window import QUIT_TERMINATE, MainWindow

    app = QApplication.instance()
    before = app.palette()
    if request.param == "dark":
        app.setPalette(dark_palette())
    window = MainWindow(FakeEngine(), settings=settings)
    window.show()
    try:
        yield window
    finally:
        close(window, QUIT_TERMINATE)
        app.setPalette(before)


def colour_of(value) -> QColor:
    return value.color() if hasattr(value, "color") else pg.mkColor(value)


def test_text_and_lines_stand_out_in_light_and_dark_palettes(palette_window):
    window = palette_window
    palette = QApplication.palette()
    base = palette.color(QPalette.ColorRole.Base)
    pairs: list[tuple[str, QColor, QColor, float]] = []

    for label in (window.launch_panel.description, window.launch_panel.backend_description):
        label.ensurePolished()  # its style sheet's colour, if any, is in its palette now
        pairs.append((label.objectName(), label.palette().color(label.foregroundRole()),
                      label.palette().color(label.backgroundRole()), TEXT))

    grid = window.cpu_graph.grid.colours()
    pairs += [("core figures", grid["text"], grid["background"], TEXT),
              ("core load line", grid["line"], grid["base"], LINE),
              ("core figures on their meter", grid["text"], composite(grid["meter"], grid["background"]), TEXT)]

    for name, plot, legend in (("throughput", window.throughput_graph.plot, window.throughput_graph.legend),
                               ("cluster", window.cpu_graph.cluster_plot, window.cpu_graph.cluster_legend)):
        background = plot.backgroundBrush().color()
        box = composite(colour_of(legend.opts["brush"]), background)
        pairs.append((f"{name} legend text", colour_of(legend.opts["labelTextColor"]), box, TEXT))
        axis = plot.getPlotItem().getAxis("left")
        pairs.append((f"{name} axis text", axis.textPen().color(), background, TEXT))
    throughput_background = window.throughput_graph.plot.backgroundBrush().color()
    pairs.append(("total throughput curve", window.throughput_graph.total_curve.opts["pen"].color(),
                  throughput_background, LINE))

    jobs = window.jobs_model
    jobs.apply({n: JobView(job_id=n, name="j", target="t", inputs="i", total=1, submitted_at=0.0, state=state)
                for n, state in enumerate(JobState, start=1)})
    for row in range(jobs.rowCount()):
        brush = jobs.data(jobs.index(row, JobsModel.STATE_COLUMN), Qt.ItemDataRole.ForegroundRole)
        pairs.append((f"job state {jobs.job(row).state.value}", brush.color(), base, TEXT))
    log = window.log_model
    log.append([LogEntry(time=0.0, level=level, message=level) for level in ("info", "warning", "error")])
    for row in range(log.rowCount()):
        brush = log.data(log.index(row), Qt.ItemDataRole.ForegroundRole)
        colour = brush.color() if brush is not None else palette.color(QPalette.ColorRole.Text)
        pairs.append((f"log {log.entry(row).level}", colour, base, TEXT))

    too_faint = [f"{name}: {contrast_ratio(fg, bg):.2f}:1 ({fg.name()} on {bg.name()}, needs {need}:1)"
                 for name, fg, bg, need in pairs if contrast_ratio(fg, bg) < need]
    assert not too_faint, "\n".join(too_faint)
