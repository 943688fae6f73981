"""Case 1 and 7: exceptions, BaseExceptions and MemoryError are task errors; the worker lives on."""

from __future__ import annotations

import pytest

from poolscope.core.jobs import JobSpec, JobState
from tests.conftest import sample
from tests.helpers.support import wait_until

pytestmark = pytest.mark.timeout(60)


def test_base_exceptions_are_task_errors_and_the_workers_survive(engine):
    wait_until(lambda: len(engine.worker_pids()) == 2)
    before = set(engine.worker_pids())
    summary = engine.submit(JobSpec.create(sample("raise_base_exception"), "range:6", chunksize=1)).wait(30)
    assert summary.status is JobState.FAILED
    assert summary.results == [None, None, None, 3, 4, 5]
    assert sorted((e.index, e.type) for e in summary.errors) == [
        (0, "SystemExit"), (1, "KeyboardInterrupt"), (2, "BaseException")]
    assert all("raise_base_exception" in e.traceback for e in summary.errors)
    assert set(engine.worker_pids()) == before  # nobody died


def test_memory_error_is_a_task_error(engine):
    summary = engine.submit(JobSpec.create(sample("allocate_too_much"), "range:2")).wait(30)
    assert [e.type for e in summary.errors] == ["MemoryError", "MemoryError"]
    assert engine.submit(JobSpec.create(sample("square"), "range:3")).wait(30).results == [0, 1, 4]


def test_max_tasks_per_worker_recycles_workers(engine):
    summary = engine.submit(JobSpec.create(sample("pid_of_worker"), "range:12", chunksize=1,
                                           max_tasks_per_worker=2)).wait(60)
    assert summary.status is JobState.DONE
    pids = summary.results
    assert None not in pids
    from collections import Counter

    assert max(Counter(pids).values()) <= 2  # no worker ran more than two of them
    assert len(set(pids)) >= 6
    wait_until(lambda: len(engine.worker_pids()) == 2, what="pool back to full strength")
