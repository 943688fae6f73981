"""run_gui end to end: the application starts a job, quits with its exit code, leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from poolscope.core.jobs import JobSpec, JobState
from poolscope.gui.app import run_gui
from tests.conftest import ROOT
from tests.gui.conftest import assert_no_children


@pytest.mark.timeout(60)
def test_run_gui_starts_the_given_job_and_quits_cleanly(qtbot):
    seen = {}

    def watch() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if hasattr(w, "launch_panel")]
        if not windows:
            QTimer.singleShot(50, watch)
            return
        window = windows[0]
        views = window.jobs_model.jobs()
        if views and views[0].state is JobState.DONE:
            seen["title"] = window.windowTitle()
            seen["done"] = views[0].done
            window.close()  # nothing runs: no question
        else:
            QTimer.singleShot(50, watch)

    QTimer.singleShot(50, watch)
    code = run_gui(JobSpec.create("noop", "range:0:20"), workers=1, nice=10)
    assert code == 0
    assert seen == {"title": "poolscope", "done": 20}
    assert_no_children()


@pytest.mark.timeout(60)
def test_killing_the_window_process_takes_its_workers_down_within_two_seconds():
    code = ("from poolscope.gui.app import run_gui\n"
            "from poolscope.core.jobs import JobSpec\n"
            "if __name__ == '__main__':\n"
            "    run_gui(JobSpec.create('sleep', 'range:0:100000'), workers=2)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), QT_QPA_PLATFORM="offscreen")
    app = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        parent = psutil.Process(app.pid)
        deadline = time.monotonic() + 30
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline:
            workers = [p for p in parent.children(recursive=True)
                       if "resource_tracker" not in " ".join(p.cmdline())]
            if len(workers) >= 2:
                break
            time.sleep(0.05)
        assert len(workers) >= 2, "the window's workers did not start"
        time.sleep(0.5)  # let them take tasks
        app.send_signal(signal.SIGKILL)
        app.wait(5)
        gone, alive = psutil.wait_procs(workers, timeout=2.0)
        assert not alive, f"workers outlived the killed window: {[p.pid for p in alive]}"
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
