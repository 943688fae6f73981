"""The table models on their own: what an update repaints."""

from __future__ import annotations

import dataclasses

from poolscope.core.backends import PROCESSES, THREADS
from poolscope.gui.bridge import WorkerView
from poolscope.gui.models import WorkersModel


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
