"""The History view: the window records its jobs; past jobs are listed, sorted and filtered; the
selected one's settings, failures and curve are shown; its results are saved (those of a user's
class built in a child process, never in the window's), its timeline exported, and it is run
again or put in the launch panel."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import textwrap

import pytest
from PySide6.QtCore import Qt

from poolscope.core.history import History
from poolscope.core.jobs import JobSpec, JobState
from poolscope.core.targets import file_module_name, parse_target
from poolscope.gui.widgets.history_view import HistoryModel, HistoryView
from tests.conftest import sample
from tests.gui.test_main_window import WAIT_MS, row_state

pytestmark = pytest.mark.timeout(120)

SHAPES = """
import os
from dataclasses import dataclass

open(os.path.join({markers!r}, str(os.getpid())), "w").close()  # who imported this

@dataclass
class Point:
    x: int

def f(n):
    return Point(n)
"""


@pytest.fixture
def history_dir(tmp_path, monkeypatch):
    """The data directory of the window made after it (fixtures are made in argument order)."""
    directory = tmp_path / "data"
    monkeypatch.setenv("POOLSCOPE_DATA_DIR", str(directory))
    return directory


def recorded(view: HistoryView, count: int) -> bool:
    return len(view.model.jobs()) >= count and all(job.state == "done" or job.state == "failed"
                                                    for job in view.model.jobs())


def test_the_window_records_its_jobs_and_the_view_shows_them(qtbot, history_dir, window, tmp_path):
    view = window.history_view
    window.history_dock.show()
    noop = window.submit(JobSpec.create("noop", "range:50"))
    failing = window.submit(JobSpec.create(parse_target(sample("fail_on")), "json:[1, 3, 5, 3]", kwargs={"bad": 3}))
    for job in (noop, failing):
        qtbot.waitUntil(lambda job=job: row_state(window, job.id) is not None and row_state(window, job.id).is_final,
                        timeout=WAIT_MS)
    qtbot.waitUntil(lambda: recorded(view, 2), timeout=WAIT_MS)  # refreshed as each end is recorded
    assert [(job.name, job.state, job.source) for job in view.model.jobs()] == [
        ("fail_on", "failed", "window"), ("noop", "done", "window")]

    # filter by state, by target, by text; sort by a column
    view.state_combo.setCurrentText("failed")
    assert len(view.visible_job_ids()) == 1
    view.state_combo.setCurrentText("All")
    view.target_combo.setCurrentText("noop")
    assert [view.model.job(0).name for _ in view.visible_job_ids()] and len(view.visible_job_ids()) == 1
    view.target_combo.setCurrentText("All")
    view.search_edit.setText("json:[1")
    assert len(view.visible_job_ids()) == 1
    view.search_edit.setText("")
    view.table.sortByColumn(9, Qt.SortOrder.AscendingOrder)  # failed: the noop job (0) first
    ids = view.visible_job_ids()
    assert [view.history.job(job_id).failed for job_id in ids] == [0, 2]

    # the failing job's details
    view.select_job(ids[1])
    assert '"bad": 3' in view.settings_text.toPlainText()
    group = view.failures_tree.topLevelItem(0)
    assert (group.text(0), group.text(1), group.childCount()) == ("ValueError", "2", 2)
    assert "input 3 is bad" in group.child(0).toolTip(2)
    xs, ys = view.curve.getData()
    assert len(xs) >= 1 and sum(ys) > 0

    # its results as CSV, read back
    out = tmp_path / "failing.csv"
    with qtbot.waitSignal(view.saved, timeout=30_000) as saved:
        assert view.save_results(str(out))
    assert saved.args[2] == 2
    assert list(csv.reader(io.StringIO(out.read_text()))) == [["index", "input", "result"], ["0", "1", "1"],
                                                              ["2", "5", "5"]]
    # its timeline
    assert view.export_timeline(str(tmp_path / "trace.json"))
    trace = json.loads((tmp_path / "trace.json").read_text())
    assert sum(event["args"]["tasks"] for event in trace["traceEvents"] if event["ph"] == "X") == 4

    # run the noop job again: through the launch panel, with its settings
    view.select_job(ids[0])
    before = len(window.jobs)
    view.run_again_button.click()
    qtbot.waitUntil(lambda: len(window.jobs) == before + 1, timeout=WAIT_MS)
    again = window.jobs[max(window.jobs)]
    assert (again.spec.target.text, again.spec.inputs.total) == ("noop", 50)
    # or put the failing one's settings in the panel, to edit
    view.select_job(ids[1])
    view.edit_button.click()
    assert window.launch_panel.target_edit.text() == sample("fail_on")
    assert json.loads(window.launch_panel.kwargs_edit.text()) == {"bad": 3}


def test_results_of_a_users_class_are_saved_without_importing_it_in_the_window(qtbot, history_dir, window, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    path = tmp_path / "shapes.py"
    path.write_text(textwrap.dedent(SHAPES.format(markers=str(markers))))
    view = window.history_view
    job = window.submit(JobSpec.create(f"{path}:f", "range:4"))
    qtbot.waitUntil(lambda: row_state(window, job.id) is JobState.DONE, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: view.history.jobs() and view.history.jobs()[0].state == "done", timeout=WAIT_MS)
    view.refresh()
    view.select_job(view.history.jobs()[0].id)
    out = tmp_path / "out.jsonl"
    with qtbot.waitSignal(view.saved, timeout=30_000) as saved:
        assert view.save_results(str(out))
    assert saved.args[2] == 4
    assert [json.loads(line)["result"] for line in out.read_text().splitlines()] == [f"Point(x={n})" for n in range(4)]
    assert any(markers.iterdir())  # the workers and the child that saved did import it...
    assert not (markers / str(os.getpid())).exists()  # ...the window did not
    assert file_module_name(str(path)) not in sys.modules


def test_retention_is_a_setting_and_the_space_used_is_shown(qtbot, tmp_path):
    history = History(str(tmp_path))
    view = HistoryView(history)
    qtbot.addWidget(view)
    view.refresh()
    assert "MB" in view.space_label.text() and str(tmp_path) in view.space_label.text()
    view.retention_spin.setValue(7)
    assert History(str(tmp_path)).retention_days == 7
    view.retention_spin.setValue(0)
    assert History(str(tmp_path)).retention_days is None  # for ever
    assert HistoryModel.COLUMNS[HistoryModel.STATE_COLUMN] == "State"


def test_a_scripts_pool_job_is_listed_but_not_offered_to_run_again(qtbot, tmp_path, monkeypatch):
    """A drop-in pool's job ran the script's own functions over inputs in memory: Run again and Edit
    would only fail in the launch panel, so they are off for it (and on for a job of the window's)."""
    from poolscope.core.engine import Engine
    from poolscope.core.history import record_engine
    from poolscope.gui.widgets.history_view import RUN_AGAIN_BY_SCRIPT_TIP
    from poolscope.pools import Pool

    monkeypatch.setenv("POOLSCOPE_DATA_DIR", str(tmp_path))
    with Pool(1) as pool:
        assert pool.map(abs, [-1, -2]) == [1, 2]
    pool.join()
    engine = Engine(workers=1, nice=0)
    recorder = record_engine(engine, "window")
    engine.submit(JobSpec.create("noop", "range:3")).wait(30)
    engine.shutdown(timeout=20)
    recorder.close()
    view = HistoryView(History(str(tmp_path)))
    qtbot.addWidget(view)
    view.refresh()
    by_source = {job.source.split(" ")[0]: job for job in view.model.jobs()}
    assert set(by_source) == {"script", "window"}
    view.select_job(by_source["script"].id)
    assert not view.run_again_button.isEnabled() and not view.edit_button.isEnabled()
    assert view.run_again_button.toolTip() == RUN_AGAIN_BY_SCRIPT_TIP
    view.select_job(by_source["window"].id)
    assert view.run_again_button.isEnabled() and view.edit_button.isEnabled()


def test_the_history_dock_first_opens_at_a_third_of_the_window_leaving_the_graphs_room(qtbot, fake_window):
    """Seen at 1400x900: the dock opened at its own size hint and squeezed the graphs to a strip."""
    window = fake_window
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    window.history_dock.show()
    qtbot.waitUntil(lambda: 0 < window.history_dock.height() <= window.height() * 0.4, timeout=3000)
    assert window.throughput_graph.height() >= 120
