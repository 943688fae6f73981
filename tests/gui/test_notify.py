"""A job that ends while the window is not in front is told: a tray message where there is a
tray, else the title and the status bar, until the window comes to the front. The title shows
the running jobs' overall progress."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QWidget

from poolscope.core.events import JobFinished, JobProgress, JobSubmitted, TasksFinished
from poolscope.core.jobs import JobState, JobSummary
from poolscope.gui.notify import JobEndNotifier
from poolscope.monitor.folder import EventFolder


def submitted(folder: EventFolder, job_id: int, done: int = 0):
    folder.fold([JobSubmitted(job_id, f"job{job_id}", "square", "range:0:100", 100, 0.0),
                 JobProgress(job_id, 0.25, 0.0, 0, (), 0.25), TasksFinished(job_id, done, 0, 0, 0.3)])
    return folder.take_changes()


def finished(folder: EventFolder, job_id: int, state: JobState = JobState.DONE, failed: int = 0):
    summary = JobSummary(job_id, f"job{job_id}", "square", "range:0:100", state, 100, 100 - failed, failed, 0, 1.5, 2)
    folder.fold([TasksFinished(job_id, 100 - failed, failed, 0, 1.0), JobFinished(job_id, summary, 1.5, ended_at=1.45)])
    return folder.take_changes()


def away(qtbot, window) -> QWidget:
    """Another window comes to the front."""
    other = QWidget()
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is other, timeout=3000)
    assert not window.notifier.in_front()
    return other


def quiet(window):
    window.show()
    window.bridge.stop()
    window.bridge.take_update()
    return EventFolder()


def test_without_a_tray_the_title_and_the_status_bar_say_which_jobs_ended(qtbot, fake_window, monkeypatch):
    window = fake_window
    monkeypatch.setattr(JobEndNotifier, "tray_available", staticmethod(lambda: False))
    folder = quiet(window)
    window.apply_update(submitted(folder, 1, done=25))
    window.apply_update(submitted(folder, 2, done=75))
    assert window.windowTitle() == "poolscope · 2 jobs running · 50%"  # overall progress of the running jobs
    away(qtbot, window)
    window.apply_update(finished(folder, 1, JobState.FAILED, failed=3))
    assert window.windowTitle().startswith("(1 ended) poolscope · 1 job running")
    assert window.statusBar().currentMessage() == "Job 1 'job1' failed in 1.2 s: 97 done, 3 failed"
    window.apply_update(finished(folder, 2))
    assert window.windowTitle() == "(2 ended) poolscope"
    assert "Job 2 'job2' done" in window.statusBar().currentMessage()
    window.activateWindow()  # back in front: seen
    qtbot.waitUntil(lambda: window.windowTitle() == "poolscope", timeout=3000)
    assert window.notifier.unseen == []


def test_a_job_that_ends_with_the_window_in_front_is_not_told(qtbot, fake_window, monkeypatch):
    window = fake_window
    monkeypatch.setattr(JobEndNotifier, "tray_available", staticmethod(lambda: False))
    folder = quiet(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    window.apply_update(submitted(folder, 1))
    window.apply_update(finished(folder, 1))
    assert window.windowTitle() == "poolscope" and window.notifier.last_message == ""


def test_with_a_tray_a_tray_message_says_it(qtbot, fake_window, monkeypatch):
    window = fake_window
    monkeypatch.setattr(JobEndNotifier, "tray_available", staticmethod(lambda: True))
    folder = quiet(window)
    window.apply_update(submitted(folder, 4))
    away(qtbot, window)
    window.apply_update(finished(folder, 4))
    tray = window.notifier.tray
    assert tray is not None and tray.isVisible() and not tray.icon().isNull()
    assert window.notifier.last_message == "Job 4 'job4' done in 1.2 s: 100 done"
    assert window.windowTitle() == "poolscope"  # the tray said it: the title is left alone
    window.apply_update(finished(folder, 4))  # told once
    assert window.notifier.unseen == ["Job 4 'job4' done in 1.2 s: 100 done"]
    window.activateWindow()
    qtbot.waitUntil(lambda: not tray.isVisible(), timeout=3000)


def test_an_attached_scripts_job_is_told_by_its_own_id_and_its_script():
    """Seen in a window watching a script: "Job -1 'map(work)' done in 6.7 s" (the window's key for it)."""
    from poolscope.gui.notify import ended_text
    from poolscope.monitor.views import JobView

    view = JobView(job_id=-1, name="map(work)", target="t", inputs="range:600", total=600, submitted_at=0.0,
                   source="crunch.py (pid 4242)", source_job_id=1)
    view.state, view.done = JobState.DONE, 600
    assert ended_text(view).startswith("Job 1 of crunch.py (pid 4242) 'map(work)' done")
