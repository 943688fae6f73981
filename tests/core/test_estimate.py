"""A running job's rate and time left (core/estimate.py), on simulated uniform jobs whose true
time left is known: no process, no clock."""

from __future__ import annotations

import pytest

from poolscope.core.estimate import estimate
from poolscope.core.events import RunningChunk


def uniform_job(now: float, *, tasks: int, seconds: float, workers: int, start: float = 100.0,
                report_progress: bool = False) -> dict:
    """What the engine reports at ``now`` about a job of equal tasks, one task a chunk, run by
    ``workers`` workers from ``start`` (each takes the next task as soon as it is free)."""
    elapsed = now - start
    rounds = int(elapsed // seconds)
    finished = min(tasks, rounds * workers)
    running = []
    started_this_round = min(workers, tasks - finished)
    into = elapsed - rounds * seconds
    for _ in range(started_this_round):
        progress = into / seconds if report_progress else None
        running.append(RunningChunk(started_at=start + rounds * seconds, size=1, reported=0, task_progress=progress))
    return {"started_at": start, "total": tasks, "finished": finished, "timed_seconds": finished * seconds,
            "timed_tasks": finished, "running": tuple(running)}


def true_time_left(now: float, *, tasks: int, seconds: float, workers: int, start: float = 100.0) -> float:
    rounds = -(-tasks // workers)
    return start + rounds * seconds - now


@pytest.mark.parametrize("seconds", [0.25, 3.0])
@pytest.mark.parametrize("report_progress", [False, True])
def test_the_time_left_of_a_uniform_job_is_within_20_percent_from_10_percent_on(seconds, report_progress):
    """40 equal tasks on 2 workers: the ETA was +660% at 10% for 0.25 s tasks (rated over a window
    that began before the job did) and blank half the time for 3 s tasks (no task finished in the
    window). Checked every 10th of a task from 10% to the last round."""
    tasks, workers, start = 40, 2, 100.0
    end = start + tasks // workers * seconds
    now = start + seconds * 0.01
    checked = 0
    while now < end - seconds:
        facts = uniform_job(now, tasks=tasks, seconds=seconds, workers=workers, report_progress=report_progress)
        result = estimate(now, **facts)
        if facts["finished"] >= 1:
            assert result.eta is not None  # never blank once a task has finished
            assert result.rate > 0
        if facts["finished"] >= tasks // 10:
            truth = true_time_left(now, tasks=tasks, seconds=seconds, workers=workers)
            assert result.eta == pytest.approx(truth, rel=0.2), (now - start, facts["finished"])
            checked += 1
        now += seconds / 10
    assert checked > 50


def test_rate_counts_from_the_first_task_not_from_submission():
    """A job queued 30 s behind another runs at its own speed from its first task on."""
    result = estimate(140.0, started_at=130.0, total=100, finished=20, timed_seconds=20.0, timed_tasks=20)
    assert result.rate == pytest.approx(2.0)
    assert result.eta == pytest.approx(40.0)


def test_nothing_to_say_before_the_first_task_starts_or_does_anything():
    assert estimate(10.0, started_at=None, total=10, finished=0).eta is None
    assert estimate(10.0, started_at=9.0, total=10, finished=0).eta is None  # running, nothing measured yet
    # a task that reports its progress speaks before it finishes
    half = RunningChunk(started_at=9.0, size=1, reported=0, task_progress=0.5)
    assert estimate(10.0, started_at=9.0, total=10, finished=0, running=(half,)).eta == pytest.approx(19.0)


def test_cancelled_tasks_are_not_waited_for_and_a_late_task_is_never_counted_finished():
    result = estimate(20.0, started_at=10.0, total=40, finished=10, cancelled=20, timed_seconds=10.0, timed_tasks=10)
    assert result.eta == pytest.approx(10.0)  # 10 left at 1/s
    late = RunningChunk(started_at=10.0, size=1, reported=0, task_progress=None)  # 10 s into a 1 s task
    with_late = estimate(20.0, started_at=10.0, total=12, finished=10, timed_seconds=10.0, timed_tasks=10,
                         running=(late,))
    assert with_late.eta is not None and with_late.eta > 0


def test_a_chunk_of_many_short_tasks_counts_what_it_did_since_its_last_report():
    chunk = RunningChunk(started_at=10.0, size=100, reported=40, task_progress=None)
    # 0.01 s a task: 50 done by 10.5, 40 reported
    result = estimate(10.5, started_at=10.0, total=1000, finished=40, timed_seconds=1.0, timed_tasks=100,
                      running=(chunk,))
    assert result.rate == pytest.approx(100.0)
    assert result.eta == pytest.approx(9.5)


def test_a_task_reported_before_its_chunk_ended_times_the_job_at_once():
    """The first result can come in a report of its own, before the chunk's end: the job then had
    a task finished and none timed, and its ETA read 18 s against 8 s left (10 x 2 s, 2 workers)."""
    reported = RunningChunk(started_at=0.0, size=1, reported=1, task_progress=None)
    other = RunningChunk(started_at=0.0, size=1, reported=0, task_progress=None)
    result = estimate(2.0, started_at=0.0, total=10, finished=1, running=(reported, other))
    assert result.eta == pytest.approx(8.0, rel=0.2)
