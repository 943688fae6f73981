"""A real (offscreen) window with scripts attached: a separate script process's job shows in the
window's models with its source, Cancel from the window stops it, and a script killed mid-job
leaves its job marked lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from PySide6.QtCore import Qt

from poolscope.core.attach import RUNTIME_DIR_ENV, AttachListener
from poolscope.core.jobs import JobState
from poolscope.gui.main_window import QUIT_TERMINATE, MainWindow
from poolscope.gui.models import JobsModel
from tests.gui.conftest import FakeEngine, close

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "attach" / "attached_script.py"
WAIT_MS = 30_000

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def attached_window(qtbot: Any, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A shown window listening in a private runtime directory (its own engine a fake: no processes)."""
    runtime = str(tmp_path / "poolscope")
    monkeypatch.setenv(RUNTIME_DIR_ENV, runtime)
    listener = AttachListener(runtime)
    assert listener.start()
    window = MainWindow(FakeEngine(), settings=settings, attach_listener=listener)
    window.show()
    yield window
    close(window, QUIT_TERMINATE)
    assert not listener.listening


def start_script(tasks: int, seconds: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    return subprocess.Popen([sys.executable, str(SCRIPT), str(tasks), str(seconds)], stdout=subprocess.PIPE,
                            text=True, env=env)


def attached_row(window: MainWindow, pid: int) -> int | None:
    model = window.jobs_model
    for row in range(model.rowCount()):
        if model.data(model.index(row, JobsModel.SOURCE_COLUMN)) == f"attached_script.py (pid {pid})":
            return row
    return None


def cell(window: MainWindow, row: int, column: int) -> str:
    return window.jobs_model.data(window.jobs_model.index(row, column))


def test_a_scripts_job_shows_with_its_source_and_cancel_from_the_window_stops_it(qtbot, attached_window):
    window = attached_window
    script = start_script(400, 0.05)
    try:
        assert json.loads(script.stdout.readline()) == {"attached": True}
        qtbot.waitUntil(lambda: attached_row(window, script.pid) is not None, timeout=WAIT_MS)
        row = attached_row(window, script.pid)
        assert cell(window, row, 0) == "1"  # the script's own id for its job
        assert cell(window, row, 1) == "sleep"
        view = window.jobs_model.job(row)
        assert view.job_id < 0 and view.source_job_id == 1
        # its worker is in the workers table, measured by the window's own sampling
        workers = {child.pid for child in psutil.Process(script.pid).children()}
        qtbot.waitUntil(lambda: any(w.pid in workers and w.cpu_percent is not None
                                    for w in window.workers_model.workers()), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.jobs_model.job(row).done > 0, timeout=WAIT_MS)
        (worker,) = [w for w in window.workers_model.workers() if w.pid in workers]
        worker_row = window.workers_model.workers().index(worker)
        worker_cell = window.workers_model.data(window.workers_model.index(worker_row, 2))
        assert worker_cell == f"slot 0 · attached_script.py (pid {script.pid})"
        assert window.throughput_graph._legend(view.job_id) == f"1 sleep · attached_script.py (pid {script.pid})"

        window.job_table.select_jobs([view.job_id])
        # the window can stop a script's job; it cannot run it again nor save its results (they are the script's)
        assert not window.job_table.run_again_action.isEnabled()
        assert not window.job_table.save_results_action.isEnabled()
        button = window.job_table.toolbar.widgetForAction(window.job_table.cancel_action)
        assert button is not None and button.isEnabled()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

        ended = json.loads(script.stdout.readline())
        assert script.wait(30) == 0
    finally:
        if script.poll() is None:
            script.kill()
            script.wait(10)
    assert ended["status"] == "cancelled" and ended["done"] < 400 and ended["cancelled"] > 0
    # what the window shows of it is the script's engine's exact count
    qtbot.waitUntil(lambda: window.jobs_model.job(row).state.is_final, timeout=WAIT_MS)
    shown = window.jobs_model.job(row)
    assert (shown.state.value, shown.done, shown.cancelled) == ("cancelled", ended["done"], ended["cancelled"])
    assert cell(window, row, window.jobs_model.COLUMNS.index("Done / total")).startswith(f"{ended['done']} / 400")
    qtbot.waitUntil(lambda: window.jobs_model.job(row).state is JobState.CANCELLED, timeout=WAIT_MS)
    final = window.jobs_model.job(row)
    assert (final.done, final.cancelled) == (ended["done"], ended["cancelled"])
    assert not final.lost
    assert window.engine.cancelled == []  # nothing of it went to the window's own engine
    qtbot.waitUntil(lambda: not any(w.pid in workers for w in window.workers_model.workers()), timeout=WAIT_MS)


def test_a_script_killed_mid_job_leaves_its_job_marked_lost(qtbot, attached_window):
    window = attached_window
    script = start_script(400, 0.05)
    try:
        assert json.loads(script.stdout.readline()) == {"attached": True}
        qtbot.waitUntil(lambda: attached_row(window, script.pid) is not None, timeout=WAIT_MS)
        row = attached_row(window, script.pid)
        qtbot.waitUntil(lambda: window.jobs_model.job(row).done > 0, timeout=WAIT_MS)
        script.send_signal(signal.SIGKILL)
        script.wait(10)
    finally:
        if script.poll() is None:
            script.kill()
            script.wait(10)
    qtbot.waitUntil(lambda: window.jobs_model.job(row).lost != "", timeout=WAIT_MS)
    assert cell(window, row, JobsModel.STATE_COLUMN) == "lost"
    assert window.jobs_model.job(row).state.is_final
    assert any("lost" in entry.message and f"pid {script.pid}" in entry.message for entry in window.log_model.entries())
    # its workers died with it (the kernel's parent-death signal); wait for them to be reaped
    qtbot.waitUntil(lambda: not window.workers_model.workers(), timeout=WAIT_MS)


def test_the_jobs_table_names_each_jobs_source_and_its_own_id(qtbot):
    from poolscope.monitor.views import JobView

    model = JobsModel()
    own = JobView(job_id=1, name="own", target="t", inputs="range:3", total=3, submitted_at=0.0)
    theirs = JobView(job_id=-1, name="theirs", target="t", inputs="range:3", total=3, submitted_at=0.0,
                     source="script.py (pid 42)", source_key=1, source_job_id=1, state=JobState.FAILED,
                     lost="script.py (pid 42) went away before the job ended")
    model.apply({-1: theirs, 1: own})
    rows = [(cell_of(model, row, 0), cell_of(model, row, JobsModel.STATE_COLUMN),
             cell_of(model, row, JobsModel.SOURCE_COLUMN)) for row in range(model.rowCount())]
    assert rows == [("1", "pending", "this window"), ("1", "lost", "script.py (pid 42)")]
    tip = model.data(model.index(1, JobsModel.STATE_COLUMN), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("Lost: script.py (pid 42) went away")


def cell_of(model: JobsModel, row: int, column: int) -> str:
    return model.data(model.index(row, column))


def test_the_application_window_listens_for_scripts_and_stops_when_it_quits(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QEvent, QTimer
    from PySide6.QtWidgets import QApplication

    from poolscope.core.attach import SOCKET_NAME, window_listening
    from poolscope.gui.app import run_gui

    runtime = str(tmp_path / "poolscope")
    monkeypatch.setenv(RUNTIME_DIR_ENV, runtime)
    seen = {}

    def check() -> None:
        # the one run_gui shows (an earlier test's run_gui may have left its closed window behind)
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows:
            QTimer.singleShot(50, check)
            return
        seen["listening"] = window_listening(runtime)
        seen["second"] = AttachListener(runtime).start()  # a second window of the user does not listen
        seen["window"] = windows[0]
        windows[0].close()

    QTimer.singleShot(50, check)
    assert run_gui(workers=1, nice=10) == 0
    window = seen.pop("window")
    window.deleteLater()  # run_gui leaves its window to the application; a later run_gui must not find it
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    assert seen == {"listening": True, "second": False}
    assert not os.path.exists(os.path.join(runtime, SOCKET_NAME))
