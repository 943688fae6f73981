"""Case 4: terminate kills the whole tree, whatever the task does about signals or children."""

from __future__ import annotations

import json
import os

import pytest

from poolscope.core.jobs import JobSpec, JobState
from tests.conftest import sample
from tests.helpers.support import full_strength, gone, wait_until

pytestmark = pytest.mark.timeout(90)


def test_terminate_kills_a_task_that_ignores_sigterm(engine, tmp_path):
    paths = [str(tmp_path / "a"), str(tmp_path / "b")]
    job = engine.submit(JobSpec.create(sample("ignore_sigterm_and_spin"), "json:" + json.dumps(paths), chunksize=1))
    wait_until(lambda: all(os.path.exists(path) for path in paths), timeout=30, what="both tasks running")
    victims = [int(open(path).read()) for path in paths]
    engine.terminate(job)
    summary = job.wait(10)
    assert summary.status is JobState.TERMINATED
    assert (summary.done, summary.cancelled) == (0, 2)
    wait_until(lambda: all(gone(pid) for pid in victims), timeout=2, what="victims dead")
    wait_until(lambda: full_strength(engine), timeout=5)
    assert not set(victims) & set(engine.worker_pids())


def test_terminate_kills_subprocesses_and_nested_pools(engine, tmp_path):
    path = str(tmp_path / "pids")
    job = engine.submit(JobSpec.create(sample("start_children_and_wait"), "json:" + json.dumps([path])))
    wait_until(lambda: os.path.exists(path), timeout=30, what="children started")
    pids = [int(pid) for pid in open(path).read().split()]
    assert len(pids) == 3  # the worker, a subprocess, a nested pool's worker
    engine.terminate(job)
    assert job.wait(10).status is JobState.TERMINATED
    wait_until(lambda: all(gone(pid) for pid in pids), timeout=2, what="the whole tree dead")
