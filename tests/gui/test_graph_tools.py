"""What a person does with the graphs: pause them (Space, a PAUSED mark, no redraw) and zoom and pan
while paused, back to live with one key; hover a point to read its value and time; export a graph as
PNG, SVG and CSV of its data (read back and compared with what the graph drew)."""

from __future__ import annotations

import csv
import re
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QHelpEvent, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QToolTip

from poolscope.core.telemetry import TelemetrySample
from poolscope.gui.widgets.cpu_graph import CLUSTER_VIEW, CpuGraph
from poolscope.gui.widgets.throughput_graph import ThroughputGraph
from poolscope.monitor.views import ClusterSample
from tests.gui.test_window_cost import PaintCounter, pump, samples_update, surfaces


def samples(cores: int, count: int, *, start: float, step: float = 0.25) -> list[TelemetrySample]:
    rng = np.random.default_rng(1)
    return [TelemetrySample(time=start + i * step, cpu=rng.uniform(0, 100, cores), total_rate=10.0 * i + 0.5,
                            job_rates={1: 5.0 * i + 0.25, 2: 3.0 * i}) for i in range(count)]


def read_csv(path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    header, body = rows[0], rows[1:]
    return header, np.array([[float(cell) if cell else np.nan for cell in row] for row in body])


def assert_png(path) -> QImage:
    with open(path, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    assert not image.isNull() and image.width() > 100 and image.height() > 50
    return image


def assert_svg(path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(list(root.iter())) > 10  # drawn, not an empty document
    return root


@pytest.fixture
def throughput(qtbot):
    graph = ThroughputGraph()
    qtbot.addWidget(graph)
    graph.resize(600, 300)
    graph.show()
    graph.set_job_name(1, "primes")
    graph.set_job_name(2, "pi")
    data = samples(2, 100, start=time.monotonic() - 30)
    graph.add_samples(data)
    graph.refresh(data[-1].time)
    return graph


def test_the_throughput_graph_exports_its_data_as_csv_and_itself_as_png_and_svg(throughput, tmp_path):
    graph = throughput
    graph.export(str(tmp_path / "t.csv"))
    header, table = read_csv(tmp_path / "t.csv")
    assert header == ["total_x", "total_y", "1 primes_x", "1 primes_y", "2 pi_x", "2 pi_y"]
    for column, curve in enumerate([graph.total_curve, graph.job_curves[1], graph.job_curves[2]]):
        x, y = curve.getData()
        np.testing.assert_allclose(table[: len(x), 2 * column], x, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(table[: len(y), 2 * column + 1], y, rtol=1e-9, atol=1e-9)
    assert len(graph.job_curves[1].getData()[0]) == 100
    assert_png(tmp_path / "t.png") if graph.export(str(tmp_path / "t.png")) is None else None
    graph.export(str(tmp_path / "t.svg"))
    assert_svg(tmp_path / "t.svg")
    with pytest.raises(ValueError, match=r"\.png, \.svg, \.csv"):
        graph.export(str(tmp_path / "t.gif"))
    with pytest.raises(OSError):
        graph.export(str(tmp_path / "no such folder" / "t.png"))


def test_the_cpu_graph_exports_what_it_drew_in_each_of_its_views(qtbot, tmp_path):
    for cores, heatmap_above in ((4, 32), (8, 4)):  # small multiples, then a heat map
        graph = CpuGraph(cores, heatmap_above=heatmap_above)
        qtbot.addWidget(graph)
        graph.resize(600, 400)
        graph.show()
        data = samples(cores, 120, start=time.monotonic() - 40)
        graph.add_samples(data)
        graph.refresh(data[-1].time)
        assert graph.heatmap_mode == (cores > heatmap_above)
        path = tmp_path / f"cpu{cores}.csv"
        graph.export(str(path))
        header, table = read_csv(path)
        assert header == ["seconds"] + [f"cpu{core}" for core in range(cores)]
        x, values = graph.drawn
        if graph.grid is not None:
            drawn_x, drawn_values = graph.grid.data()
            np.testing.assert_array_equal(drawn_x, x)
            np.testing.assert_array_equal(drawn_values, values)
        assert len(x) == 120
        np.testing.assert_array_equal(table[:, 0], x)  # repr: every digit
        np.testing.assert_array_equal(table[:, 1:], values)
        np.testing.assert_array_equal(table[-1, 1:], data[-1].cpu)
        graph.export(str(tmp_path / f"cpu{cores}.png"))
        assert_png(tmp_path / f"cpu{cores}.png")
        graph.export(str(tmp_path / f"cpu{cores}.svg"))
        assert_svg(tmp_path / f"cpu{cores}.svg")
    # the cluster's view: pyqtgraph's CSV of each worker's curve
    graph.add_cluster_samples([ClusterSample(time=time.monotonic() - 2 + k * 0.5, cpu={"tcp://a:1": 10.0 * k},
                                             labels={"tcp://a:1": "a:1"}) for k in range(4)])
    assert graph.view == CLUSTER_VIEW
    graph.refresh()
    graph.export(str(tmp_path / "cluster.csv"))
    header, table = read_csv(tmp_path / "cluster.csv")
    assert header == ["a:1_x", "a:1_y"] and list(table[:, 1]) == [0.0, 10.0, 20.0, 30.0]


def hover(widget, position: QPoint) -> str:
    """Rest the mouse on ``widget`` at ``position``: the tooltip's text."""
    QToolTip.hideText()
    event = QHelpEvent(QEvent.Type.ToolTip, position, widget.mapToGlobal(position))
    QApplication.sendEvent(widget, event)
    return QToolTip.text() if QToolTip.isVisible() else ""


def plot_position(plot, x: float, y: float) -> QPoint:
    view_box = plot.getPlotItem().getViewBox()
    return plot.mapFromScene(view_box.mapViewToScene(QPointF(x, y)))


def test_hovering_a_point_reads_its_value_and_time(throughput):
    graph = throughput
    x, y = graph.job_curves[1].getData()
    k = 60
    text = hover(graph.plot.viewport(), plot_position(graph.plot, x[k], y[k]))
    age = graph.drawn_at - (graph.drawn_at + x[k])
    stamp = time.strftime("%H:%M:%S", time.localtime(time.time() - (time.monotonic() - graph.drawn_at) + x[k]))
    assert f"1 primes: {y[k]:,.1f}/s" in text and stamp[:5] in text and "s ago" in text, text
    assert age >= 0
    assert graph.hover_text(QPoint(1, 1)) is None  # off the plot area (on an axis): no tip


def test_hovering_a_core_reads_its_load_and_time(qtbot):
    graph = CpuGraph(4)
    qtbot.addWidget(graph)
    graph.resize(600, 400)
    graph.show()
    data = samples(4, 240, start=time.monotonic() - 60)
    graph.add_samples(data)
    graph.refresh(data[-1].time)
    grid = graph.grid
    band = grid.label_height()
    cell = grid.cell_rects()[2]
    position = QPoint(int(cell.right()) - 20, int(cell.top() + band + 10))  # a recent reading of cpu2
    seconds = -60 + (position.x() - cell.left()) / cell.width() * 60
    x, values = grid.data()
    nearest = int(np.argmin(np.abs(x - seconds)))
    assert nearest < len(x) - 3  # not the newest: the mouse picks the reading under it
    text = hover(grid, position)
    assert text.startswith(f"cpu2: {values[nearest, 2]:.1f}%"), text
    age = float(re.search(r"\(([0-9.]+) s ago\)", text).group(1))
    assert -x[nearest] - 0.05 <= age <= -x[nearest] + (time.monotonic() - graph.drawn_at) + 0.05
    assert "Each chart" in hover(grid, QPoint(int(cell.left()) + 3, int(cell.top()) + 2))  # its name: what it is


def test_pause_freezes_the_graphs_marks_them_and_space_goes_back_to_live(qtbot, fake_window):
    window = fake_window
    window.show()
    window.bridge.stop()
    window.bridge.take_update()
    now = time.monotonic()
    for k in range(8):
        window.apply_update(samples_update(now - 2 + k * 0.25))
    pump(0.6)
    window.apply_update(samples_update(time.monotonic()))
    cpu, throughput = window.cpu_graph, window.throughput_graph
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    window.focus_pane(window.job_table.view)  # Space elsewhere is that widget's own (a row's selection)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert not cpu.paused and not throughput.paused
    window.focus_pane(cpu.history_combo)  # Alt+3: the keyboard in the CPU graph
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert cpu.paused and throughput.paused and window.pause_action.isChecked()
    assert cpu.paused_mark.isVisible() and throughput.paused_mark.isVisible()
    assert not cpu.average.isVisible() and not throughput.current.isVisible()  # their "now" is no longer
    assert cpu.paused_mark.text() == "PAUSED" and "Space" in cpu.paused_mark.toolTip()
    drawn = (cpu.drawn_at, throughput.drawn_at, throughput.total_curve.getData()[0].copy())
    pump(0.1)  # the mark shown
    counters = [PaintCounter(widget) for widget in surfaces(window)]
    for _ in range(4):  # samples keep coming: nothing is drawn
        pump(0.55)
        window.apply_update(samples_update(time.monotonic()))
    pump(0.1)
    assert [counter.count for counter in counters] == [0, 0]
    assert (cpu.drawn_at, throughput.drawn_at) == drawn[:2]
    np.testing.assert_array_equal(throughput.total_curve.getData()[0], drawn[2])
    # zoom and pan while paused: the throughput plot with pyqtgraph's mouse, the cores by the wheel and a drag
    assert throughput.plot.getPlotItem().getViewBox().state["mouseEnabled"] == [True, True]
    grid = cpu.grid
    cell = grid.cell_rects()[0]
    centre = QPointF(cell.center().x(), cell.center().y() + grid.label_height() / 2)
    wheel = QWheelEvent(centre, grid.mapToGlobal(centre), QPoint(), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(grid, wheel)
    x0, x1 = grid.visible_range()
    assert x1 - x0 == pytest.approx(60 * 0.64) and x0 > -60 and x1 < 0  # two notches: in to 64%, about the mouse
    qtbot.mousePress(grid, Qt.MouseButton.LeftButton, pos=centre.toPoint())
    qtbot.mouseMove(grid, centre.toPoint() + QPoint(40, 0))
    qtbot.mouseRelease(grid, Qt.MouseButton.LeftButton, pos=centre.toPoint() + QPoint(40, 0))
    assert grid.visible_range()[0] < x0  # dragged right: earlier readings come into view
    throughput.plot.getPlotItem().setXRange(-20, -10, padding=0)  # as the mouse would
    # one key back to live: the mark gone, the live ranges back, what came meanwhile drawn
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert not cpu.paused and not throughput.paused and not window.pause_action.isChecked()
    assert not cpu.paused_mark.isVisible() and not throughput.paused_mark.isVisible()
    assert cpu.average.isVisible() and throughput.current.isVisible()
    assert grid.visible_range() == (-60, 0) and grid.x_range is None
    x_range = throughput.plot.getPlotItem().getViewBox().viewRange()[0]
    assert x_range == pytest.approx([-60, 0])
    assert throughput.plot.getPlotItem().getViewBox().state["mouseEnabled"] == [False, False]
    assert cpu.drawn_at > drawn[0] and throughput.drawn_at > drawn[1]
    assert len(throughput.total_curve.getData()[0]) > len(drawn[2])


def test_the_graphs_right_click_menu_and_file_export_offer_export_and_pause(fake_window):
    window = fake_window
    for graph, name in ((window.cpu_graph, "export_cpu_graph"), (window.throughput_graph, "export_throughput_graph")):
        assert graph.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu
        names = [action.objectName() for action in graph.actions()]
        assert names[0] == "pause_graphs" and name in names
        assert graph.export_action in window.export_menu.actions()
    assert window.export_menu.menuAction() in window.file_menu.actions()


def test_hovering_the_heat_map_and_the_cluster_reads_the_value_under_the_mouse(qtbot):
    graph = CpuGraph(8, heatmap_above=4)
    qtbot.addWidget(graph)
    graph.resize(600, 400)
    graph.show()
    data = samples(8, 120, start=time.monotonic() - 30)
    graph.add_samples(data)
    graph.refresh(data[-1].time)
    x, values = graph.drawn
    text = graph._heatmap_hover_text(plot_position(graph.plot, x[100], 5.5))
    assert text.startswith(f"cpu5: {values[100, 5]:.1f}%") and "s ago" in text, text
    graph.add_cluster_samples([ClusterSample(time=time.monotonic() - 2 + k * 0.5, cpu={"tcp://a:1": 10.0 * k},
                                             labels={"tcp://a:1": "a:1"}) for k in range(4)])
    graph.refresh()
    cx, _ = graph.cluster_curves["tcp://a:1"].getData()
    text = graph._cluster_hover_text(plot_position(graph.cluster_plot, cx[2], 50))
    assert "a:1: 20.0%" in text, text


def test_export_from_the_menu_asks_where_and_adds_the_chosen_suffix(throughput, tmp_path, monkeypatch):
    from poolscope.gui.widgets import plotting

    asked = []

    def save_dialog(parent, caption, start, filters):
        asked.append((caption, start, filters))
        return str(tmp_path / "mine"), plotting.EXPORT_FILTERS[".svg"]

    monkeypatch.setattr(plotting.QFileDialog, "getSaveFileName", save_dialog)
    throughput.export_action.trigger()  # the right-click menu's and File > Export's action
    assert_svg(tmp_path / "mine.svg")
    assert asked[0][1].endswith(".png") and "CSV" in asked[0][2]
    warned = []
    monkeypatch.setattr(plotting.QFileDialog, "getSaveFileName",
                        lambda *args: (str(tmp_path / "no such folder" / "x.csv"), ""))
    monkeypatch.setattr(plotting.QMessageBox, "warning", lambda parent, title, text: warned.append(text))
    throughput.export_action.trigger()
    assert warned and "Could not export to" in warned[0] and "no such folder" in warned[0]
