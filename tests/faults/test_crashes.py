"""Case 2 and 3: a task that kills its worker (exit, segfault, SIGKILL from outside) or hangs."""

from __future__ import annotations

import os
import signal

import pytest

from poolscope.core.events import WorkerExited
from poolscope.core.jobs import JobSpec, JobState
from tests.conftest import sample
from tests.helpers.support import drain, full_strength, wait_until

pytestmark = pytest.mark.timeout(90)


def test_os_exit_fails_only_that_task_and_the_worker_is_replaced(engine):
    wait_until(lambda: full_strength(engine))
    bystander = engine.submit(JobSpec.create(sample("spin"), "range:20", kwargs={"seconds": 0.05}))
    summary = engine.submit(JobSpec.create(sample("crash_on"), "range:10", kwargs={"bad": 4})).wait(30)
    assert summary.status is JobState.FAILED
    assert summary.results == [0, 1, 2, 3, None, 5, 6, 7, 8, 9]
    [error] = summary.errors
    assert (error.index, error.type) == (4, "WorkerCrashed")
    assert "exit code 7" in error.message and str(error.pid) in error.message
    assert bystander.wait(30).results == list(range(20))
    wait_until(lambda: full_strength(engine), timeout=5, what="pool back to full strength")
    exits = [e for e in drain(engine) if isinstance(e, WorkerExited)]
    # Once if input 4 ran in a chunk of its own; twice if it shared one (the chunk's unfinished
    # tasks then rerun one by one, so that the crash is pinned on its input before it counts).
    assert [e.exitcode for e in exits] in ([7], [7, 7])


def test_a_segfault_is_named_and_retried_up_to_the_retry_count(engine):
    summary = engine.submit(JobSpec.create(sample("segfault"), "json:[1]", retries=2)).wait(30)
    [error] = summary.errors
    assert error.type == "WorkerCrashed"
    assert "SIGSEGV" in error.message and "after 2 retries" in error.message
    exits = [e for e in drain(engine) if isinstance(e, WorkerExited)]
    assert [e.exitcode for e in exits] == [-signal.SIGSEGV] * 3  # first run and two retries
    assert all(e.reason == "crashed: SIGSEGV" for e in exits)
    wait_until(lambda: full_strength(engine), timeout=5)


def test_a_worker_killed_from_outside_fails_its_task(engine, tmp_path):
    path = str(tmp_path / "pid")
    job = engine.submit(JobSpec.create(sample("pid_and_wait_for_kill"), f"json:[{path!r}]".replace("'", '"')))
    wait_until(lambda: os.path.exists(path))
    with open(path) as stream:
        pid = int(stream.read())
    os.kill(pid, signal.SIGKILL)
    summary = job.wait(30)
    [error] = summary.errors
    assert error.type == "WorkerCrashed" and "SIGKILL" in error.message
    wait_until(lambda: full_strength(engine), timeout=5)
    assert engine.submit(JobSpec.create(sample("square"), "range:4")).wait(30).results == [0, 1, 4, 9]


def test_a_crash_in_a_big_chunk_reruns_the_rest_and_names_the_culprit(engine):
    summary = engine.submit(JobSpec.create(sample("crash_on"), "range:200", kwargs={"bad": 150},
                                           chunksize=100)).wait(60)
    assert summary.done == 199
    assert [(e.index, e.type) for e in summary.errors] == [(150, "WorkerCrashed")]
    assert summary.results[:150] == list(range(150)) and summary.results[151:] == list(range(151, 200))


def test_a_hung_task_is_killed_at_its_timeout(engine):
    bystander = engine.submit(JobSpec.create(sample("square"), "range:50", chunksize=1))
    summary = engine.submit(JobSpec.create(sample("sleep_forever"), "range:2", timeout=0.5)).wait(30)
    assert summary.status is JobState.FAILED
    assert [e.type for e in summary.errors] == ["TimeoutError", "TimeoutError"]
    assert "longer than 0.5 s" in summary.errors[0].message
    assert bystander.wait(30).results == [x * x for x in range(50)]
    reasons = [e.reason for e in drain(engine) if isinstance(e, WorkerExited)]
    assert reasons == ["timeout", "timeout"]
    wait_until(lambda: full_strength(engine), timeout=5)
