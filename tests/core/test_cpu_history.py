"""The CPU graph's readings, without Qt: what is in view of the per-core history (smoothed or not),
and the cluster's workers: new ones named once, gone ones forgotten when their line leaves the view."""

from __future__ import annotations

import numpy as np

from poolscope.monitor.cpu_history import REPORTING_SECONDS, SMOOTH_SECONDS, CpuHistory, trailing_mean
from poolscope.monitor.views import ClusterSample


def test_the_loads_in_view_are_the_history_and_a_second_before_now_smoothed_when_asked():
    history = CpuHistory(2, 900)
    for k in range(400):  # 100 s at 4 readings a second
        history.add_sample(1000 + k * 0.25, np.array([k % 2 * 100.0, 50.0]))
    now = 1000 + 399 * 0.25
    x, values = history.visible_loads(now, 60, smooth=False)
    assert x[-1] == 0 and x[0] == -61.0 and len(x) == 61 * 4 + 1
    np.testing.assert_array_equal(values[-1], [100.0, 50.0])
    sx, smoothed = history.visible_loads(now, 60, smooth=True)
    np.testing.assert_array_equal(sx, x)  # the same readings, each the mean of the last second up to it
    times, raw = history.loads.since(now - 61 - SMOOTH_SECONDS)
    np.testing.assert_allclose(smoothed, trailing_mean(times, raw, SMOOTH_SECONDS)[-len(x):])
    np.testing.assert_allclose(smoothed[-1], [50.0, 50.0])
    history.set_cores(4)  # another width: the history restarts
    assert len(history.loads) == 0 and history.loads.width == 4


def test_cluster_workers_are_named_once_and_forgotten_when_their_line_leaves_the_view():
    history = CpuHistory(2, 900)
    a, b = "tcp://10.0.0.5:4001", "tcp://10.0.0.6:4001"
    assert history.add_cluster_sample(ClusterSample(time=100.0, cpu={a: 10.0, b: 20.0}, labels={})) == ([a, b], True)
    assert history.add_cluster_sample(ClusterSample(time=100.5, cpu={a: 11.0, b: 21.0}, labels={})) == ([], False)
    assert history.add_cluster_sample(ClusterSample(time=101.0, cpu={a: 12.0}, labels={})) == ([], True)  # b left
    assert history.cluster_now == {a}
    shown = history.cluster_in_view(101.0, 60)
    assert shown.gone == [] and set(shown.lines) == {a, b}
    x, cpu = shown.lines[b]
    np.testing.assert_array_equal(x, [-1.0, -0.5])
    np.testing.assert_array_equal(cpu, [20.0, 21.0])
    assert sorted(shown.latest) == [12.0, 21.0]  # both read within REPORTING_SECONDS
    for k in range(1, 62):
        history.add_cluster_sample(ClusterSample(time=101.0 + k, cpu={a: 30.0}, labels={}))
    shown = history.cluster_in_view(101.0 + REPORTING_SECONDS + 1, 60)
    assert shown.gone == [] and shown.latest == [30.0]  # b still in view, but no longer reporting
    shown = history.cluster_in_view(162.0, 60)  # b's last reading (100.5) is before 162 - 61
    assert shown.gone == [b] and set(history.cluster) == {a} and set(shown.lines) == {a}
