"""What the window does when nothing changes: nothing. Graphs redraw when samples come, clocks
tick while a job runs, the bridge samples slowly at rest. (What it costs is measured by
bench/bench_window_cost.py; these tests check the mechanisms.)"""

from __future__ import annotations

import queue
import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

from poolscope.core.events import JobFinished, JobSubmitted, TasksFinished
from poolscope.core.jobs import JobState, JobSummary
from poolscope.core.telemetry import TelemetrySample
from poolscope.gui.bridge import EventBridge
from poolscope.monitor.folder import EventFolder
from poolscope.monitor.views import BridgeUpdate


class PaintCounter(QObject):
    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def surfaces(window) -> list[QWidget]:
    cpu = window.cpu_graph
    return [cpu.surface() if hasattr(cpu, "surface") else cpu.plot.viewport(), window.throughput_graph.plot.viewport()]


def samples_update(t: float, cores: int = 2) -> BridgeUpdate:
    return BridgeUpdate(samples=[TelemetrySample(time=t, cpu=np.full(cores, 40.0), total_rate=3.0)])


def pump(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


@pytest.fixture
def quiet_window(fake_window):
    """A shown fake window whose updates come from the test alone."""
    window = fake_window
    window.show()
    window.bridge.stop()
    window.bridge.take_update()
    now = time.monotonic()
    for k in range(8):  # some history in both graphs
        window.apply_update(samples_update(now - 2 + k * 0.25))
    pump(0.7)
    window.apply_update(samples_update(now))
    pump(0.3)
    return window


def test_nothing_redraws_when_nothing_changes(quiet_window):
    counters = [PaintCounter(widget) for widget in surfaces(quiet_window)]
    pump(1.5)
    assert [counter.count for counter in counters] == [0, 0], "a graph redrew with nothing new to show"
    assert not quiet_window.clock_timer.isActive()  # no job: no clock


def test_the_graphs_advance_when_samples_come_and_not_faster_than_twice_a_second(quiet_window):
    window = quiet_window
    counters = [PaintCounter(widget) for widget in surfaces(window)]
    for _ in range(4):  # a sample every 0.6 s: each is drawn
        pump(0.6)
        window.apply_update(samples_update(time.monotonic()))
        pump(0.05)
    assert all(counter.count >= 4 for counter in counters), [counter.count for counter in counters]
    x, _ = window.cpu_graph.visible_loads(time.monotonic())
    assert x[-1] > -1.0  # the newest sample is in view
    before = [counter.count for counter in counters]
    for _ in range(10):  # samples faster than the graphs redraw: at most one redraw per 500 ms
        window.apply_update(samples_update(time.monotonic()))
        pump(0.05)
    assert all(counter.count - old <= 2 for counter, old in zip(counters, before, strict=True)), \
        [(counter.count, old) for counter, old in zip(counters, before, strict=True)]


def test_the_clock_ticks_only_while_a_job_runs(quiet_window):
    window = quiet_window
    folder = EventFolder()
    folder.fold([JobSubmitted(1, "squares", "square", "range:0:10", 10, 0.0), TasksFinished(1, 2, 0, 0, 0.0)])
    window.apply_update(folder.take_changes())
    assert window.clock_timer.isActive()
    summary = JobSummary(1, "squares", "square", "range:0:10", JobState.DONE, 10, 10, 0, 0, 1.0, 2)
    folder.fold([JobFinished(1, summary, 0.0)])
    window.apply_update(folder.take_changes())
    assert not window.clock_timer.isActive()


@pytest.mark.timeout(30)
def test_the_bridge_samples_once_a_second_at_rest_and_four_times_while_a_job_runs(qtbot):
    events: queue.Queue = queue.Queue()
    bridge = EventBridge(events)
    taken: list[BridgeUpdate] = []
    bridge.updates_ready.connect(lambda: taken.append(bridge.take_update()))
    bridge.start()
    try:
        qtbot.wait(300)  # started; its first sample
        start = len([s for u in taken if u for s in u.samples])
        qtbot.wait(2500)
        at_rest = len([s for u in taken if u for s in u.samples]) - start
        events.put([JobSubmitted(1, "squares", "square", "range:0:10", 10, 0.0)])
        qtbot.wait(300)
        start = len([s for u in taken if u for s in u.samples])
        qtbot.wait(2000)
        running = len([s for u in taken if u for s in u.samples]) - start
    finally:
        bridge.stop()
    assert 1 <= at_rest <= 3, at_rest
    assert running >= 6, running
