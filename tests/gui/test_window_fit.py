"""The window on a fake engine: the keyboard reaches every pane, the window fits half a 1920 px
screen with what matters in view, a new job scrolls into view, a traceback opens large."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QAbstractItemView, QApplication, QWidget

from poolscope.core.events import JobSubmitted, TaskFailed, TasksFinished, WorkerActivity, WorkerStarted
from poolscope.core.jobs import TaskError
from poolscope.gui.main_window import MainWindow
from poolscope.monitor.folder import EventFolder

TRACEBACK = "Traceback (most recent call last):\n" + "".join(
    f'  File "/home/me/project/deep/module_{n}.py", line {n}, in step_{n}\n    value = step_{n + 1}(value)\n'
    for n in range(40)) + "ValueError: bad input 3"


def populate(window: MainWindow, jobs: int = 3) -> None:
    """Jobs, two busy workers and a failure in the log, as the bridge would hand them over."""
    window.bridge.stop()  # the updates come from this test alone
    window.bridge.take_update()
    folder = EventFolder()
    events: list = [WorkerStarted(41, 0, 0.0), WorkerStarted(42, 1, 0.0)]
    for job_id in range(1, jobs + 1):
        events += [JobSubmitted(job_id, f"job number {job_id}", "square", "range:0:100000", 100_000, 0.0),
                   TasksFinished(job_id, 1234, 0, 0, 0.0)]
    events += [WorkerActivity(41, 1, 7, 0.5, 3, 0.0), WorkerActivity(42, 2, 9, None, 4, 0.0),
               TaskFailed(1, TaskError(3, "ValueError", "bad input 3", TRACEBACK, pid=41, input_repr="3"), 0.0)]
    folder.fold(events)
    window.apply_update(folder.take_changes())


def visible_column(view: QAbstractItemView, name: str) -> bool:
    """Whether the column called ``name`` is wholly inside the table's viewport, unscrolled."""
    model, header = view.model(), view.horizontalHeader()
    [column] = [c for c in range(model.columnCount()) if model.headerData(c, Qt.Orientation.Horizontal) == name]
    left = header.sectionViewportPosition(column)
    return (not header.isSectionHidden(column) and left >= 0
            and left + header.sectionSize(column) <= view.viewport().width())


def inside_window(window: MainWindow, widget: QWidget) -> bool:
    rect = QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())
    return window.rect().contains(rect) and not widget.visibleRegion().isEmpty()


@pytest.mark.parametrize("size", [(950, 700), (800, 600)])
def test_the_window_fits_half_a_1920_screen_with_start_and_the_telling_columns_in_view(qtbot, fake_window, size):
    window = fake_window
    window.show()
    populate(window)
    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size, timeout=3000)
    QApplication.processEvents()
    assert window.width() <= size[0] and window.minimumSizeHint().width() <= size[0]
    assert inside_window(window, window.launch_panel.start_button)  # Start, however short the window
    for name in ("Name", "State", "Progress", "Done / total", "ETA"):
        assert visible_column(window.job_table.view, name), name
    for name in ("PID", "State", "CPU %", "Memory"):
        assert visible_column(window.workers_table.view, name), name
    for pane in (window.job_table.view, window.cpu_graph, window.throughput_graph, window.workers_table.view,
                 window.log_view.list):
        assert inside_window(window, pane) and pane.height() >= 60, pane.objectName()


def test_tab_visits_every_pane_and_leaves_the_tables(qtbot, fake_window):
    window = fake_window
    window.show()
    populate(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    window.launch_panel.builtin_list.setFocus()
    start = window.launch_panel.builtin_list
    assert QApplication.focusWidget() is start
    panes = {"jobs": window.job_table.view, "workers": window.workers_table.view, "log": window.log_view.list,
             "log detail": window.log_view.detail, "cpu": window.cpu_graph.history_combo,
             "throughput": window.throughput_graph.history_combo, "start": window.launch_panel.start_button}
    seen: list[QWidget] = []
    for _ in range(150):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        widget = QApplication.focusWidget()
        seen.append(widget)
        if widget is start:
            break
    missing = [name for name, pane in panes.items() if pane not in seen]
    assert not missing, f"Tab never reached {missing}"
    assert seen[-1] is start, "Tab did not come back round to where it started (trapped)"
    # each table is left by one Tab, not walked cell by cell
    for table in (window.job_table.view, window.workers_table.view):
        assert seen.count(table) == 1


def test_every_pane_and_action_has_a_key(qtbot, fake_window):
    window = fake_window
    window.show()
    populate(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    targets = {"jobs": window.job_table.view, "workers": window.workers_table.view, "log": window.log_view.list,
               "cpu": window.cpu_graph.history_combo, "throughput": window.throughput_graph.history_combo}
    for name, widget in targets.items():
        action = window.pane_actions[name]
        qtbot.keyClick(QApplication.focusWidget() or window, action.shortcut()[0].key(),
                       action.shortcut()[0].keyboardModifiers())
        assert QApplication.focusWidget() is widget, name
    qtbot.keyClick(window, window.pane_actions["launch"].shortcut()[0].key(), Qt.KeyboardModifier.AltModifier)
    assert window.launch_panel.isAncestorOf(QApplication.focusWidget())
    actions = [window.start_action, window.quit_action, window.log_view.show_full_action,
               window.job_table.cancel_action, window.job_table.terminate_action, window.job_table.run_again_action,
               window.job_table.save_results_action, window.job_table.clear_action]
    for action in actions:
        assert not action.shortcut().isEmpty(), action.text()
    keys = [action.shortcut().toString() for action in actions + list(window.pane_actions.values())]
    assert len(set(keys)) == len(keys), keys  # no key does two things
    window.launch_panel.range_stop.setText("20")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert len(window.engine.submitted) == 1  # Ctrl+Return starts the job in the form


def test_a_job_just_started_scrolls_into_view(qtbot, fake_window):
    window = fake_window
    window.show()
    window.resize(950, 700)
    populate(window, jobs=40)
    view = window.job_table.view
    folder = EventFolder()
    folder.fold([JobSubmitted(41, "the new one", "square", "range:0:10", 10, 0.0)])
    window.apply_update(folder.take_changes())
    QApplication.processEvents()
    rect = view.visualRect(window.job_table.view_index(41))  # the view's row (the table sorts through a proxy)
    assert view.viewport().rect().contains(rect), "the new job's row is out of view"


def test_a_failures_traceback_opens_in_a_large_window(qtbot, fake_window):
    window = fake_window
    window.show()
    window.resize(950, 700)
    populate(window)
    log = window.log_view
    [row] = [n for n, entry in enumerate(window.log_model.entries()) if entry.level == "error"]
    log.list.setCurrentIndex(log.shown.mapFromSource(window.log_model.index(row)))  # the list shows the filter's rows
    log.list.setFocus()
    qtbot.keyClick(log.list, Qt.Key.Key_Return)  # Enter on the line (a double click does the same)
    dialog = log.full_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.addWidget(dialog)
    assert TRACEBACK in dialog.text.toPlainText()
    assert dialog.width() > 2 * log.detail.width() and dialog.height() > 2 * log.detail.height()
    dialog.close()
    log.show_full_action.trigger()  # Ctrl+T, or the Jobs menu
    assert log.full_dialog is not None and TRACEBACK in log.full_dialog.text.toPlainText()
    log.full_dialog.close()


def test_the_first_window_fits_the_screen(fake_window):
    """On a 1280x800 screen the window first opened at 1500x950, its Start button off the screen."""
    available = fake_window.screen().availableGeometry()
    assert fake_window.width() <= available.width() and fake_window.height() <= available.height()
