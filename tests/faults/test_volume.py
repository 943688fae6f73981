"""Case 6: a huge result and a flood of progress calls: no deadlock, bounded traffic."""

from __future__ import annotations

import pytest

from poolscope.core.events import WorkerActivity
from poolscope.core.jobs import JobSpec, JobState
from tests.conftest import sample
from tests.helpers.support import drain

pytestmark = pytest.mark.timeout(120)


def test_a_huge_result_arrives_while_other_work_goes_on(engine):
    other = engine.submit(JobSpec.create(sample("square"), "range:2000"))
    summary = engine.submit(JobSpec.create(sample("huge_result"), "json:[0]", kwargs={"megabytes": 300})).wait(60)
    assert summary.status is JobState.DONE
    assert len(summary.results[0]) == 300 * 1024 * 1024
    assert other.wait(30).status is JobState.DONE


def test_a_progress_flood_is_throttled_not_queued(engine):
    summary = engine.submit(JobSpec.create(sample("progress_flood"), "range:2",
                                           kwargs={"calls": 1_000_000})).wait(60)
    assert summary.status is JobState.DONE
    events = drain(engine)
    activity = [event for event in events if isinstance(event, WorkerActivity)]
    # Two million progress calls became a few reports per second per worker.
    assert len(events) < 1000 and len(activity) < 500
