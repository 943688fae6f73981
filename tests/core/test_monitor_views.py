"""A job's view is estimated at the engine's time of its figures (monitor/views.py, no Qt)."""

from __future__ import annotations

import time

import pytest

from poolscope.core.events import JobProgress, JobSubmitted, TasksFinished
from poolscope.monitor.folder import EventFolder


def test_the_eta_is_made_at_the_engines_time_of_the_figures_not_at_the_updates():
    """The engine publishes a batch at most every PUBLISH_INTERVAL, so an update is newer than the
    figures it carries. Made at the update's time, the job's elapsed time grew while its work stood
    still, and the time left came out high (0.7 s shown for 0.58 s left near a job's end)."""
    folder = EventFolder()
    reading = time.monotonic() - 1.0  # the engine's time of the figures
    folder.fold([JobSubmitted(1, "squares", "square", "range:0:10", 10, time.time() - 5.0),
                 TasksFinished(1, 4, 0, 0, time.time()),
                 JobProgress(1, reading - 4.0, 4.0, 4, (), reading)])  # 4 tasks of 1 s in 4 s, one at a time
    view = folder.jobs[1]
    update_made = reading + 0.1  # the update that carried them, a publish interval later
    now = reading + 0.5
    eta = view.estimate(now, update_made).eta
    assert eta == pytest.approx(6.0 - 0.5, abs=0.01)  # 6 tasks at 1/s as of the reading, counted down since
