"""The engine's events, batched and handed to every reader: the ``events`` queue (the window's
bridge, ``poolscope run``) and each ``Engine.subscribe`` callback (history, a window a script
reports to), the same batch to each, at most every PUBLISH_INTERVAL.

Engine thread only, but ``subscribe`` (any thread, under ``_lock``). Nothing is gathered while
nobody reads. DESIGN.md, "Data flow", draws where the batches go.
"""

from __future__ import annotations

import collections
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from poolscope.core.events import JobProgress, RunningChunk, TasksFinished, WorkerActivity
from poolscope.core.job_record import JobRecord, describe

if TYPE_CHECKING:
    from poolscope.core.slots import WorkerSlot

PUBLISH_INTERVAL = 0.1  # seconds between event batches (the window takes 4 updates a second)


class Publisher:
    """Gathers events on the engine thread and publishes them in batches."""

    def __init__(self, queue: Any | None) -> None:
        # Event lists for the consumer (a multiprocessing.Queue, or None): written by the engine
        # thread; its feeder thread pickles them.
        self.queue = queue
        self._lock = threading.Lock()
        # Readers of every batch beside the queue: replaced whole under _lock by subscribe(), read
        # by the engine thread.
        self._subscribers: tuple[Callable[[list[Any]], None], ...] = ()
        self._pending: list[Any] = []  # events since the last batch
        self._activity: dict[int, WorkerActivity] = {}  # pid -> latest activity since the last batch
        self._progressed: set[JobRecord] = set()  # jobs whose chunks started, reported or ended since
        self._last_publish = 0.0

    def subscribe(self, callback: Callable[[list[Any]], None]) -> Callable[[], None]:
        """Add a reader of every batch published from now on; returns the function that removes it."""
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            self._remove(callback)

        return unsubscribe

    def _remove(self, callback: Callable[[list[Any]], None]) -> None:
        with self._lock:
            self._subscribers = tuple(other for other in self._subscribers if other is not callback)

    @property
    def publishing(self) -> bool:
        """Whether anyone reads the events (the queue, or a subscriber)."""
        return self.queue is not None or bool(self._subscribers)

    # -- gathering (engine thread) -----------------------------------------------------------------
    def emit(self, event: Any) -> None:
        if self.publishing:
            self._pending.append(event)

    def note_activity(self, worker: WorkerSlot, job_id: int | None, index: int | None) -> None:
        """What the worker does now (the latest of each worker goes in the next batch)."""
        if self.publishing:
            self._activity[worker.pid] = WorkerActivity(worker.pid, job_id, index, worker.task_progress,
                                                        worker.tasks_done, time.time())

    def forget_worker(self, pid: int) -> None:
        self._activity.pop(pid, None)

    def note_progress(self, record: JobRecord) -> None:
        """The job's chunks started, reported or ended: its JobProgress goes in the next batch."""
        if self.publishing:
            self._progressed.add(record)

    def has_pending(self, records: Iterable[JobRecord]) -> bool:
        return bool(self._pending or self._activity or any(any(record.unpublished) for record in records))

    def next_due(self) -> float:
        """The monotonic time the next batch is due."""
        return self._last_publish + PUBLISH_INTERVAL

    # -- publishing (engine thread) ----------------------------------------------------------------
    def publish_counts(self, records: Iterable[JobRecord], workers: Sequence[WorkerSlot]) -> None:
        """TasksFinished for the jobs whose counts changed, then JobProgress for those whose chunks did."""
        now = time.time()
        for record in records:
            done, failed, cancelled = record.unpublished
            if done or failed or cancelled:
                self.emit(TasksFinished(record.id, done, failed, cancelled, now))
                record.unpublished = [0, 0, 0]
        if not self._progressed:
            return
        running: dict[int, list[RunningChunk]] = collections.defaultdict(list)
        for worker in workers:
            head = worker.outstanding[0] if worker.outstanding else None
            if head is not None and head.started_at is not None and head.job in self._progressed:
                running[head.job.id].append(RunningChunk(head.started_at, len(head.inputs), head.reported,
                                                         worker.task_progress))
        mono = time.monotonic()
        for record in self._progressed:
            if record.first_task_at is not None:
                self.emit(JobProgress(record.id, record.first_task_at, record.timed_seconds, record.timed_tasks,
                                      tuple(running.get(record.id, ())), mono))
        self._progressed.clear()

    def publish(self, records: Sequence[JobRecord], workers: Sequence[WorkerSlot], *, force: bool = False) -> None:
        """Hand the events gathered to every reader, if a batch is due (or ``force``)."""
        if not self.publishing:
            for record in records:
                record.unpublished = [0, 0, 0]
            self._progressed.clear()
            return
        now = time.monotonic()
        if not force and now - self._last_publish < PUBLISH_INTERVAL:
            return
        self.publish_counts(records, workers)
        if self._activity:
            self._pending.extend(self._activity.values())
            self._activity.clear()
        if self._pending:
            batch, self._pending = self._pending, []
            if self.queue is not None:
                self.queue.put(batch)
            for subscriber in self._subscribers:
                try:
                    subscriber(batch)
                except BaseException as exc:  # noqa: BLE001 - a reader's fault must not end the engine
                    self._remove(subscriber)
                    warnings.warn(f"an event subscriber raised {describe(exc)} and was dropped", RuntimeWarning,
                                  stacklevel=1)
        self._last_publish = now
