"""The table models on their own: what an update repaints."""

from __future__ import annotations

import dataclasses

from poolscope.core.backends import PROCESSES, THREADS
from poolscope.gui.models import WorkersModel
from poolscope.monitor.views import JobView, WorkerView


class Recorder:
    """The model's change signals, as (kind, first row, last row)."""

    def __init__(self, model: WorkersModel) -> None:
        self.calls: list[tuple[str, int, int]] = []
        model.dataChanged.connect(lambda top, bottom, *_: self.calls.append(("changed", top.row(), bottom.row())))
        model.modelReset.connect(lambda: self.calls.append(("reset", -1, -1)))


def pids(model: WorkersModel) -> list[int | None]:
    return [view.pid for view in model.workers()]


def test_workers_model_repaints_only_changed_rows_and_sorts_only_when_rows_come_or_go(qtbot):
    model = WorkersModel()
    workers = {pid: WorkerView(pid=pid, slot=slot) for pid, slot in ((13, 2), (11, 0), (12, 1))}
    workers[20] = WorkerView(pid=20, slot=0, backend=THREADS)
    model.apply(dict(workers))
    assert pids(model) == [11, 12, 13, 20]  # processes by slot, then threads
    recorder = Recorder(model)

    model.apply({12: dataclasses.replace(workers[12], cpu_percent=50.0)})
    assert recorder.calls == [("changed", 1, 1)]  # that row only, not the whole table
    assert model.workers()[1].cpu_percent == 50.0

    recorder.calls.clear()
    model.apply({11: dataclasses.replace(workers[11], job_id=1, index=3)})
    assert recorder.calls == [("changed", 0, 0)]

    recorder.calls.clear()  # a replacement in slot 1: rows leave and come, so the table is sorted again
    model.apply({12: dataclasses.replace(workers[12], alive=False), 14: WorkerView(pid=14, slot=1)})
    assert recorder.calls == [("reset", -1, -1)]
    assert pids(model) == [11, 14, 13, 20]
    assert model.workers(PROCESSES)[0].job_id == 1  # the change applied in place before is kept

    recorder.calls.clear()
    model.apply({20: dataclasses.replace(workers[20], cpu_percent=30.0)})
    assert recorder.calls == [("changed", 3, 3)]  # rows were found again after the sort
    model.apply({99: WorkerView(pid=99, slot=5, alive=False)})  # one never shown: nothing to do
    assert recorder.calls == [("changed", 3, 3)]


def job_view(job_id: int, state, done: int, failed: int, cancelled: int, total: int, **times) -> JobView:
    return JobView(job_id=job_id, name="job", target="t", inputs="range:0", total=total, submitted_at=100.0,
                   state=state, done=done, failed=failed, cancelled=cancelled, **times)


def texts(model, job_id: int) -> dict[str, str]:
    row = model.row_of(job_id)
    return {name: model.data(model.index(row, column)) for column, name in enumerate(model.COLUMNS)}


def test_a_stopped_job_shows_its_tasks_done_failed_and_cancelled_apart_and_never_100_percent(qtbot):
    from poolscope.core.jobs import JobState
    from poolscope.gui.models import SEGMENTS_ROLE, JobsModel

    model = JobsModel()
    model.apply({1: job_view(1, JobState.CANCELLED, 8, 0, 32, 40), 2: job_view(2, JobState.FAILED, 25, 5, 0, 30),
                 3: job_view(3, JobState.DONE, 29, 0, 0, 29), 4: job_view(4, JobState.RUNNING, 39, 0, 0, 40)})
    assert (texts(model, 1)["Progress"], texts(model, 1)["Done / total"]) == ("20%", "8 / 40, 32 cancelled")
    assert (texts(model, 2)["Progress"], texts(model, 2)["Done / total"], texts(model, 2)["Failed"]) == \
        ("83%", "25 / 30", "5")
    assert texts(model, 3)["Progress"] == "100%"  # every task done
    assert texts(model, 4)["Progress"] == "97%"  # 39 of 40: rounded down
    assert model.data(model.index(0, JobsModel.PROGRESS_COLUMN), SEGMENTS_ROLE) == (8, 0, 32, 40)


def test_the_running_clock_does_not_step_back_when_the_end_is_heard_late(qtbot):
    """The window hears of a job's end tens of milliseconds after it; the clock it showed meanwhile
    must not step back. Queued time is shown apart: it never counts as running."""
    from poolscope.core.jobs import JobState
    from poolscope.gui.models import JobsModel

    model = JobsModel()
    model.apply({1: job_view(1, JobState.RUNNING, 3, 0, 0, 10, started_at=122.0)})
    model.tick(125.1)
    assert (texts(model, 1)["Queued"], texts(model, 1)["Running"]) == ("0:22", "3.1 s")
    # it ended at 125.0 by the engine's clock, heard after the window had shown 3.1 s
    model.apply({1: job_view(1, JobState.DONE, 10, 0, 0, 10, started_at=122.0, finished_at=125.0)})
    model.tick(125.2)
    assert (texts(model, 1)["Queued"], texts(model, 1)["Running"]) == ("0:22", "3.1 s")
