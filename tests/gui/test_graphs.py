"""The live graphs: per-core small multiples with figures (a heat map over 32 cores), throughput, cluster."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor

from poolscope.core.telemetry import TelemetrySample
from poolscope.gui.colours import contrast_ratio
from poolscope.gui.widgets.cpu_graph import CLUSTER_VIEW, HEATMAP_ABOVE, LOCAL_VIEW, CpuGraph
from poolscope.gui.widgets.throughput_graph import ThroughputGraph
from poolscope.monitor.cpu_history import trailing_mean
from poolscope.monitor.views import ClusterSample


def samples(cores: int, count: int, *, start: float = 1000.0, step: float = 0.25, jobs=(1,)) -> list[TelemetrySample]:
    rng = np.random.default_rng(0)
    return [TelemetrySample(time=start + i * step, cpu=rng.uniform(0, 100, cores), total_rate=10.0 * i,
                            job_rates={job: 5.0 * i for job in jobs}) for i in range(count)]


def test_each_core_is_a_chart_of_its_own_with_its_current_load_as_a_figure(qtbot):
    graph = CpuGraph(16)
    qtbot.addWidget(graph)
    graph.resize(600, 400)
    graph.show()
    data = samples(16, 400)  # 100 s of history
    graph.add_samples(data)
    now = data[-1].time
    graph.refresh(now)
    grid = graph.grid
    assert grid is not None and not graph.heatmap_mode
    # every core's figure, as a number on screen
    assert graph.figures() == [f"{value:.0f}%" for value in data[-1].cpu]
    # the cells (each a core's name and figure above its own chart) tile the graph, none over another
    cells = grid.cell_rects()
    assert len(cells) == 16
    area = QRectF(grid.rect())
    for n, cell in enumerate(cells):
        assert area.contains(cell) and cell.height() > grid.label_height() + 8
        assert not any(cell.intersects(other) for other in cells[n + 1:])
    # and no legend box sits on the data
    assert graph.plot is None or graph.plot.getPlotItem().legend is None
    # the visible history: the last minute (and a second's margin), the newest reading at 0
    x, values = grid._x, grid._values
    assert x[-1] == 0 and -62 < x[0] <= -59
    np.testing.assert_array_equal(values[-1], data[-1].cpu)
    graph.set_history(300)
    graph.refresh(now)
    assert grid._x[0] == -(400 - 1) * 0.25 and graph.grid is grid  # made once


def test_two_cores_at_full_load_are_two_full_charts_not_one_line(qtbot):
    graph = CpuGraph(2)
    qtbot.addWidget(graph)
    graph.resize(500, 300)
    graph.show()
    for k in range(300):  # 75 s: the whole history
        graph.add_sample(1000 + k * 0.25, np.array([100.0, 100.0]))
    graph.refresh(1000 + 299 * 0.25)
    assert graph.figures() == ["100%", "100%"]
    first, second = graph.grid.cell_rects()
    assert not first.intersects(second)
    # both are painted: each cell's line runs along the top of its own chart
    image = graph.grid.grab().toImage()
    base = graph.grid.colours()["base"]
    for cell in (first, second):
        top = int(cell.top() + graph.grid.label_height())
        for x in range(int(cell.left()) + 5, int(cell.right()) - 5, 7):
            column = [QColor(image.pixel(x, y)) for y in range(top, top + 6)]
            assert max(contrast_ratio(colour, base) for colour in column) > 2, f"no line at the top at x={x}"


def test_the_core_count_is_the_samplers_not_the_machines(qtbot):
    graph = CpuGraph(2)  # the machine's count, as the window first guesses it
    qtbot.addWidget(graph)
    data = samples(16, 20)  # a sampler that reads 16 cores
    graph.add_samples(data)
    graph.refresh(data[-1].time)
    assert graph.cores == 16 and graph.title.text() == "CPU per core (16 logical)"
    assert len(graph.figures()) == 16 and len(graph.grid.cell_rects()) == 16


def test_cpu_graph_switches_to_a_heat_map_with_figures_over_32_cores(qtbot):
    cores = HEATMAP_ABOVE * 2
    graph = CpuGraph(cores)
    qtbot.addWidget(graph)
    graph.resize(600, 700)
    graph.show()
    assert graph.heatmap_mode and graph.grid is None
    data = samples(cores, 100)
    graph.add_samples(data)
    graph.refresh(data[-1].time)
    image = graph.heatmap.image
    assert image.shape == (cores, 100)  # a row per core, a column per sample
    np.testing.assert_array_equal(image[:, -1], data[-1].cpu)
    figures = graph.figures()  # the current load of every row tall enough for one (here every other)
    assert figures and len(figures) >= cores // 4
    every = cores // len(figures)
    assert figures == [f"{value:.0f}%" for value in data[-1].cpu[::every]]


def test_smoothing_is_a_choice_and_draws_the_mean_of_the_last_second(qtbot):
    graph = CpuGraph(2)
    qtbot.addWidget(graph)
    loads = [np.array([100.0, 0.0]) if k % 2 else np.array([0.0, 100.0]) for k in range(40)]
    now = time.monotonic()  # (the graph redraws itself at the clock's time when the choice changes)
    for k, load in enumerate(loads):
        graph.add_sample(now - (39 - k) * 0.25, load)
    graph.refresh(now)
    assert graph.figures() == ["100%", "0%"]  # off by default: each reading as it is
    graph.smooth_check.click()  # the user's choice
    assert graph.smooth and graph.smooth_action.isChecked()
    assert graph.figures() == ["50%", "50%"]  # the mean of the readings within the last second
    assert "1 s mean" in graph.average.text()
    graph.smooth_action.trigger()
    assert not graph.smooth and not graph.smooth_check.isChecked() and graph.figures() == ["100%", "0%"]


def test_trailing_mean_takes_the_readings_within_the_window_up_to_each():
    times = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.25])
    values = np.array([[4.0], [0.0], [0.0], [0.0], [8.0], [0.0]])
    np.testing.assert_allclose(trailing_mean(times, values, 1.0)[:, 0], [4, 2, 4 / 3, 1, 2, 2])


def test_throughput_graph_draws_the_total_and_a_curve_per_job(qtbot):
    graph = ThroughputGraph()
    qtbot.addWidget(graph)
    graph.set_job_name(1, "primes")
    data = samples(2, 20, jobs=(1, 2))
    graph.add_samples(data)
    graph.refresh(data[-1].time)
    assert graph.point_count() == 20
    assert set(graph.job_curves) == {1, 2}
    x, y = graph.job_curves[1].getData()
    assert y[-1] == 5.0 * 19
    curve = graph.job_curves[1]
    graph.add_samples(samples(2, 4, start=data[-1].time + 0.25, jobs=(1, 2)))
    graph.refresh(data[-1].time + 1)
    assert graph.job_curves[1] is curve  # made once, fed with setData
    graph.forget_job(2)
    assert set(graph.job_curves) == {1}
    # a job that ended longer ago than the longest history leaves by itself
    graph.refresh(data[-1].time + 10_000)
    assert graph.job_curves == {}


def cluster_samples(addresses: list[str], count: int, *, start: float = 1000.0,
                    step: float = 0.5) -> list[ClusterSample]:
    return [ClusterSample(time=start + i * step, cpu={a: float(10 * n + i % 10) for n, a in enumerate(addresses)},
                          labels={a: a.removeprefix("tcp://") for a in addresses}) for i in range(count)]


def test_cpu_graph_shows_a_curve_per_dask_worker_once_a_cluster_reports(qtbot):
    graph = CpuGraph(2)
    qtbot.addWidget(graph)
    assert graph.view == LOCAL_VIEW and graph.view_combo.isHidden()
    workers = ["tcp://10.0.0.5:4001", "tcp://10.0.0.6:4001"]
    data = cluster_samples(workers, 40)
    graph.add_cluster_samples(data)
    assert graph.view == CLUSTER_VIEW and not graph.view_combo.isHidden()  # turned to the cluster, once
    assert graph.title.text() == "CPU per Dask worker (2)"
    now = data[-1].time
    graph.refresh(now)
    for n, address in enumerate(workers):
        x, y = graph.cluster_curve_data()[address]
        assert len(x) >= 30 and x[-1] == 0 and y[-1] == 10 * n + 39 % 10  # (clip-to-view may drop an edge point)
    curves = dict(graph.cluster_curves)
    # one worker is replaced (restarted): the new one gets a curve, the old line stays until it scrolls away
    later = cluster_samples([workers[0], "tcp://10.0.0.6:4002"], 10, start=now + 0.5)
    graph.add_cluster_samples(later)
    graph.refresh(later[-1].time)
    assert graph.title.text() == "CPU per Dask worker (2)"
    assert set(graph.cluster_curves) == set(workers) | {"tcp://10.0.0.6:4002"}
    assert graph.cluster_curves[workers[0]] is curves[workers[0]]  # made once
    graph.add_cluster_samples(cluster_samples([workers[0], "tcp://10.0.0.6:4002"], 1, start=now + 120))
    graph.refresh(now + 120)
    assert set(graph.cluster_curves) == {workers[0], "tcp://10.0.0.6:4002"}
    graph.set_view(LOCAL_VIEW)  # the user can go back to this machine's cores
    assert graph.view == LOCAL_VIEW and graph.title.text() == "CPU per core (2 logical)"
    graph.add_cluster_samples(cluster_samples(workers, 1, start=now + 121))
    assert graph.view == LOCAL_VIEW  # and it stays there
