"""The live graphs: items made once, fed with setData from ring buffers; heat map over 16 cores."""

from __future__ import annotations

import numpy as np

from poolscope.core.telemetry import TelemetrySample
from poolscope.gui.bridge import ClusterSample
from poolscope.gui.widgets.cpu_graph import CLUSTER_VIEW, HEATMAP_ABOVE, LOCAL_VIEW, CpuGraph
from poolscope.gui.widgets.throughput_graph import ThroughputGraph


def samples(cores: int, count: int, *, start: float = 1000.0, step: float = 0.25, jobs=(1,)) -> list[TelemetrySample]:
    rng = np.random.default_rng(0)
    return [TelemetrySample(time=start + i * step, cpu=rng.uniform(0, 100, cores), total_rate=10.0 * i,
                            job_rates={job: 5.0 * i for job in jobs}) for i in range(count)]


def test_cpu_graph_has_one_curve_per_core_with_the_visible_history(qtbot):
    graph = CpuGraph(4)
    qtbot.addWidget(graph)
    data = samples(4, 400)  # 100 s of history
    graph.add_samples(data)
    now = data[-1].time
    graph.refresh(now)
    assert len(graph.curves) == 4 and graph.heatmap is None
    curves = list(graph.curves)
    for core, (x, y) in enumerate(graph.curve_data()):
        assert x[-1] == 0 and x[0] >= -61  # the last minute (and a second's margin)
        np.testing.assert_array_equal(y[-1:], data[-1].cpu[core:core + 1])
    graph.set_history(300)
    graph.refresh(now)
    assert graph.curve_data()[0][0][0] == -(400 - 1) * 0.25
    assert graph.curves == curves  # made once


def test_cpu_graph_switches_to_a_heat_map_over_16_cores(qtbot):
    cores = HEATMAP_ABOVE * 2
    graph = CpuGraph(cores)
    qtbot.addWidget(graph)
    assert graph.heatmap_mode and graph.curves == []
    data = samples(cores, 100)
    graph.add_samples(data)
    graph.refresh(data[-1].time)
    image = graph.heatmap.image
    assert image.shape == (cores, 100)  # a row per core, a column per sample
    np.testing.assert_array_equal(image[:, -1], data[-1].cpu)


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
