"""Saving a job's results from the main window: where to (asked), written by a thread that says
how far it got, and how it ended (the log and the status bar)."""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow

from poolscope.monitor.views import LogEntry

if TYPE_CHECKING:
    from poolscope.gui.models import LogModel
    from poolscope.gui.status_bar import StatusLine

    _WindowBase = QMainWindow
else:
    _WindowBase = object

#: A save of results pauses this long every thousand lines, so the main thread gets the GIL.
SAVE_PAUSE_SECONDS = 0.002
#: How often a long save says how far it got, in the status bar.
SAVE_PROGRESS_SECONDS = 0.5


class ResultsSaving(_WindowBase):
    """The main window's part that saves results (mixed into MainWindow)."""

    # (job id, path, how many results or the OSError): a save of results ended; from its thread
    results_saved = Signal(int, str, object)
    results_saving = Signal(int, int)  # (job id, results written so far): a save goes on; from its thread

    # What it uses of the window, made in MainWindow.__init__:
    jobs: dict[int, Any]  # job id -> engine Job handle
    settings: QSettings
    log_model: LogModel
    status: StatusLine

    def save_results(self, job_id: int, path: str | None = None) -> bool:
        """Write a job's finished results to ``path`` (asked for when None), in a thread.

        Returns whether a save started; ``results_saved`` says how it ended. A running job's
        results are those finished so far.
        """
        job = self.jobs.get(job_id)
        if job is None:
            return False
        if path is None:
            suggested = os.path.join(str(self.settings.value("results/folder", os.getcwd(), type=str)),
                                     f"{job.name}-{job_id}-results.jsonl")
            path, _ = QFileDialog.getSaveFileName(self, f"Save the results of job {job_id} ({job.name})",
                                                  suggested, "JSON Lines (*.jsonl);;All files (*)")
            if not path:
                return False
            self.settings.setValue("results/folder", os.path.dirname(path))
        self.status.say(f"Saving the results of job {job_id} to {path} ...")
        signal, saving = self.results_saved, self.results_saving
        told = [time.monotonic()]

        def pause(count: int) -> None:
            # Writing is Python work that holds the GIL: pause a little every thousand lines, or
            # the main thread waits for the GIL at each call into Qt and the window stalls.
            time.sleep(SAVE_PAUSE_SECONDS)
            if time.monotonic() - told[0] >= SAVE_PROGRESS_SECONDS:
                told[0] = time.monotonic()
                saving.emit(job_id, count)

        def save() -> None:
            outcome: Any
            try:
                outcome = job.save_results(path, progress=pause)
            except OSError as exc:
                outcome = exc
            try:
                signal.emit(job_id, path, outcome)
            except RuntimeError:  # the window is gone
                pass

        threading.Thread(target=save, name="poolscope-save-results", daemon=True).start()
        return True

    def _results_saving(self, job_id: int, count: int) -> None:
        self.status.say(f"Saving the results of job {job_id}: {count:,} so far ...")

    def _results_saved(self, job_id: int, path: str, outcome: Any) -> None:
        """A save ended (the window's, or the History view's): say how, in the log and the status bar."""
        if isinstance(outcome, OSError):
            message = f"Could not save the results of job {job_id} to {path}: {outcome.strerror or outcome}"
            self.log_model.append([LogEntry(time=time.time(), level="error", message=message, job_id=job_id)])
            self.status.say(f"✖ {message}")
            return
        noun = "result" if outcome == 1 else "results"
        message = f"Saved {outcome:,} {noun} of job {job_id} to {path}"
        self.log_model.append([LogEntry(time=time.time(), level="info", message=message, job_id=job_id)])
        self.status.say(message)
