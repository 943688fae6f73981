"""The window's History dock: past jobs from the job history (core/history/), which records the
window's own jobs as they run."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from poolscope.gui.shortcuts import key_sequence, shortcut

HISTORY_DOCK_MIN = 180  # px: the dock's first height at least (a third of the window)


class HistoryDock(QDockWidget):
    """The History view in a dock at the bottom of ``window``, hidden until asked for (its
    :meth:`toggleViewAction`, View > History). Opening it prunes jobs older than the history's
    retention; with recording wanted, ``recorder`` records ``engine``'s jobs (None otherwise)."""

    def __init__(self, window: QMainWindow, engine: Any) -> None:
        # Imported here: the history (SQLite) and its view are not needed to open the window's module.
        from poolscope.core.history import History, Recorder, recording_wanted
        from poolscope.gui.widgets.history_view import HistoryView

        super().__init__("History", window)
        self._window = window  # the main window the dock belongs to
        self.history = History()
        days = self.history.retention_days
        if days and self.history.writable:
            self.history.prune(days)
        self.view = HistoryView(self.history)
        self.recorder: Any = None  # the Recorder of engine's jobs; the window closes it after the engine's last events
        if recording_wanted() and callable(getattr(engine, "subscribe", None)):  # a real engine (not a stand-in)
            self.recorder = Recorder(self.history, engine, "window", on_message=self.view.notice.emit,
                                     on_job_ended=self.view.job_recorded.emit)
        self.setObjectName("history_dock")
        self.setWidget(self.view)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self)
        self.hide()
        self._sized = False  # the dock's first height is set when it is first shown
        self.visibilityChanged.connect(self._size_first)
        toggle = self.toggleViewAction()  # shown and hidden with the dock: its key from the one table
        toggle.setObjectName("show_history")
        toggle.setText(shortcut("show_history").text)
        toggle.setShortcut(key_sequence("show_history"))

    def _size_first(self, visible: bool) -> None:
        """Shown the first time: a third of the window (its own size hint took most of it and
        squeezed the graphs to a strip); the user's own height stands after that."""
        if visible and not self._sized:
            self._sized = True
            self._window.resizeDocks([self], [max(HISTORY_DOCK_MIN, self._window.height() // 3)],
                                     Qt.Orientation.Vertical)
