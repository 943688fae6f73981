"""The log pane's filters (job, level, text) and its export as text, whole or as filtered."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from poolscope.gui.models import LogModel
from poolscope.gui.widgets.log_view import LogView
from poolscope.monitor.log_text import entry_matches, entry_text, log_text
from poolscope.monitor.views import LogEntry

TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 3, in f\nZeroDivisionError: division by zero'


def entries() -> list[LogEntry]:
    t = time.time()
    return [
        LogEntry(t, "info", "Job 1 'primes' submitted", job_id=1),
        LogEntry(t, "info", "Job 2 'pi' submitted", job_id=2),
        LogEntry(t, "error", "Job 1 'primes': task 3 failed: ZeroDivisionError: division by zero",
                 detail="Job 1 'primes': task 3 failed: ZeroDivisionError: division by zero\ninput: 3\n\n" + TRACEBACK,
                 job_id=1),
        LogEntry(t, "warning", "Worker 123 (slot 0) exited: crashed (SIGKILL)", job_id=2),
        LogEntry(t, "info", "Thread 99 started in slot 1"),
        LogEntry(t, "info", "Job 2 'pi' done in 1.00 s", job_id=2),
    ]


def make_view(qtbot) -> LogView:
    model = LogModel()
    view = LogView(model)
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.show()
    view.append(entries())
    return view


def shown(view: LogView) -> list[str]:
    return [entry.message for entry in view.shown.entries()]


def test_filter_by_job_level_and_text(qtbot):
    view = make_view(qtbot)
    assert len(shown(view)) == 6 and not view.shown.active
    assert [view.job_filter.itemText(i) for i in range(view.job_filter.count())] == ["All jobs", "Job 1", "Job 2"]
    view.job_filter.setCurrentIndex(view.job_filter.findData(2))
    assert shown(view) == ["Job 2 'pi' submitted", "Worker 123 (slot 0) exited: crashed (SIGKILL)",
                           "Job 2 'pi' done in 1.00 s"]
    view.level_filter.setCurrentIndex(view.level_filter.findData("warning"))
    assert shown(view) == ["Worker 123 (slot 0) exited: crashed (SIGKILL)"]
    view.set_filters(least_level="error")
    assert [entry.job_id for entry in view.shown.entries()] == [1]
    view.set_filters()
    qtbot.keyClicks(view.search, "zerodivision")  # any case, in the message
    assert len(shown(view)) == 1 and view.list.model().rowCount() == 1
    view.search.clear()
    qtbot.keyClicks(view.search, 'File "x.py"')  # in the traceback only
    assert shown(view) == [entries()[2].message]
    view.search.clear()
    assert len(shown(view)) == 6


def test_lines_that_come_while_filtered_are_filtered_and_new_jobs_are_offered(qtbot):
    view = make_view(qtbot)
    view.set_filters(job_id=1)
    view.append([LogEntry(time.time(), "info", "Job 3 'noop' submitted", job_id=3),
                 LogEntry(time.time(), "info", "Job 1 'primes' done", job_id=1)])
    assert shown(view)[-1] == "Job 1 'primes' done" and len(shown(view)) == 3
    assert view.job_filter.findData(3) == 3  # offered, in order


def test_selection_and_clicks_go_through_the_filter(qtbot):
    view = make_view(qtbot)
    view.set_filters(least_level="error")
    clicked = []
    view.job_clicked.connect(clicked.append)
    index = view.list.model().index(0, 0)
    view.list.setCurrentIndex(index)
    assert [entry.message for entry in view.selected_entries()] == [entries()[2].message]  # the filter's row 0
    assert TRACEBACK in view.detail.toPlainText()
    rect = view.list.visualRect(index)
    qtbot.mouseClick(view.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert clicked == [1]


def test_ctrl_f_goes_to_the_search(qtbot):
    view = make_view(qtbot)
    view.activateWindow()
    view.list.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view.list, timeout=3000)
    qtbot.keyClick(view.list, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is view.search


def test_export_the_whole_log_or_the_lines_shown(qtbot, tmp_path):
    view = make_view(qtbot)
    whole = tmp_path / "whole.txt"
    assert view.export_text(str(whole), filtered=True) == 6  # no filter: what is shown is the whole log
    text = whole.read_text(encoding="utf-8")
    assert text == log_text(view.model.entries())
    lines = text.splitlines()
    assert lines[0].endswith("info     Job 1 'primes' submitted")
    # a failure: its line, then what its detail adds (input, traceback) indented under it
    at = next(n for n, line in enumerate(lines) if "task 3 failed" in line)
    assert lines[at + 1] == "    input: 3" and "    ZeroDivisionError: division by zero" in lines
    view.set_filters(job_id=2)
    filtered = tmp_path / "filtered.txt"
    assert view.export_text(str(filtered), filtered=True) == 3
    assert filtered.read_text(encoding="utf-8") == "".join(entry_text(entry) + "\n" for entry in view.shown.entries())
    assert view.export_text(str(tmp_path / "all.txt"), filtered=False) == 6
    assert (tmp_path / "all.txt").read_text(encoding="utf-8") == text


def test_entry_matches():
    error, warning, info = entries()[2], entries()[3], entries()[0]
    assert entry_matches(error, least_level="error") and not entry_matches(warning, least_level="error")
    assert entry_matches(warning, least_level="warning") and not entry_matches(info, least_level="warning")
    assert entry_matches(error, job_id=1, text="DIVISION") and not entry_matches(error, job_id=2)
    assert not entry_matches(entries()[4], job_id=1)  # a line of no job is not any job's


def test_export_from_the_menu_asks_which_lines_when_filtered(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from poolscope.gui.widgets import log_view

    view = make_view(qtbot)
    path = tmp_path / "log.txt"
    monkeypatch.setattr(log_view.QFileDialog, "getSaveFileName", lambda *args: (str(path), ""))
    view.export_action.trigger()  # no filter: the whole log, nothing asked
    assert path.read_text(encoding="utf-8") == log_text(view.model.entries())
    view.set_filters(least_level="warning")
    answers = iter(["Lines shown", "Whole log"])

    def exec_box(box):
        wanted = next(answers)
        button = next(b for b in box.buttons() if b.text() == wanted)
        assert f"{view.shown.rowCount():,} lines shown" in box.text()
        button.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_box)
    view.export_action.trigger()
    assert path.read_text(encoding="utf-8") == log_text(view.shown.entries()) and len(view.shown.entries()) == 2
    view.export_action.trigger()
    assert path.read_text(encoding="utf-8") == log_text(view.model.entries())
