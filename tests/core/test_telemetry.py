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


def test_throughput_meter_rates_counts_over_its_window():
    meter = ThroughputMeter(window=1.0)
    assert meter.update(0.0, {"a": 0}) == {"a": 0.0}
    assert meter.update(0.5, {"a": 50}) == {"a": 100.0}
    assert meter.update(1.0, {"a": 100}) == {"a": 100.0}
    rates = meter.update(2.0, {"a": 100, "b": 7})
    assert rates["a"] == pytest.approx(0.0)  # nothing in the last second
    assert rates["b"] == 0.0
    # "a" is forgotten; "b" is rated over the same span as every key (from 1.0, as if it had 7 then)
    assert meter.update(2.5, {"b": 17}) == {"b": pytest.approx(10 / 1.5)}


def test_a_new_key_is_rated_over_the_same_span_as_the_others():
    """A job that starts while others run must not be rated above the total of all jobs."""
    meter = ThroughputMeter(window=2.0)
    for step in range(12):  # the total counts 10 tasks per 0.25 s
        meter.update(step * 0.25, {"total": 10 * step})
    rates = meter.update(3.0, {"total": 120, "new job": 0})
    rates = meter.update(3.25, {"total": 130, "new job": 10})  # all of the last 10 were the new job's
    assert rates["new job"] <= rates["total"]
    assert rates["new job"] == pytest.approx(10 / 2.0)  # over the window, as the total is


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
        sampler = ProcessSampler()
        sampler.sample([busy.pid, os.getpid()])
        import time

        time.sleep(0.5)
        stats = sampler.sample([busy.pid, os.getpid()])
        assert stats[busy.pid].rss > 0 and stats[busy.pid].cpu_percent > 20
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
    assert sample.job_rates == {1: 60.0, 2: 20.0}
    assert sample.total_rate == 80.0
    assert sample.cpu.shape == (telemetry.cores,)
    assert os.getpid() in sample.processes
