"""The window on a real pool of two workers: start, watch, cancel, terminate, quit."""

from __future__ import annotations

import time

import psutil
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from poolscope.core.jobs import JobSpec, JobState
from poolscope.gui.main_window import QUIT_CANCEL, QUIT_TERMINATE, MainWindow
from poolscope.gui.models import JobsModel
from tests.conftest import live_children, sample
from tests.gui.conftest import assert_no_children

WAIT_MS = 30_000


def row_state(window: MainWindow, job_id: int) -> JobState | None:
    view = window.jobs_model.view_of(job_id)
    return None if view is None else view.state


def click_action(qtbot, window: MainWindow, action) -> None:
    """Click the toolbar button of ``action``, as a user would."""
    button = window.job_table.toolbar.widgetForAction(action)
    assert button is not None and button.isEnabled(), action.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.mark.timeout(60)
def test_start_a_builtin_job_by_clicking_start_and_watch_it_finish(qtbot, window):
    panel = window.launch_panel
    panel.set_builtin("sleep")
    panel.range_stop.setText("12")
    panel.kwargs_edit.setText('{"seconds": 0.02}')
    with qtbot.waitSignal(window.job_submitted, timeout=5000) as submitted:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    job_id = submitted.args[0].id
    qtbot.waitUntil(lambda: row_state(window, job_id) is JobState.DONE, timeout=WAIT_MS)
    row = window.jobs_model.row_of(job_id)
    model = window.jobs_model
    assert model.data(model.index(row, JobsModel.PROGRESS_COLUMN)) == "100%"
    assert model.data(model.index(row, JobsModel.STATE_COLUMN)) == "done"
    assert model.data(model.index(row, JobsModel.DONE_COLUMN)) == "12 / 12"
    assert model.data(model.index(row, JobsModel.BACKEND_COLUMN)) == "processes"
    view = model.view_of(job_id)
    assert (view.done, view.failed, view.cancelled, view.fraction) == (12, 0, 0, 1.0)
    assert window.windowTitle() == "poolscope"
    assert any("done in" in entry.message for entry in window.log_model.entries())


@pytest.mark.timeout(60)
def test_graphs_show_live_cpu_per_core_and_throughput(qtbot, window):
    window.submit(JobSpec.create("sleep", "range:0:400", kwargs={"seconds": 0.01}))
    cores = psutil.cpu_count(logical=True)
    graph = window.cpu_graph
    assert graph.cores == cores and graph.grid is not None  # a chart per logical core (a heat map over 32)

    qtbot.waitUntil(lambda: len(graph.grid._x) >= 3, timeout=WAIT_MS)
    x, loads = graph.grid._x, graph.grid._values
    assert loads.shape == (len(x), cores) and (x <= 0.5).all() and ((loads >= 0) & (loads <= 100)).all()
    assert all(text.endswith("%") for text in graph.figures())  # each core's load as a figure
    throughput = window.throughput_graph
    qtbot.waitUntil(lambda: throughput.point_count() >= 3 and bool(throughput.job_curves), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: throughput.total.values().max() > 0, timeout=WAIT_MS)
    assert "running" in window.windowTitle()
    qtbot.waitUntil(lambda: len(window.workers_model.workers()) == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: any(view.busy for view in window.workers_model.workers()), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: all(view.rss > 0 for view in window.workers_model.workers()), timeout=WAIT_MS)


@pytest.mark.timeout(90)
def test_cancel_and_terminate_from_the_toolbar_while_another_job_finishes(qtbot, window):
    slow = JobSpec.create(sample("spin"), "range:0:200", kwargs={"seconds": 0.3})
    cancel_me = window.submit(slow).id
    terminate_me = window.submit(slow).id
    survivor = window.submit(JobSpec.create("sleep", "range:0:15", kwargs={"seconds": 0.02})).id
    qtbot.waitUntil(lambda: row_state(window, cancel_me) is JobState.RUNNING
                    and row_state(window, terminate_me) is JobState.RUNNING, timeout=WAIT_MS)
    table = window.job_table

    table.select_jobs([cancel_me])
    click_action(qtbot, window, table.cancel_action)
    table.select_jobs([terminate_me])
    click_action(qtbot, window, table.terminate_action)

    qtbot.waitUntil(lambda: row_state(window, cancel_me) is JobState.CANCELLED, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: row_state(window, terminate_me) is JobState.TERMINATED, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: row_state(window, survivor) is JobState.DONE, timeout=WAIT_MS)
    assert window.jobs_model.view_of(survivor).done == 15
    # the window's counts equal the engine's
    for job_id in (cancel_me, terminate_me, survivor):
        view = window.jobs_model.view_of(job_id)
        summary = window.jobs[job_id].summary()
        assert (view.done, view.failed, view.cancelled) == (summary.done, summary.failed, summary.cancelled)
    assert window.jobs_model.view_of(cancel_me).cancelled > 0
    # the pool is back to two workers after the kill
    qtbot.waitUntil(lambda: len(window.workers_model.workers()) == 2, timeout=WAIT_MS)


