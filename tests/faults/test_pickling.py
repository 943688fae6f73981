"""Case 5: what cannot be pickled (or unpickled) fails its own task; the channel carries on."""

from __future__ import annotations

import threading

import pytest

from poolscope.core.jobs import JobSpec, JobState
from poolscope.core.results import UnreadableResult
from tests.conftest import sample

pytestmark = pytest.mark.timeout(60)


def test_an_unpicklable_argument_fails_its_task_only(engine):
    from tests.helpers.sample_tasks import square

    job = engine.submit(JobSpec.create(square, [1, threading.Lock(), 3], chunksize=3))
    summary = job.wait(30)
    assert summary.results == [1, None, 9]
    [error] = summary.errors
    assert (error.index, error.type) == (1, "UnpicklableInput")
    assert "could not be pickled" in error.message and "lock" in error.message


def test_an_unpicklable_result_fails_its_task_only(engine):
    summary = engine.submit(JobSpec.create(sample("unpicklable_result"), "range:3")).wait(30)
    assert summary.failed == 3
    assert all(e.type == "UnpicklableResult" and "could not be pickled" in e.message for e in summary.errors)
    assert engine.submit(JobSpec.create(sample("square"), "range:3")).wait(30).results == [0, 1, 4]


def test_a_result_that_cannot_be_built_by_the_caller_stands_alone(engine):
    # The engine checks results without running the user's code, so it cannot know that this
    # class refuses its own pickle: the caller's reading names it, and reads the rest.
    summary = engine.submit(JobSpec.create(sample("unpicklable_in_parent"), "range:2")).wait(30)
    assert summary.done == 2
    assert all(isinstance(value, UnreadableResult) and "missing 1 required" in value.message
               for value in summary.results)
    assert engine.submit(JobSpec.create(sample("square"), "range:3")).wait(30).results == [0, 1, 4]


def test_a_result_that_cannot_be_built_for_a_callback_fails_its_task_only(engine):
    seen = []
    job = engine.submit(JobSpec.create(sample("unpicklable_in_parent"), "range:2"),
                        on_result=lambda index, value_in, value_out: seen.append(index))
    summary = job.wait(30)
    assert (summary.failed, seen) == (2, [])
    assert all("could not be unpickled" in e.message and "missing 1 required" in e.message for e in summary.errors)


def test_a_bad_progress_payload_is_a_clear_task_error(engine):
    summary = engine.submit(JobSpec.create(sample("bad_progress"), "range:2")).wait(30)
    assert summary.status is JobState.FAILED
    assert all(e.type == "TypeError" and "progress() takes numbers" in e.message for e in summary.errors)
