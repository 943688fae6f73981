"""The window applying the bridge's updates (on a fake engine, fed by an EventFolder directly)."""

from __future__ import annotations

from poolscope.core.events import JobFinished, JobSubmitted, TasksFinished
from poolscope.core.jobs import JobState, JobSummary
from poolscope.monitor.folder import EventFolder


def test_job_names_are_passed_on_once_and_dropped_when_the_job_is_cleared(fake_window, monkeypatch):
    window = fake_window
    pushed: list[dict[int, str]] = []
    set_job_names = window.workers_model.set_job_names
    monkeypatch.setattr(window.workers_model, "set_job_names", lambda names: (pushed.append(dict(names)),
                                                                              set_job_names(names)))
    folder = EventFolder()
    folder.fold([JobSubmitted(1, "squares", "square", "range:0:10", 10, 0.0)])
    window.apply_update(folder.take_changes())
    for _ in range(3):  # progress: the job is in every update, its name is not new
        folder.fold([TasksFinished(1, 2, 0, 0, 0.0)])
        window.apply_update(folder.take_changes())
    summary = JobSummary(1, "squares", "square", "range:0:10", JobState.DONE, 10, 10, 0, 0, 1.0, 2)
    folder.fold([JobSubmitted(2, "cubes", "cube", "range:0:5", 5, 0.0), JobFinished(1, summary, 0.0)])
    window.apply_update(folder.take_changes())
    assert pushed == [{1: "squares"}, {2: "cubes"}]
    assert window.throughput_graph._job_names == {1: "squares", 2: "cubes"}

    window.clear_finished()
    assert window.jobs_model.row_of(1) is None and window.engine.forgotten == [1]
    assert window.workers_model._job_names == {2: "cubes"}  # the cleared job's name is not kept
    assert window.throughput_graph._job_names == {2: "cubes"}


def test_the_job_actions_follow_state_changes_but_not_the_clocks_repaints(fake_window, monkeypatch):
    window, table = fake_window, fake_window.job_table
    folder = EventFolder()
    folder.fold([JobSubmitted(1, "squares", "square", "range:0:10", 10, 0.0), TasksFinished(1, 2, 0, 0, 0.0)])
    window.apply_update(folder.take_changes())
    table.select_jobs([1])
    assert table.cancel_action.isEnabled() and not table.clear_action.isEnabled()
    reads: list[int] = []
    selected_job_ids = table.selected_job_ids
    monkeypatch.setattr(table, "selected_job_ids", lambda: (reads.append(1), selected_job_ids())[1])

    window.jobs_model.tick()  # the elapsed/ETA repaint of running rows, every 200 ms
    assert reads == []

    summary = JobSummary(1, "squares", "square", "range:0:10", JobState.DONE, 10, 10, 0, 0, 1.0, 2)
    folder.fold([JobFinished(1, summary, 0.0)])
    window.apply_update(folder.take_changes())
    assert len(reads) == 1  # the selection is read once per update of the actions
    assert not table.cancel_action.isEnabled() and table.clear_action.isEnabled()


def test_the_workers_title_is_counted_once_per_update(fake_window, monkeypatch):
    from poolscope.core.events import WorkerActivity, WorkerStarted

    from poolscope.gui import main_window

    monkeypatch.setattr(main_window, "WORKERS_MIN_MS", 0)  # every update's worker changes at once
    window, table = fake_window, fake_window.workers_table
    titles: list[str] = []
    set_text = table.title.setText
    monkeypatch.setattr(table.title, "setText", lambda text: (titles.append(text), set_text(text)))
    folder = EventFolder()
    folder.fold([WorkerStarted(41, 0, 0.0), WorkerStarted(42, 1, 0.0)])
    window.apply_update(folder.take_changes())  # rows come: the model is reset
    assert titles == ["Workers (2, 0 busy)"]
    folder.fold([JobSubmitted(1, "squares", "square", "range:0:10", 10, 0.0), WorkerActivity(42, 1, 0, None, 0, 0.0)])
    window.apply_update(folder.take_changes())  # a row changes in place
    assert titles == ["Workers (2, 0 busy)", "Workers (2, 1 busy)"]
