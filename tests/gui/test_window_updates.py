"""The window applying the bridge's updates (on a fake engine, fed by an EventFolder directly)."""

from __future__ import annotations

from poolscope.core.events import JobFinished, JobSubmitted, TasksFinished
from poolscope.core.jobs import JobState, JobSummary
from poolscope.gui.bridge import EventFolder


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