@pytest.mark.timeout(60)
def test_shortcuts_run_again_and_clear_finished(qtbot, window):
    first = window.submit(JobSpec.create("noop", "range:0:50")).id
    qtbot.waitUntil(lambda: row_state(window, first) is JobState.DONE, timeout=WAIT_MS)
    window.activateWindow()
    window.job_table.select_jobs([first])
    window.job_table.view.setFocus()
    with qtbot.waitSignal(window.job_submitted, timeout=5000) as again:
        qtbot.keyClick(window.job_table.view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    second = again.args[0].id
    assert second != first
    qtbot.waitUntil(lambda: row_state(window, second) is JobState.DONE, timeout=WAIT_MS)
    assert window.jobs_model.view_of(second).done == 50
    qtbot.keyClick(window.job_table.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.jobs_model.rowCount() == 0
    assert window.jobs == {}


@pytest.mark.timeout(60)
def test_a_failure_is_logged_with_its_remote_traceback_and_leads_to_its_job(qtbot, window):
    window.launch_panel.choose_target_file(sample("fail_on").rsplit(":", 1)[0])
    index = window.launch_panel.function_combo.findText("fail_on")
    window.launch_panel.function_combo.setCurrentIndex(index)
    window.launch_panel.function_combo.activated.emit(index)
    window.launch_panel.set_inputs_text("range:6")
    window.launch_panel.kwargs_edit.setText('{"bad": 3}')
    with qtbot.waitSignal(window.job_submitted, timeout=5000) as submitted:
        qtbot.mouseClick(window.launch_panel.start_button, Qt.MouseButton.LeftButton)
    job_id = submitted.args[0].id
    other = window.submit(JobSpec.create("noop", "range:3")).id
    qtbot.waitUntil(lambda: row_state(window, job_id) is JobState.FAILED, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: row_state(window, other) is JobState.DONE, timeout=WAIT_MS)
    model = window.log_model
    [row] = [i for i, entry in enumerate(model.entries()) if entry.level == "error"]
    entry = model.entry(row)
    assert entry.job_id == job_id and "task 3 failed" in entry.message
    assert "Traceback" in entry.detail and "fail_on" in entry.detail

    # Both jobs' last lines are in the log before the click: a line arriving between finding the
    # row's place and clicking it scrolls the tailing log by a row (CI clicked the line below).
    qtbot.waitUntil(lambda: {entry.job_id for entry in model.entries()
                             if " done in " in entry.message or " failed in " in entry.message} >= {job_id, other},
                    timeout=WAIT_MS)
    window.job_table.select_jobs([other])
    log = window.log_view
    shown = log.list.model().index(row, 0)  # the list shows the log through its filter
    assert log.shown.entry(shown.row()) is entry
    log.list.scrollTo(shown)
    rect = log.list.visualRect(shown)
    qtbot.mouseClick(log.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.job_table.selected_job_ids() == [job_id]
    assert "Traceback" in log.detail.toPlainText()
    log.copy_selected()
    assert "Traceback" in QApplication.clipboard().text()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", [QUIT_CANCEL, QUIT_TERMINATE])
def test_closing_with_running_jobs_asks_then_leaves_no_child_process(qtbot, settings, monkeypatch, mode):
    from poolscope.core.engine import Engine

    window = MainWindow(Engine(workers=2, nice=10, events=True), settings=settings)
    window.show()
    asked = []

    def answer(running: int) -> str | None:
        asked.append(running)
        return None if len(asked) == 1 else mode  # first "keep running", then quit

    monkeypatch.setattr(window, "ask_how_to_quit", answer)
    job = window.submit(JobSpec.create(sample("spin"), "range:0:100", kwargs={"seconds": 0.5}))
    qtbot.waitUntil(lambda: row_state(window, job.id) is JobState.RUNNING, timeout=WAIT_MS)
    assert live_children()

    window.quit_action.trigger()  # Ctrl+Q
    assert asked == [1] and window.isVisible()  # kept running

    window.close()
    assert asked == [1, 1]
    assert not window.isVisible()
    assert not window.bridge.isRunning()
    assert job.state in (JobState.CANCELLED, JobState.TERMINATED)
    assert_no_children()
    window.deleteLater()


@pytest.mark.timeout(60)
def test_window_state_persists(qtbot, settings):
    from tests.gui.conftest import FakeEngine, close

    window = MainWindow(FakeEngine(), settings=settings)
    window.show()
    window.resize(720, 560)  # within the offscreen screen
    window.right_splitter.setSizes([100, 250, 150])
    window.cpu_graph.set_history(300)
    qtbot.wait(50)
    size, sizes = (window.width(), window.height()), window.right_splitter.sizes()
    window.close()  # no running jobs: no question
    assert not window.bridge.isRunning()
    window.deleteLater()

    again = MainWindow(FakeEngine(), settings=settings)
    try:
        again.show()
        qtbot.wait(50)
        assert (again.width(), again.height()) == size
        assert again.right_splitter.sizes() == sizes
        assert again.cpu_graph.history == 300
    finally:
        close(again, QUIT_TERMINATE)


@pytest.mark.timeout(30)
def test_the_quit_question_follows_jobs_that_end_while_it_is_open_and_still_quits(qtbot, settings):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    from tests.gui.conftest import FakeEngine, close

    engine = FakeEngine()
    window = MainWindow(engine, settings=settings)
    window.show()
    first = window.submit(JobSpec.create("noop", "range:3"))
    second = window.submit(JobSpec.create("noop", "range:3"))
    seen: list[str] = []
    errors: list[BaseException] = []

    deadline = time.monotonic() + 5

    def answer() -> None:
        """Runs inside the question's own event loop: end the jobs one by one, then quit."""
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            if time.monotonic() < deadline:
                QTimer.singleShot(20, answer)
            else:
                errors.append(AssertionError("the quit question was not asked"))
            return
        try:
            seen.append(box.text())
            first.state = JobState.DONE
            qtbot.waitUntil(lambda: box.text() == "1 job is still running.", timeout=3000)
            seen.append(box.text())
            second.state = JobState.CANCELLED
            qtbot.waitUntil(lambda: box.text() == "No job is running any more.", timeout=3000)
            seen.append(box.text())
            [quit_button] = [b for b in box.buttons() if b.text() == "Cancel jobs and quit"]
            qtbot.mouseClick(quit_button, Qt.MouseButton.LeftButton)
        except BaseException as exc:  # noqa: BLE001 - never leave the question open: keep running, fail below
            errors.append(exc)
            box.reject()

    try:
        QTimer.singleShot(0, answer)
        window.close()
        assert not errors, errors
        assert seen == ["2 jobs are still running.", "1 job is still running.", "No job is running any more."]
        assert not window.isVisible()  # quit, cleanly: the cancel-then-terminate shutdown
        assert engine.shutdowns == [{"cancel": True, "timeout": 5.0}, {"terminate": True, "timeout": 10}]
        assert not window.bridge.isRunning()
    finally:
        close(window, QUIT_TERMINATE)


@pytest.mark.timeout(60)
def test_save_results_writes_the_selected_jobs_finished_results(qtbot, window, tmp_path, monkeypatch):
    import json

    from PySide6.QtWidgets import QFileDialog

    job = window.submit(JobSpec.create(sample("fail_on"), "range:0:12", kwargs={"bad": 5}))
    qtbot.waitUntil(lambda: row_state(window, job.id) is JobState.FAILED, timeout=WAIT_MS)
    window.job_table.select_jobs([job.id])
    path = tmp_path / "out.jsonl"
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args: (asked.append(args[2]) or str(path), "JSON Lines (*.jsonl)"))
    with qtbot.waitSignal(window.results_saved, timeout=10_000) as saved:
        click_action(qtbot, window, window.job_table.save_results_action)
    assert saved.args == [job.id, str(path), 11]
    assert asked[0].endswith(f"fail_on-{job.id}-results.jsonl")  # the suggested name
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [{"index": i, "input": i, "result": i} for i in range(12) if i != 5]
    assert window.log_model.entries()[-1].message == f"Saved 11 results of job {job.id} to {path}"

    unwritable = str(tmp_path / "no-such-folder" / "out.jsonl")
    with qtbot.waitSignal(window.results_saved, timeout=10_000) as failed:
        assert window.save_results(job.id, unwritable)
    assert isinstance(failed.args[2], OSError)
    last = window.log_model.entries()[-1]
    assert last.level == "error" and "Could not save the results" in last.message and last.job_id == job.id

    window.job_table.select_jobs([])
    assert not window.job_table.save_results_action.isEnabled()  # one selected job, or nothing to save


@pytest.mark.timeout(60)
def test_a_long_save_says_how_far_it_got(qtbot, window, tmp_path, monkeypatch):
    from poolscope.gui import results_saving

    monkeypatch.setattr(results_saving, "SAVE_PROGRESS_SECONDS", 0.0)
    job = window.submit(JobSpec.create("noop", "range:0:3500"))
    qtbot.waitUntil(lambda: row_state(window, job.id) is JobState.DONE, timeout=WAIT_MS)
    progress = []
    window.results_saving.connect(lambda job_id, count: progress.append((job_id, count)))
    with qtbot.waitSignal(window.results_saved, timeout=10_000) as saved:
        window.save_results(job.id, str(tmp_path / "noop.jsonl"))
    assert saved.args[2] == 3500
    assert progress == [(job.id, 1000), (job.id, 2000), (job.id, 3000)]
    assert len((tmp_path / "noop.jsonl").read_text().splitlines()) == 3500
