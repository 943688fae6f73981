"""The main window's status bar: what runs the jobs (workers, cores, Dask), the events per second
while jobs run, and passing messages."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import QLabel, QStatusBar

#: How long a message (a notice from the engine, a save's outcome) stays in the status bar (ms).
NOTICE_MS = 20_000
#: How often the events/s figure is recounted while jobs run (seconds).
EVENTS_STATUS_SECONDS = 1.0


class StatusLine:
    """The status bar's two figures and its messages (GUI thread only)."""

    def __init__(self, bar: QStatusBar, *, workers: int, nice: int | None) -> None:
        self.bar = bar
        self.workers_label = QLabel()  # the pool's workers and the machine's cores (and Dask's)
        self.workers_label.setObjectName("status_workers")
        self.events_label = QLabel()  # events/s while jobs run
        bar.addWidget(self.workers_label)
        bar.addPermanentWidget(self.events_label)
        self._workers = workers
        self._nice = nice
        self.events_seen = 0  # events the window's updates carried (BridgeUpdate.events); the window adds them
        self._events_at = (time.monotonic(), 0)  # (when, events_seen then): the events/s count from there

    def show_workers(self, cores: int, dask_workers: Sequence[Any], dask_scheduler: str | None) -> None:
        """Say what runs the jobs: the pool, the cores, and Dask's workers (WorkerViews) or address."""
        nice_text = f", nice {self._nice}" if self._nice is not None else ""
        processes = "worker process" if self._workers == 1 else "worker processes"
        text = f"{self._workers} {processes}{nice_text} · {cores} logical cores"
        if dask_workers:
            threads = sum(view.nthreads for view in dask_workers)
            where = "local cluster" if dask_scheduler is None else dask_scheduler
            text += (f" · Dask: {len(dask_workers)} worker{'s' if len(dask_workers) != 1 else ''}, "
                     f"{threads} thread{'s' if threads != 1 else ''} ({where})")
        elif dask_scheduler:
            text += f" · Dask: {dask_scheduler}"
        self.workers_label.setText(text)

    def count_events_from(self, now: float) -> None:
        """Count the events/s from ``now`` (jobs started running)."""
        self._events_at = (now, self.events_seen)

    def show_events_rate(self, now: float, updates: int) -> None:
        """Recount the events/s if EVENTS_STATUS_SECONDS have passed (``updates``: the bridge's so far)."""
        since, seen = self._events_at
        if now - since >= EVENTS_STATUS_SECONDS:
            rate = (self.events_seen - seen) / (now - since)
            self.events_label.setText(f"{rate:,.0f} events/s · {updates:,} updates")
            self._events_at = (now, self.events_seen)

    def clear_events_rate(self) -> None:
        self.events_label.setText("")

    def say(self, message: str) -> None:
        """Show ``message`` for NOTICE_MS."""
        self.bar.showMessage(message, NOTICE_MS)

    def clear(self) -> None:
        self.bar.clearMessage()
