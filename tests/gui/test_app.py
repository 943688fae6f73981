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
from tests.helpers.support import gone


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
        # An orphan that exited waits as a zombie until this machine's init reaps it: it has ended.
        deadline = time.monotonic() + 2.0
        while not all(gone(worker.pid) for worker in workers) and time.monotonic() < deadline:
            time.sleep(0.02)
        alive = [worker.pid for worker in workers if not gone(worker.pid)]
        assert not alive, f"workers outlived the killed window: {alive}"
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()


@pytest.mark.timeout(90)
def test_poolscope_gui_run_with_backend_dask_opens_the_window_on_a_local_cluster(qtbot):
    pytest.importorskip("distributed", reason="Dask is not installed: pip install 'poolscope[dask]'")
    from poolscope.cli import main
    from tests.conftest import sample

    seen: dict = {}

    def watch() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if hasattr(w, "launch_panel") and w.isVisible()]
        if not windows:
            QTimer.singleShot(50, watch)
            return
        window = windows[0]
        views = window.jobs_model.jobs()
        dask_workers = window.workers_model.workers("dask")
        if views and views[0].state.is_final and len(dask_workers) == 2:
            seen["state"] = views[0].state
            seen["results"] = window.jobs[views[0].job_id].wait(5).results
            seen["backend"] = window.launch_panel.backend()
            seen["scheduler"] = window.launch_panel.scheduler_text()
            seen["workers"] = sorted(view.backend for view in window.workers_model.workers())
            window.close()  # nothing runs: no question
        else:
            QTimer.singleShot(50, watch)

    QTimer.singleShot(50, watch)
    # the CLI's engine_options() for --backend dask: one idle local worker, a LocalCluster of 2
    code = main(["gui", "--run", sample("square"), "--inputs", "range:0:12", "--backend", "dask"])
    assert code == 0
    assert seen == {"state": JobState.DONE, "results": [x * x for x in range(12)], "backend": "dask",
                    "scheduler": "", "workers": ["dask", "dask", "processes"]}
    assert_no_children()


def test_run_gui_takes_the_engine_options_the_cli_gives(monkeypatch):
    """run_gui(spec, **engine_options): the options reach the Engine, and the panel starts on their backend."""
    import poolscope.gui.app as app_module

    assert app_module._backend_of(None, {"nice": 10, "dask_scheduler": None, "workers": 1, "dask_workers": 2}) == "dask"
    assert app_module._backend_of(None, {"nice": 10, "dask_scheduler": "tcp://h:8786", "workers": 1}) == "dask"
    assert app_module._backend_of(None, {"nice": 10, "dask_scheduler": None, "threads": None}) == "threads"
    assert app_module._backend_of(None, {"nice": 10, "dask_scheduler": None, "workers": None}) is None
    spec = JobSpec.create("noop", "range:1", backend="threads")
    assert app_module._backend_of(spec, {"dask_workers": 2}) == "threads"
