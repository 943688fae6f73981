"""Engine.subscribe: readers of the event batches beside the queue, none able to end the engine."""

from __future__ import annotations

import queue

import pytest

from poolscope.core.engine import Engine
from poolscope.core.events import JobFinished, TasksFinished
from poolscope.core.jobs import JobSpec, JobState
from tests.conftest import sample

pytestmark = pytest.mark.timeout(60)


def finished_counts(batches: list[list]) -> int:
    return sum(event.done for batch in batches for event in batch if isinstance(event, TasksFinished))


def test_every_subscriber_gets_the_same_batches_as_the_queue():
    engine = Engine(workers=2, nice=0, events=True)
    first: list[list] = []
    second: list[list] = []
    try:
        engine.subscribe(first.append)
        engine.subscribe(second.append)
        summary = engine.submit(JobSpec.create(sample("square"), "range:50")).wait(30)
        from_queue: list[list] = []
        while not any(isinstance(e, JobFinished) for batch in from_queue for e in batch):
            from_queue.append(engine.events.get(timeout=10))
    finally:
        engine.shutdown(terminate=True, timeout=20)
    assert summary.status is JobState.DONE
    assert first == second
    assert finished_counts(first) == finished_counts(from_queue) == 50
    assert any(isinstance(event, JobFinished) for batch in first for event in batch)


def test_a_subscriber_without_a_queue_gets_events_and_one_that_raises_is_dropped():
    engine = Engine(workers=1, nice=0)  # no events queue: the subscriber alone reads
    got: queue.Queue = queue.Queue()
    calls = []

    def broken(batch: list) -> None:
        calls.append(batch)
        raise RuntimeError("reader fault")

    batches: list[list] = []

    def until_finished(job_id: int) -> None:  # wait() returns before the batch that says so is out
        while not any(isinstance(e, JobFinished) and e.job_id == job_id for batch in batches for e in batch):
            batches.append(got.get(timeout=10))

    try:
        engine.subscribe(broken)
        unsubscribe = engine.subscribe(got.put)
        with pytest.warns(RuntimeWarning, match="reader fault"):
            first = engine.submit(JobSpec.create(sample("square"), "range:10")).wait(30)
            until_finished(first.job_id)
        unsubscribe()
        second = engine.submit(JobSpec.create(sample("square"), "range:10")).wait(30)
    finally:
        engine.shutdown(terminate=True, timeout=20)
    assert first.status is JobState.DONE and second.status is JobState.DONE
    assert len(calls) == 1  # dropped after its first fault
    while not got.empty():
        batches.append(got.get())
    ids = {event.job_id for batch in batches for event in batch if isinstance(event, JobFinished)}
    assert ids == {first.job_id}  # nothing after unsubscribing
