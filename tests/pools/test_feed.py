"""The engine's open-ended jobs (core/inputs.py InputFeed), which the pools' single calls run in."""

from __future__ import annotations

import time

import pytest

from poolscope.core.engine import Engine
from poolscope.core.inputs import InputFeed, InputSpec
from poolscope.core.jobs import JobSpec, JobState
from tests.pools import pool_tasks as tasks

pytestmark = pytest.mark.timeout(60)


def test_a_feed_job_waits_for_inputs_runs_them_as_they_come_and_ends_when_closed() -> None:
    got: dict[int, int] = {}
    errors = []
    ended = []
    feed = InputFeed()
    with Engine(2, nice=0) as engine:
        job = engine.submit(JobSpec.create(tasks.boom_at_3, InputSpec.feed(feed), keep_results=False),
                            on_result=lambda index, _, value: got.__setitem__(index, value),
                            on_error=errors.append, on_finish=ended.append)
        time.sleep(0.3)  # nothing appended: the job must wait, not end
        assert job.state == JobState.PENDING and not ended
        for value in range(5):
            assert feed.append(value)
        deadline = time.monotonic() + 30
        while len(got) + len(errors) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got == {0: 0, 1: 1, 2: 2, 4: 4} and not job.summary().status.is_final
        assert [error.index for error in errors] == [3] and errors[0].exception is not None  # pickled, to raise
        feed.append(5)
        feed.close()
        summary = job.wait(30)
        assert not feed.append(6)
    assert summary.done == 5 and summary.failed == 1 and summary.total == 6 and summary.results == [None] * 6
    assert ended and ended[0].job_id == job.id


def test_cancelling_a_feed_job_drops_its_waiting_inputs() -> None:
    feed = InputFeed()
    with Engine(1, nice=0) as engine:
        job = engine.submit(JobSpec.create(tasks.sleep_then, InputSpec.feed(feed)))
        for _ in range(4):
            feed.append(0.5)
        time.sleep(0.2)
        job.cancel()
        summary = job.wait(30)
    assert summary.status == JobState.CANCELLED and summary.cancelled >= 2 and not feed.append(1)
