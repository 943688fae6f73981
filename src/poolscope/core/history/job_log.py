"""What the history's writer knows of each recorded job between writes (its JobLog): the
engine's events folded into counts, state, a throughput curve in bins, notices, and the failure
and timeline rows still to insert.
"""

from __future__ import annotations

import json
from typing import Any

from poolscope.core.events import (
    ChunkRan,
    JobFinished,
    JobNotice,
    JobProgress,
    JobStateChanged,
    JobSubmitted,
    TaskFailed,
    TasksFinished,
)
from poolscope.core.history.database import NOTICES_KEPT, THROUGHPUT_BINS, THROUGHPUT_FIRST_BIN, TIMELINE_SLICES


class Throughput:
    """A job's finished tasks per time bin, at most THROUGHPUT_BINS bins: when a task would fall
    past the last, bins are merged in pairs (their width doubles)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.width = THROUGHPUT_FIRST_BIN
        self.counts: list[int] = []

    def add(self, at: float, count: int) -> None:
        position = max(0, int((at - self.start) / self.width))
        while position >= THROUGHPUT_BINS:
            self.counts = [sum(self.counts[i:i + 2]) for i in range(0, len(self.counts), 2)]
            self.width *= 2
            position = max(0, int((at - self.start) / self.width))
        if position >= len(self.counts):
            self.counts.extend([0] * (position + 1 - len(self.counts)))
        self.counts[position] += count

    def to_json(self) -> str:
        return json.dumps({"start": self.start, "bin": self.width, "counts": self.counts})


class JobLog:
    """What the writer knows of one recorded job between writes."""

    def __init__(self, row: int, submitted: float) -> None:
        self.row = row
        self.state = "pending"
        self.total: int | None = None
        self.done = self.failed = self.cancelled = 0
        self.first_task: float | None = None
        self.finished: float | None = None
        self.workers: int | None = None
        self.errors_omitted: dict[str, int] = {}
        self.throughput = Throughput(submitted)
        self.notices: list[str] = []
        self.failures: list[tuple[Any, ...]] = []  # rows to insert
        self.slices: list[tuple[Any, ...]] = []  # rows to insert
        self.slice_count = 0
        self.slices_dropped = 0
        self.dirty = True


def fold_events(batch: list[Any], jobs: dict[int, JobLog], offset: float, ended: list[JobLog]) -> None:
    """Fold a batch of events into the logs of the jobs they are about (engine job id -> log); a job
    that ended joins ``ended``. ``offset`` turns the engine's monotonic times into ``time.time()``."""
    for event in batch:
        log = jobs.get(getattr(event, "job_id", None))  # type: ignore[arg-type]
        if isinstance(event, TasksFinished) and log is not None:
            log.done += event.done
            log.failed += event.failed
            log.cancelled += event.cancelled
            if event.done or event.failed:
                log.throughput.add(event.time, event.done + event.failed)
            log.dirty = True
        elif log is None:
            continue
        elif isinstance(event, ChunkRan):
            if log.slice_count >= TIMELINE_SLICES:
                log.slices_dropped += 1
            else:
                log.slice_count += 1
                log.slices.append((event.pid, event.started_at + offset, event.ended_at + offset, event.start,
                                   event.start + event.size - 1))
        elif isinstance(event, JobProgress):
            if log.first_task is None:
                log.first_task = event.started_at + offset
                log.dirty = True
        elif isinstance(event, JobSubmitted):
            log.total = event.total
            log.dirty = True
        elif isinstance(event, JobStateChanged):
            log.state = event.state.value
            log.dirty = True
        elif isinstance(event, TaskFailed):
            error = event.error
            log.failures.append((error.index, error.type, error.message, error.traceback, error.pid,
                                 error.input_repr))
        elif isinstance(event, JobNotice):
            if len(log.notices) < NOTICES_KEPT:
                log.notices.append(event.message)
                log.dirty = True
        elif isinstance(event, JobFinished):
            summary = event.summary
            log.state = summary.status.value
            log.done, log.failed, log.cancelled = summary.done, summary.failed, summary.cancelled
            log.total = summary.total
            log.workers = summary.workers
            log.errors_omitted = dict(summary.errors_omitted)
            log.finished = event.time
            if log.first_task is None and summary.done + summary.failed:
                log.first_task = event.time - summary.wall_seconds
            log.dirty = True
            ended.append(log)
