"""Telemetry: ring buffers, throughput from counts, per-core CPU and per-process sampling (no Qt)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import psutil
import pytest

from poolscope.core.telemetry import (
    CpuSampler,
    ProcessSampler,
    RingBuffer,
    Telemetry,
    ThroughputMeter,
    logical_cores,
)


def test_ring_buffer_keeps_the_latest_rows_oldest_first():
    buffer = RingBuffer(4, width=2)
    assert len(buffer) == 0 and buffer.last() is None and buffer.last_time() is None
    for t in range(6):
        buffer.append(float(t), [t, 10 * t])
    assert len(buffer) == 4
    np.testing.assert_array_equal(buffer.times(), [2, 3, 4, 5])
    np.testing.assert_array_equal(buffer.values()[:, 1], [20, 30, 40, 50])
    assert buffer.last_time() == 5.0
    np.testing.assert_array_equal(buffer.last(), [5, 50])
    times, values = buffer.since(3.5)
    np.testing.assert_array_equal(times, [4, 5])
    assert values.shape == (2, 2)
    buffer.clear()
    assert len(buffer) == 0


def test_ring_buffer_before_it_wraps_returns_views():
    buffer = RingBuffer(10)
    buffer.append(1.0, 3.0)
    buffer.append(2.0, 4.0)
    np.testing.assert_array_equal(buffer.values()[:, 0], [3, 4])
    with pytest.raises(ValueError):
        RingBuffer(0)


def test_ring_buffer_since_after_wrapping_gives_the_tail_at_every_write_position():
    buffer = RingBuffer(5, width=2)
    for n in range(1, 13):  # before the wrap, then every write position after it, twice
        buffer.append(float(n), [n, -n])
        held = np.arange(max(1, n - 4), n + 1, dtype=float)
        for t0 in np.arange(-1.0, n + 2.0, 0.5):
            times, values = buffer.since(t0)
            expected = held[held >= t0]
            np.testing.assert_array_equal(times, expected)
            np.testing.assert_array_equal(values, np.column_stack((expected, -expected)).reshape(-1, 2))
    times, values = buffer.since(10.5)
    buffer.append(13.0, [13, -13])  # a later append does not change rows already handed out
    np.testing.assert_array_equal(values[:, 0], [11, 12])


def test_ring_buffer_since_after_wrapping_copies_only_the_rows_asked_for():
    """A graph asks for the last few seconds of a long per-core history every frame: once the
    buffer had wrapped, since() used to copy every row of it (values()) before slicing."""
    import tracemalloc

    buffer = RingBuffer(4000, width=128)
    for t in range(4100):
        buffer.append(float(t), np.full(128, t % 100))
    tracemalloc.start()
    try:
        times, values = buffer.since(4100 - 40.5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert values.shape == (40, 128) and times[0] == 4060.0
    assert peak < buffer.values().nbytes / 10, peak  # the whole ring is 4 MB; the tail 40 KB


def last_rates(points: dict) -> dict:
    return {key: values[-1][1] for key, values in points.items()}


def area(points: list[tuple[float, float]]) -> float:
    """The area under points joined by straight lines, as the graph draws them."""
    times = np.array([t for t, _ in points])
    rates = np.array([r for _, r in points])
    assert (np.diff(times) >= 0).all()
    return float(np.sum((rates[1:] + rates[:-1]) / 2 * np.diff(times)))


def test_throughput_meter_rates_counts_over_its_window():
    meter = ThroughputMeter(window=1.0)
    assert last_rates(meter.update(0.0, {"a": 0})) == {"a": 0.0}
    assert last_rates(meter.update(0.5, {"a": 50})) == {"a": 50.0}  # 50 tasks in the last second
    assert last_rates(meter.update(1.0, {"a": 100})) == {"a": 100.0}
    rates = last_rates(meter.update(2.0, {"a": 100, "b": 7}))
    assert rates["a"] == pytest.approx(0.0)  # nothing in the last second
    assert rates["b"] == pytest.approx(7.0)  # 7 since the update before (at 1.0), where it had none


def test_a_new_key_is_rated_over_the_same_span_as_the_others():
    """A job that starts while others run must not be rated above the total of all jobs."""
    meter = ThroughputMeter(window=2.0)
    for step in range(12):  # the total counts 10 tasks per 0.25 s
        meter.update(step * 0.25, {"total": 10 * step})
    meter.update(3.0, {"total": 120, "new job": 0})
    rates = last_rates(meter.update(3.25, {"total": 130, "new job": 10}))  # all of the last 10 were the new job's
    assert rates["new job"] <= rates["total"]
    assert rates["new job"] == pytest.approx(10 / 2.0)  # over the window, as the total is


@pytest.mark.parametrize("seed", range(5))
def test_the_area_under_each_curve_is_its_count_whatever_the_timing(seed):
    """Jobs that start and end between two readings, short and long ones, readings that come late:
    the straight-line curve through the points has the job's count as its area (it was 0 for a
    job done within one reading, and 18 to 27% short for jobs of a few seconds)."""
    rng = np.random.default_rng(seed)
    meter = ThroughputMeter(window=2.0)
    points: dict = {}
    counts = {"instant": 0, "short": 0, "long": 0}
    finals = {"instant": 3000, "short": 800, "long": 2}
    t = 0.0
    for step in range(80):
        t += 0.25 + rng.uniform(-0.05, 0.3)  # the reader is sometimes late
        present = {}
        if step == 3:
            counts["instant"] = 3000  # started and ended since the last reading
            present["instant"] = 3000
        if 5 <= step <= 8:  # about a second of work
            counts["short"] = min(800, counts["short"] + int(rng.integers(150, 300)))
            present["short"] = counts["short"] if step < 8 else 800
            counts["short"] = present["short"]
        if 10 <= step <= 50:  # two long tasks, each ending at once
            present["long"] = 1 if step >= 25 else 0
            present["long"] = 2 if step == 50 else present["long"]
            counts["long"] = present["long"]
        present["total"] = sum(counts.values())
        for key, new in meter.update(t, present).items():
            points.setdefault(key, []).extend(new)
    for key, final in finals.items():
        assert area(points[key]) == pytest.approx(final, rel=1e-9), key
        assert points[key][0][1] == 0.0 and points[key][-1][1] == pytest.approx(0.0, abs=1e-9)
    assert area(points["total"]) == pytest.approx(sum(finals.values()), rel=1e-9)
    assert meter.update(t + 10, {"total": sum(finals.values())}).keys() == {"total"}  # the jobs were forgotten


def test_cpu_sampler_gives_one_load_per_logical_core():
    sampler = CpuSampler()
    load = sampler.sample()
    assert logical_cores() == sampler.cores == psutil.cpu_count(logical=True)
    assert load.shape == (logical_cores(),)
    assert ((load >= 0) & (load <= 100)).all()


@pytest.mark.timeout(30)
def test_process_sampler_reads_cpu_and_memory_with_children_and_drops_gone_pids():
    busy = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<3: pass"])
    try:
        import time

        sampler = ProcessSampler()
        handle = psutil.Process(busy.pid)
        before, began = sum(handle.cpu_times()[:2]), time.monotonic()
        sampler.sample([busy.pid, os.getpid()])
        time.sleep(0.5)
        stats = sampler.sample([busy.pid, os.getpid()])
        after, ended = sum(handle.cpu_times()[:2]), time.monotonic()
        # what the kernel counted over (about) the same half second: on a busy machine it may be
        # far from 100%, so the reading is checked against it, not against a fixed share
        kernel = 100 * (after - before) / (ended - began)
        assert stats[busy.pid].rss > 0 and stats[busy.pid].cpu_percent > 0
        assert stats[busy.pid].cpu_percent == pytest.approx(kernel, abs=5)
        # our own process counts its child (the busy one) too
        assert stats[os.getpid()].rss > stats[busy.pid].rss
    finally:
        busy.kill()
        busy.wait()
    assert busy.pid not in sampler.sample([busy.pid])


def test_telemetry_sample_puts_it_together():
    telemetry = Telemetry(window=1.0)
    telemetry.sample([os.getpid()], {1: 0, 2: 0}, now=10.0)
    sample = telemetry.sample([os.getpid()], {1: 30, 2: 10}, now=10.5)
    assert sample.time == 10.5
    assert sample.job_rates == {1: 30.0, 2: 10.0}  # over the one-second window, from 0 half a second ago
    assert sample.total_rate == 40.0
    assert sample.job_points[1][-1] == (10.5, 30.0) and sample.total_points[-1] == (10.5, 40.0)
    assert sample.cpu.shape == (telemetry.cores,)
    assert os.getpid() in sample.processes
