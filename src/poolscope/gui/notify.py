"""Telling the user that a job ended while the window was not in front.

Where the desktop has a system tray, a tray message says it (the tray icon shows only while
there is news). Elsewhere the window's title counts the jobs that ended unseen ("(2 ended)") and
the status bar names the last one, until the window comes to the front again. A job that ends
while the window is in front needs nothing: its row says it.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QMainWindow, QSystemTrayIcon

from poolscope.gui.app import application_icon
from poolscope.gui.models import format_duration
from poolscope.monitor.views import JobView

__all__ = ["JobEndNotifier", "ended_text"]

#: How long a tray message stays (ms).
TRAY_MESSAGE_MS = 10_000


def ended_text(view: JobView) -> str:
    """A line for a job that ended: "Job 3 'primes' done in 1:05: 3,000 done, 2 failed"."""
    took = format_duration(view.running_seconds(view.finished_at)) if view.finished_at is not None else ""
    counts = [f"{view.done:,} done"] + [f"{count:,} {name}" for count, name in ((view.failed, "failed"),
                                                                                (view.cancelled, "cancelled")) if count]
    of = f" of {view.source}" if view.source else ""  # a script's job: its own id, and whose it is
    return (f"Job {view.shown_id}{of} '{view.name}' {view.state.value}" + (f" in {took}" if took else "")
            + ": " + ", ".join(counts))


class JobEndNotifier:
    """Watches the jobs' views as the window takes them; says when one ends while the window is not in front."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self._final: set[int] = set()  # ids of the jobs seen final (each is told once)
        self.unseen: list[str] = []  # what ended while the window was not in front, since it last was
        self.tray: QSystemTrayIcon | None = None  # made on the first message, where a tray exists
        self.last_message = ""  # the last thing told (tests)

    @staticmethod
    def tray_available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def in_front(self) -> bool:
        return self.window.isActiveWindow() and not self.window.isMinimized()

    def jobs_changed(self, views: Iterable[JobView]) -> None:
        """Take an update's changed job views: tell of each job that has just ended, if the window is not in front."""
        ended = [view for view in views if view.state.is_final and view.job_id not in self._final]
        if not ended:
            return
        self._final.update(view.job_id for view in ended)
        if self.in_front():
            return
        lines = [ended_text(view) for view in ended]
        self.unseen += lines
        self.last_message = "\n".join(lines)
        if self.tray_available():
            self._tray_message(lines)
        else:
            self.window.statusBar().showMessage(lines[-1] + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""))

    def _tray_message(self, lines: list[str]) -> None:
        if self.tray is None:
            self.tray = QSystemTrayIcon(application_icon(), self.window)
            self.tray.setToolTip("poolscope")
            self.tray.activated.connect(lambda _reason: self._bring_to_front())
            self.tray.messageClicked.connect(self._bring_to_front)
        self.tray.show()
        title = "A poolscope job ended" if len(lines) == 1 else f"{len(lines)} poolscope jobs ended"
        self.tray.showMessage(title, "\n".join(lines), QSystemTrayIcon.MessageIcon.Information, TRAY_MESSAGE_MS)

    def _bring_to_front(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def title_prefix(self) -> str:
        """What the window's title starts with: the jobs that ended unseen, when there is no tray to say it."""
        if not self.unseen or self.tray is not None:
            return ""
        return f"({len(self.unseen)} ended) "

    def came_to_front(self) -> bool:
        """The window is in front again: what ended is seen. Returns whether the title must change."""
        if not self.unseen:
            return False
        self.unseen = []
        if self.tray is not None:
            self.tray.hide()
            return False
        return True
