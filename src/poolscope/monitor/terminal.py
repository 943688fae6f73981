"""Attached scripts' progress on a terminal: the reader ``poolscope watch --headless`` uses in
place of a window.

It listens as a window does (core/attach/listener.py AttachListener), in a private directory of its own
that it points :data:`~poolscope.core.attach.RUNTIME_DIR_ENV` at, so the scripts of this process
(and their children) report to it rather than to an open window; its thread folds what they send
into an :class:`~poolscope.monitor.folder.EventFolder` and writes the log's lines and one
progress line a job to stderr.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from typing import IO

from poolscope.core.attach import RUNTIME_DIR_ENV, AttachListener
from poolscope.monitor.folder import EventFolder
from poolscope.monitor.status_line import StatusLine
from poolscope.monitor.views import JobView

__all__ = ["TerminalProgress"]


class TerminalProgress:
    """``start()`` before the script runs, ``stop()`` after: then every job's end is written."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stderr
        self.status = StatusLine(self.out)  # one progress line for the running jobs, the log above it
        self._directory = tempfile.mkdtemp(prefix="poolscope-watch-")  # 0700, this process's own
        self.listener = AttachListener(os.path.join(self._directory, "poolscope"))
        self.folder = EventFolder()  # touched by the printer thread only (and by stop() once it ended)
        self._previous_env: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.listener.start()
        self._previous_env = os.environ.get(RUNTIME_DIR_ENV)
        os.environ[RUNTIME_DIR_ENV] = self.listener.directory
        self._thread = threading.Thread(target=self._run, name="poolscope-watch-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Fold what is left, write every job's outcome, stop listening and tidy up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._previous_env is None:
            os.environ.pop(RUNTIME_DIR_ENV, None)
        else:
            os.environ[RUNTIME_DIR_ENV] = self._previous_env
        self.listener.stop()
        self._fold_waiting()  # what the listener's threads handed on as they ended
        self._write_log()
        self.status.clear()
        shutil.rmtree(self._directory, ignore_errors=True)

    def _run(self) -> None:
        next_progress = time.monotonic() + self.status.interval
        while not self._stop.is_set():
            try:
                self.folder.fold_attached(self.listener.incoming.get(timeout=0.1))
            except queue.Empty:
                pass
            self._fold_waiting()
            self._write_log()
            if time.monotonic() >= next_progress:
                self._progress()
                next_progress = time.monotonic() + self.status.interval
        self._fold_waiting()

    def _fold_waiting(self) -> None:
        while True:
            try:
                item = self.listener.incoming.get_nowait()
            except queue.Empty:
                return
            self.folder.fold_attached(item)

    def _write_log(self) -> None:
        for entry in self.folder.take_changes().log:
            self.status.say(entry.message)

    def _progress(self) -> None:
        running = [view for view in self.folder.jobs.values() if not view.state.is_final]
        if not running:
            return
        self.status.show("  ".join(progress_text(view, time.monotonic()) for view in running))


def progress_text(view: JobView, now: float) -> str:
    """"sleep 12/40 30% 8.1/s": a job's progress in a few words."""
    total = "?" if view.total is None else f"{view.total:,}"
    percent = f" {view.percent}%" if view.percent is not None else ""
    rate = view.estimate(now).rate
    return f"{view.name} {view.done + view.failed:,}/{total}{percent} {rate:,.1f}/s"
