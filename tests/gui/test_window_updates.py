"""The window applying the bridge's updates (on a fake engine, fed by an EventFolder directly)."""

from __future__ import annotations

import time

import pytest

from poolscope.core.events import JobFinished, JobProgress, JobStateChanged, JobSubmitted, RunningChunk, TasksFinished
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
    from poolscope.gui import window_updates

    monkeypatch.setattr(window_updates, "WORKERS_MIN_MS", 0)  # every update's worker changes at once
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


def test_a_jobs_submission_and_end_are_taken_at_once_and_routine_updates_wait(fake_window, qtbot, monkeypatch):
    """The window takes routine updates at most every UPDATE_MIN_MS; a job's end used to wait
    for that too, so its counts were late and its running clock ran on past its end."""
    from poolscope.gui import window_updates

    monkeypatch.setattr(window_updates, "UPDATE_MIN_MS", 60_000)  # routine updates: not within this test
    window, events = fake_window, fake_window.engine.events
    model = window.jobs_model
    events.put([JobSubmitted(1, "squares", "square", "range:0:10", 10, 0.0), JobStateChanged(1, JobState.RUNNING, 0.0)])
    qtbot.waitUntil(lambda: model.view_of(1) is not None and model.view_of(1).state is JobState.RUNNING, timeout=5000)
    events.put([TasksFinished(1, 4, 0, 0, 0.0)])  # routine: waits
    qtbot.wait(500)
    assert model.view_of(1).done == 0
    summary = JobSummary(1, "squares", "square", "range:0:10", JobState.DONE, 10, 10, 0, 0, 1.0, 2)
    events.put([TasksFinished(1, 6, 0, 0, 0.0), JobFinished(1, summary, 0.0)])
    qtbot.waitUntil(lambda: model.view_of(1).state is JobState.DONE, timeout=5000)
    assert model.view_of(1).done == 10



def fold_update(window, folder, *events):
    folder.fold(list(events))
    update = folder.take_changes()
    window.apply_update(update)
    return update


def cell_seconds(model, column: str) -> float:
    return float(model.data(model.index(0, model.COLUMNS.index(column))).removesuffix(" s"))


def test_a_running_clock_stops_at_the_newest_news_and_ends_at_the_engines_end_time(fake_window):
    """A job that ran 0.63 s showed 1.2 s at its end: its clock ran on to the time of painting,
    the end came later, and a clock may not step back."""
    window, model, folder = fake_window, fake_window.jobs_model, EventFolder()
    started = time.monotonic() - 2.0
    fold_update(window, folder, JobSubmitted(1, "squares", "square", "range:0:10", 10, time.time() - 2.5),
              JobProgress(1, started, 0.0, 0, (RunningChunk(started, 10, 0, None),), started))
    heard = time.monotonic()  # the update was made before this
    model.tick(heard + 5.0)  # painted 5 s later, with no news since
    assert cell_seconds(model, "Running") <= heard - started + 0.05  # 2.0 s, not 7.0 s
    time.sleep(0.1)
    ended = time.monotonic() - 0.05  # the engine's own end time, before the bridge heard of it
    summary = JobSummary(1, "squares", "square", "range:0:10", JobState.DONE, 10, 10, 0, 0, ended - started, 2)
    fold_update(window, folder, JobFinished(1, summary, time.time(), ended))
    model.tick(time.monotonic() + 5.0)
    assert cell_seconds(model, "Running") == pytest.approx(ended - started, abs=0.051)


def test_the_rate_and_time_left_are_measured_at_the_time_of_their_data(fake_window):
    """The ETA of 40 x 0.25 s on 2 workers read 5.5 s against 4.15 s left at 10%: a view a
    quarter of a second old was estimated as if it were current (its elapsed time grew, its work did not)."""
    window, model, folder = fake_window, fake_window.jobs_model, EventFolder()
    # 10 tasks of 1 s on 2 workers: 1.95 s after its start, 2 done and 2 nearly done; it ends 5 s after its start
    now = time.monotonic()
    started = now - 1.95
    chunks = (RunningChunk(started + 1, 1, 0, None), RunningChunk(started + 1, 1, 0, None))
    fold_update(window, folder, JobSubmitted(1, "a", "t", "range:10", 10, time.time() - 2.0),
                JobStateChanged(1, JobState.RUNNING, 0.0), TasksFinished(1, 2, 0, 0, 0.0),
                JobProgress(1, started, 2.0, 2, chunks, now))
    heard = time.monotonic()
    model.tick(heard + 0.55)  # painted 0.55 s after the update was made, with no news since
    assert cell_seconds(model, "ETA") == pytest.approx(started + 5.0 - (heard + 0.55), abs=0.1)
    assert model.data(model.index(0, model.COLUMNS.index("Rate"))) == "2.0/s"
