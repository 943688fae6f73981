"""The question the window asks when it is closed while jobs run: cancel them, terminate them, or
keep running."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

#: How the window quits while jobs run: ask them to stop, or kill them.
QUIT_CANCEL = "cancel"
QUIT_TERMINATE = "terminate"
#: How often the quit question recounts the running jobs while it is open (ms).
QUIT_QUESTION_REFRESH_MS = 200


def still_running_text(running: int) -> str:
    """The quit question's text for ``running`` jobs not yet final."""
    if running == 0:
        return "No job is running any more."
    return f"{running} {'job is' if running == 1 else 'jobs are'} still running."


def ask_how_to_quit(parent: QWidget, running: int, count_running: Callable[[], int]) -> str | None:
    """Ask whether to cancel or terminate the running jobs: QUIT_CANCEL, QUIT_TERMINATE, or None
    (do not quit).

    ``running`` is the count when asked; while the question is open its text follows
    ``count_running()`` (every QUIT_QUESTION_REFRESH_MS), so a job that ends meanwhile is no
    longer counted. If all of them end, it says so, and either quit choice still quits.
    """
    box = QMessageBox(parent)
    box.setObjectName("quit_question")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Quit poolscope")
    box.setText(still_running_text(running))
    box.setInformativeText("Cancel lets running tasks stop cleanly (a few seconds at most); "
                           "Terminate kills them at once.")
    cancel = box.addButton("Cancel jobs and quit", QMessageBox.ButtonRole.AcceptRole)
    terminate = box.addButton("Terminate jobs and quit", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(cancel)

    def recount_running() -> None:
        text = still_running_text(count_running())
        if text != box.text():
            box.setText(text)

    recount = QTimer(box)  # the count in the text, kept live while the question is open
    recount.setInterval(QUIT_QUESTION_REFRESH_MS)
    recount.timeout.connect(recount_running)
    recount.start()
    try:
        box.exec()
    finally:
        recount.stop()
    clicked = box.clickedButton()
    box.deleteLater()
    if clicked is cancel:
        return QUIT_CANCEL
    if clicked is terminate:
        return QUIT_TERMINATE
    return None
