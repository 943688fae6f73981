"""Jobs sharing the pool get its workers' time in equal shares, whatever the length of their tasks
(Engine._take_turn, core.engine.choose_fairly)."""

from __future__ import annotations

import heapq
import time
from pathlib import Path

import pytest

from poolscope.core.engine import Engine, JobRecord, choose_fairly
from poolscope.core.jobs import JobSpec, JobState

TIMED = Path(__file__).resolve().parent.parent / "helpers" / "timed_tasks.py"


def record(job_id: int, *, seconds: float = 0.0, offset: float | None = 0.0, chunks_out: int = 0) -> JobRecord:
    job = JobRecord(job_id, JobSpec.create("noop", "range:10"), None)
    job.timed_seconds = seconds
    job.fair_offset = offset
    job.chunks_out = chunks_out
    return job


def test_the_job_with_the_least_worker_time_gets_the_free_worker():
    a, b = record(1, seconds=12.0), record(2, seconds=3.0)
    assert choose_fairly([a, b], [a, b], {}) is b
    assert choose_fairly([a, b], [a, b], {2: 9.5}) is a  # its chunk running for 9.5 s counts as it runs


def test_ties_go_to_the_job_with_fewer_chunks_out_then_to_the_older():
    a, b = record(1, chunks_out=1), record(2)
    assert choose_fairly([a, b], [a, b], {}) is b
    b.chunks_out = 1
    assert choose_fairly([a, b], [a, b], {}) is a


def test_a_job_joining_shares_from_then_on_rather_than_catching_up():
    """A job that ran alone for 100 worker-seconds is not held back 100 s when another arrives."""
    old = record(1, seconds=100.0, chunks_out=2)
    new = record(2, offset=None)
    assert choose_fairly([old, new], [old], {1: 1.0}) is new  # joins level with the old one; fewer chunks out
    assert new.fair_offset == pytest.approx(101.0)
    new.chunks_out = 1
    assert choose_fairly([old, new], [old, new], {1: 1.0, 2: 0.5}) is old  # and now the old one's turn comes


def simulate(task_seconds: dict[int, float], *, workers: int, until: float) -> dict[int, float]:
    """Run jobs of equal tasks on ``workers`` workers, each free worker taking choose_fairly's pick;
    return each job's worker-seconds by ``until``."""
    jobs = {job_id: record(job_id, offset=None) for job_id in task_seconds}
    accounted: list[JobRecord] = []
    running: dict[int, tuple[int, float]] = {}  # worker -> (job id, start)
    free = [(0.0, worker) for worker in range(workers)]
    used = dict.fromkeys(task_seconds, 0.0)
    while free:
        now, worker = heapq.heappop(free)
        if worker in running:
            job_id, start = running.pop(worker)
            jobs[job_id].timed_seconds += now - start
            jobs[job_id].chunks_out -= 1
        if now >= until:
            continue
        in_flight: dict[int, float] = {}
        for job_id, start in running.values():
            in_flight[job_id] = in_flight.get(job_id, 0.0) + now - start
        chosen = choose_fairly(list(jobs.values()), accounted, in_flight)
        if chosen not in accounted:
            accounted.append(chosen)
        chosen.chunks_out += 1
        running[worker] = (chosen.id, now)
        used[chosen.id] += min(until, now + task_seconds[chosen.id]) - now
        heapq.heappush(free, (now + task_seconds[chosen.id], worker))
    return used


@pytest.mark.parametrize("workers", [2, 3, 8])
def test_tasks_of_5_s_and_of_50_ms_share_the_workers_equally(workers):
    used = simulate({1: 5.0, 2: 0.05}, workers=workers, until=30.0)
    share = workers * 30.0 / 2
    for seconds in used.values():
        assert seconds == pytest.approx(share, rel=0.2), used


def test_three_jobs_get_a_third_each():
    used = simulate({1: 2.0, 2: 0.3, 3: 0.01}, workers=4, until=30.0)
    for seconds in used.values():
        assert seconds == pytest.approx(4 * 30.0 / 3, rel=0.2), used


def overlap(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in intervals)


@pytest.mark.timeout(90)
def test_a_job_of_2_s_tasks_beside_one_of_20_ms_tasks_each_get_half_the_workers_over_10_s():
    """Measured by the tasks themselves (when each ran): with round-robin by chunk, the job of
    long tasks held both workers most of the time (primes reached 1 of 200 in 12 s beside 5 s tasks)."""
    with Engine(workers=2, nice=0) as engine:
        long = engine.submit(JobSpec.create(f"{TIMED}:timed_sleep", "range:9", kwargs={"seconds": 2.0}))
        short = engine.submit(JobSpec.create(f"{TIMED}:timed_sleep", "range:3000", kwargs={"seconds": 0.02}))
        while short.summary().done == 0 or long.state is JobState.PENDING:  # both under way
            time.sleep(0.05)
        time.sleep(12.0)
        cancelled_at = time.monotonic()
        engine.cancel(short)
        long_summary, short_summary = long.wait(60), short.wait(60)
    assert long_summary.status is JobState.DONE, long_summary.errors
    long_runs = [result for result in long_summary.results if result is not None]
    short_runs = [result for result in short_summary.results if result is not None]
    start = max(min(a for a, _ in long_runs), min(a for a, _ in short_runs)) + 0.5  # both under way
    end = start + 10.0
    assert end <= cancelled_at, "the short job was cancelled before the window ended"
    shares = {"long": overlap(long_runs, start, end), "short": overlap(short_runs, start, end)}
    busy = sum(shares.values())
    assert busy > 2 * 10.0 * 0.8, shares  # the pool was kept busy
    for seconds in shares.values():
        assert seconds == pytest.approx(busy / 2, rel=0.2), shares
