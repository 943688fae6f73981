"""Case 8: cancel, terminate and submit racing with completion and with each other."""

from __future__ import annotations

import collections
import random
import time

import pytest

from poolscope.core.engine import Engine
from poolscope.core.events import JobFinished
from poolscope.core.jobs import JobSpec, JobState
from tests.conftest import sample
from tests.helpers.support import drain, full_strength, wait_until

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_storm_of_operations_ends_every_job_exactly_once(seed):
    rng = random.Random(seed)
    specs = [
        JobSpec.create(sample("square"), "range:3000"),
        JobSpec.create(sample("spin"), "range:20", kwargs={"seconds": 0.01}),
        JobSpec.create(sample("add"), "range:500", kwargs={"offset": 3}, chunksize=7),
        JobSpec.create(sample("spin"), "range:6", kwargs={"seconds": 0.05}, chunksize=1),
    ]
    expected = {0: [x * x for x in range(3000)], 1: list(range(20)), 2: [x + 3 for x in range(500)], 3: list(range(6))}
    with Engine(workers=2, nice=0, events=True) as engine:
        jobs = []  # (kind, job)
        touched = set()
        for kind in range(4):
            jobs.append((kind, engine.submit(specs[kind])))
        for _ in range(200):
            operation = rng.choice(["cancel", "terminate", "submit", "submit"])
            kind, job = rng.choice(jobs)
            if operation == "submit":
                kind = rng.randrange(4)
                jobs.append((kind, engine.submit(specs[kind])))
            elif operation == "cancel":
                engine.cancel(job)
                touched.add(job.id)
            else:
                engine.terminate(job)
                touched.add(job.id)
            time.sleep(rng.random() * 0.01)
        summaries = {job.id: job.wait(120) for _, job in jobs}
        events = drain(engine)
        wait_until(lambda: full_strength(engine), timeout=5)
    finals = collections.Counter(event.job_id for event in events if isinstance(event, JobFinished))
    assert set(finals) == set(summaries) and set(finals.values()) == {1}
    for kind, job in jobs:
        summary = summaries[job.id]
        assert summary.status.is_final
        assert summary.done + summary.failed + summary.cancelled == summary.total
        if job.id not in touched:
            assert summary.status is JobState.DONE
            assert summary.results == expected[kind]
        else:
            assert summary.failed == 0
            finished = [r for r in summary.results if r is not None]
            assert len(finished) == summary.done
            assert all(r is None or r == e for r, e in zip(summary.results, expected[kind], strict=True))
