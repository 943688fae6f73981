"""The jobs and workers tables sort by any column (a click on its header), and every action on a
selected row still reaches that row's job: rows are found through the sorting proxy."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt

from poolscope.core.events import JobSubmitted, TasksFinished
from poolscope.gui.models import JOB_ID_ROLE, JobsModel
from poolscope.gui.sorting import sort_key
from poolscope.monitor.folder import EventFolder
from poolscope.monitor.views import WorkerView


def test_sort_key_reads_numbers_durations_and_sizes():
    ordered = ["", "0.5 s", "9.9 s", "0:10", "1:05", "59:59", "1:00:00", "12:00:00"]
    shuffled = [ordered[i] for i in (5, 2, 7, 0, 3, 6, 1, 4)]
    assert sorted(shuffled, key=sort_key) == ordered
    assert sorted(["12,345/s", "99.5/s", "1,000/s"], key=sort_key) == ["99.5/s", "1,000/s", "12,345/s"]
    assert sorted(["2.0 GiB", "900.0 MiB", "12 B", "1.5 KiB"], key=sort_key) == ["12 B", "1.5 KiB", "900.0 MiB",
                                                                                   "2.0 GiB"]
    assert sorted(["34 / 3,000", "1,200 / 1,200", "5 / ?"], key=sort_key) == ["5 / ?", "34 / 3,000", "1,200 / 1,200"]
    assert sorted(["slot 10", "slot 2", "Slot 1"], key=sort_key) == ["Slot 1", "slot 2", "slot 10"]
    assert sorted(["100%", "9%", "45%"], key=sort_key) == ["9%", "45%", "100%"]


def jobs_update(done: dict[int, int]):
    folder = EventFolder()
    events: list = []
    for job_id, count in done.items():
        events += [JobSubmitted(job_id, f"job {chr(ord('a') + (7 * job_id) % 26)}", "square", "range:0:10000",
                                10_000, 0.0), TasksFinished(job_id, count, 0, 0, 0.0)]
    folder.fold(events)
    return folder.take_changes()


def shown_ids(table) -> list[int]:
    proxy = table.view.model()
    return [int(proxy.index(row, 0).data(JOB_ID_ROLE)) for row in range(proxy.rowCount())]


def test_the_jobs_table_sorts_by_any_column_and_actions_reach_the_right_jobs(qtbot, fake_window):
    window = fake_window
    window.show()
    window.bridge.stop()
    window.bridge.take_update()
    done = {1: 500, 2: 9000, 3: 40, 4: 1200}
    window.apply_update(jobs_update(done))
    table = window.job_table
    header = table.view.horizontalHeader()
    assert shown_ids(table) == [1, 2, 3, 4]  # submission order until asked
    column = JobsModel.COLUMNS.index("Done / total")
    table.view.scrollTo(table.view.model().index(0, column))
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(column) + 5, 5))  # a click on its header
    order = shown_ids(table)
    assert order in ([3, 1, 4, 2], [2, 4, 1, 3]), order
    if order != [3, 1, 4, 2]:
        table.view.sortByColumn(column, Qt.SortOrder.AscendingOrder)
    assert shown_ids(table) == [3, 1, 4, 2]
    # the view's first row is job 3: selecting it selects job 3, and Cancel asks for job 3
    table.view.selectionModel().select(table.view.model().index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                                       | QItemSelectionModel.SelectionFlag.Rows)
    assert table.selected_job_ids() == [3]
    asked = []
    table.cancel_requested.connect(asked.append)
    table.cancel_action.trigger()
    assert asked == [[3]]
    # and a job selected by id lands on its sorted row
    table.select_jobs([2])
    assert [index.row() for index in table.view.selectionModel().selectedRows()] == [3]
    assert window.job_table.view_index(2).row() == 3
    # a row that changes moves to its place; a new job takes its place too
    window.apply_update(jobs_update({3: 9500, 5: 700}))
    assert shown_ids(table) == [1, 5, 4, 2, 3]
    assert table.selected_job_ids() == [2]  # the selection follows its job, not its row number
    table.view.sortByColumn(JobsModel.COLUMNS.index("Name"), Qt.SortOrder.DescendingOrder)
    names = [table.view.model().index(row, JobsModel.COLUMNS.index("Name")).data() for row in range(5)]
    assert names == sorted(names, reverse=True)
    header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # cleared (a third click): submission order
    assert shown_ids(table) == [1, 2, 3, 4, 5]


def test_the_workers_table_sorts_and_a_click_names_the_right_job(qtbot, fake_window):
    window = fake_window
    window.show()
    window.bridge.stop()
    workers = {pid: WorkerView(pid=pid, slot=slot, job_id=job, index=1, cpu_percent=cpu, rss=rss)
               for pid, slot, job, cpu, rss in ((300, 0, 1, 12.0, 5 << 20), (100, 1, 2, 99.0, 2 << 30),
                                                (200, 2, 3, 5.0, 700 << 10))}
    window.workers_model.apply(workers)
    table = window.workers_table
    proxy = table.view.model()
    column = {name: window.workers_model.COLUMNS.index(name) for name in ("PID", "CPU %", "Memory")}

    def pids() -> list[int]:
        return [int(proxy.index(row, column["PID"]).data()) for row in range(proxy.rowCount())]

    assert pids() == [300, 100, 200]  # by slot
    table.view.sortByColumn(column["PID"], Qt.SortOrder.AscendingOrder)
    assert pids() == [100, 200, 300]
    table.view.sortByColumn(column["CPU %"], Qt.SortOrder.DescendingOrder)
    assert pids() == [100, 300, 200]
    table.view.sortByColumn(column["Memory"], Qt.SortOrder.AscendingOrder)
    assert pids() == [200, 300, 100]
    clicked = []
    table.job_clicked.connect(clicked.append)
    rect = table.view.visualRect(proxy.index(0, column["PID"]))
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert clicked == [3]  # pid 200 runs job 3
