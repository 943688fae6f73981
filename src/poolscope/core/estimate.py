"""A running job's rate and time left, from what its tasks have done so far. Qt-free.

Both count from the job's own start (its first task started, not its submission: time spent
queued behind other jobs says nothing about its speed), and both count the running tasks' share
of their work, not only the tasks that finished. For a job of long tasks that matters: between
two completions the tasks keep working, and a rate of completions alone drops, then jumps.

A running task's share is what it said through ``progress(done, total)`` when it did, else the
time it has run over the mean time of the job's finished tasks (at most just under one task:
a task running late has not finished). With ``work`` = finished tasks + running shares, over
``elapsed`` seconds since the job's start::

    rate = work / elapsed            eta = (tasks to run - work) / rate

For a uniform job on a steady pool this is exact up to the start-up of its first tasks; the
error at 10, 25 and 50% is measured in ``bench/bench_truth.py``. It is an average since the
job's start: when the job's share of the workers grows (a pool still starting its workers,
another job ending), the ETA is high at first and comes down as the new pace takes over.

Both are measured at the time of the data (``as_of``: when the counts and running chunks were
last known to be as given), not at the time of showing them: a view a quarter of a second old,
read as if it were current, has the job's elapsed time grow while its work stands still, and
the rate comes out low and the time left high. From ``as_of`` to ``now`` the time left counts
down.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from poolscope.core.events import RunningChunk

__all__ = ["Estimate", "estimate", "running_work"]

#: A running task is credited with at most this share of itself from its time alone.
MAX_TIMED_SHARE = 0.95


@dataclass(frozen=True, slots=True)
class Estimate:
    rate: float  # tasks/s since the job's first task started, running tasks' shares counted
    eta: float | None  # seconds left; None when nothing has been done yet or the total is unknown


def running_work(now: float, running: Iterable[RunningChunk], seconds_per_task: float | None) -> float:
    """Tasks' worth of work the running chunks have done beyond the tasks they reported."""
    work = 0.0
    for chunk in running:
        left = chunk.size - chunk.reported
        if left <= 0:
            continue
        share = 0.0
        if seconds_per_task is not None and seconds_per_task > 0:
            # tasks it should have finished by now, less those it reported (reports come in batches)
            share = (now - chunk.started_at) / seconds_per_task - chunk.reported
        if chunk.task_progress is not None:
            share = max(share, chunk.task_progress) if left > 1 else chunk.task_progress
        work += min(max(0.0, share), left - 1 + MAX_TIMED_SHARE)
    return work


def estimate(now: float, *, started_at: float | None, total: int | None, finished: int, cancelled: int = 0,
             timed_seconds: float = 0.0, timed_tasks: int = 0, running: Iterable[RunningChunk] = (),
             as_of: float | None = None) -> Estimate:
    """The rate and time left of a job at ``now`` (``time.monotonic()``).

    ``as_of``: the time of the data (None: ``now``); the estimate is made then, and its time
    left counted down to ``now``.

    ``started_at``: when its first task started (None: not yet); ``finished``: its tasks done or
    failed; ``cancelled``: those it will not run; ``timed_seconds`` / ``timed_tasks``: the
    worker-seconds of its finished chunks and their tasks; ``running``: its chunks running now.
    """
    if started_at is None:
        return Estimate(0.0, None)
    shown_at = now
    now = now if as_of is None else min(now, as_of)
    elapsed = now - started_at
    running = tuple(running)
    per_task = timed_seconds / timed_tasks if timed_tasks > 0 and timed_seconds > 0 else None
    if per_task is None:
        # no chunk has ended yet, but one may have reported tasks (its end comes in a later
        # message): their time so far, at most, per task
        reported = sum(chunk.reported for chunk in running)
        if reported:
            per_task = sum(now - chunk.started_at for chunk in running if chunk.reported) / reported
    work = finished + running_work(now, running, per_task)
    if elapsed <= 0 or work <= 0:
        return Estimate(0.0, None)
    rate = work / elapsed
    if total is None:
        return Estimate(rate, None)
    return Estimate(rate, max(0.0, max(0.0, total - cancelled - work) / rate - (shown_at - now)))
