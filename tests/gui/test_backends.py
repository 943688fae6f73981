"""The window on the other backends: a job on threads (and Terminate turned into cancel, said
plainly), and a job on a Dask LocalCluster whose workers fill the workers table and the CPU
graph's cluster view. No process (the cluster's included) outlives a test."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest
from PySide6.QtCore import Qt

from poolscope.core.backends import DASK, PROCESSES, THREADS, backend_info
from poolscope.core.events import JobSubmitted
from poolscope.core.jobs import JobState
from poolscope.gui.main_window import QUIT_TERMINATE, MainWindow
from poolscope.gui.models import JobsModel
from poolscope.gui.widgets.cpu_graph import CLUSTER_VIEW, LOCAL_VIEW
from tests.conftest import sample
from tests.gui.conftest import close

WAIT_MS = 20_000

needs_dask = pytest.mark.skipif(not backend_info(DASK).available(), reason=backend_info(DASK).install_hint)


def row_state(window: MainWindow, job_id: int) -> JobState | None:
    view = window.jobs_model.view_of(job_id)
    return None if view is None else view.state


def start_from_panel(qtbot, window: MainWindow, target: str, inputs: str, kwargs: str, backend: str,
                     scheduler: str = "") -> int:
    panel = window.launch_panel
    panel.target_edit.setText(target)
    panel.set_inputs_text(inputs)
    panel.kwargs_edit.setText(kwargs)
    panel.set_backend(backend)
    panel.scheduler_edit.setText(scheduler)
    with qtbot.waitSignal(window.job_submitted, timeout=5000) as submitted:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.errors() == {}
    return submitted.args[0].id


@pytest.mark.timeout(30)
def test_a_jobs_backend_is_shown_from_its_submitted_event(qtbot, fake_window):
    """The backend column and tooltip come from JobSubmitted.backend, like every other field of
    the row: a job the window did not submit itself (the engine's own) shows it too."""
    fake_window.engine.events.put([JobSubmitted(5, "squares", "square", "range:0:4", 4, 0.0, THREADS)])
    model = fake_window.jobs_model
    qtbot.waitUntil(lambda: model.row_of(5) is not None, timeout=5000)
    index = model.index(model.row_of(5), JobsModel.BACKEND_COLUMN)
    assert model.data(index) == THREADS
    assert "threads" in model.data(index, Qt.ItemDataRole.ToolTipRole)


@pytest.mark.timeout(60)
def test_a_job_on_threads_runs_and_terminate_cancels_it_with_the_engines_notice(qtbot, window):
    job_id = start_from_panel(qtbot, window, sample("square"), "range:0:40", "", THREADS)
    qtbot.waitUntil(lambda: row_state(window, job_id) is JobState.DONE, timeout=WAIT_MS)
    assert window.jobs[job_id].wait(5).results == [x * x for x in range(40)]
    model = window.jobs_model
    assert model.data(model.index(model.row_of(job_id), JobsModel.BACKEND_COLUMN)) == THREADS
    # the thread slots are listed beside the worker processes, with their backend
    qtbot.waitUntil(lambda: len(window.workers_model.workers(THREADS)) == 2
                    and len(window.workers_model.workers(PROCESSES)) == 2, timeout=WAIT_MS)  # processes may start later
    assert "(2 processes, 2 threads;" in window.workers_table.title.text()

    spinning = start_from_panel(qtbot, window, sample("spin"), "range:0:100", '{"seconds": 0.3}', THREADS)
    qtbot.waitUntil(lambda: row_state(window, spinning) is JobState.RUNNING, timeout=WAIT_MS)
    # each thread's own CPU time is measured (not its process's): busy threads show load
    qtbot.waitUntil(lambda: any((view.cpu_percent or 0) > 10 for view in window.workers_model.workers(THREADS)),
                    timeout=WAIT_MS)
    table = window.job_table
    table.select_jobs([spinning])
    button = table.toolbar.widgetForAction(table.terminate_action)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row_state(window, spinning) is JobState.CANCELLED, timeout=WAIT_MS)
    notices = [entry for entry in window.log_model.entries() if "threads cannot be killed" in entry.message]
    assert len(notices) == 1 and notices[0].job_id == spinning and notices[0].level == "warning"
    assert "threads cannot be killed" in window.statusBar().currentMessage()
    summary = window.jobs[spinning].summary()
    assert summary.cancelled > 0 and summary.status is JobState.CANCELLED


@needs_dask
@pytest.mark.timeout(90)
def test_a_job_on_a_local_dask_cluster_lists_its_workers_and_their_cpu(qtbot, settings):
    from poolscope.core.engine import Engine

    window = MainWindow(Engine(workers=1, dask_workers=2, nice=10, events=True), settings=settings, nice=10)
    try:
        window.show()
        assert window.cpu_graph.view == LOCAL_VIEW and not window.cpu_graph.view_combo.isVisibleTo(window)
        job_id = start_from_panel(qtbot, window, sample("square"), "range:0:30", "", DASK)  # empty: LocalCluster
        qtbot.waitUntil(lambda: row_state(window, job_id) is JobState.DONE, timeout=60_000)
        assert window.jobs[job_id].wait(5).results == [x * x for x in range(30)]
        model = window.jobs_model
        assert model.data(model.index(model.row_of(job_id), JobsModel.BACKEND_COLUMN)) == DASK

        workers = window.workers_model
        qtbot.waitUntil(lambda: len(workers.workers(DASK)) == 2 and all(v.rss > 0 for v in workers.workers(DASK)),
                        timeout=WAIT_MS)
        for view in workers.workers(DASK):
            assert view.address.startswith("tcp://127.0.0.1:") and view.host == "127.0.0.1"
            assert view.pid and view.nthreads == 1 and view.cpu_percent >= 0
        row = next(r for r in range(workers.rowCount()) if workers.workers()[r].backend == DASK)
        shown = [workers.data(workers.index(row, column)) for column in range(workers.columnCount())]
        assert shown[0] == DASK and shown[2].startswith("127.0.0.1:") and shown[7].endswith("MiB")
        # the engine's forwarder threads are plumbing, not workers: not listed
        assert len(workers.workers()) == 3 and len(workers.workers(PROCESSES)) == 1
        assert "Dask: 2 workers" in window.status_workers.text()
        assert window.workers_table.title.text().startswith("Workers (1 process, 2 Dask;")

        graph = window.cpu_graph
        qtbot.waitUntil(lambda: len(graph.cluster_curves) == 2, timeout=WAIT_MS)
        assert graph.view == CLUSTER_VIEW and graph.view_combo.isVisibleTo(window)
        assert graph.title.text() == "CPU per Dask worker (2)"

        def drawn() -> bool:
            return all(x is not None and len(x) >= 2 for x, _ in graph.cluster_curve_data().values())

        qtbot.waitUntil(drawn, timeout=WAIT_MS)
        graph.set_view(LOCAL_VIEW)  # the per-core view is still there
        assert graph.title.text().startswith("CPU per core")
    finally:
        close(window, QUIT_TERMINATE)


@pytest.fixture
def sigint_handler():
    """A handler of our own for SIGINT (as run_gui installs one), put back as it was after the test."""
    def handler(signum, frame) -> None:  # pragma: no cover - never called
        raise AssertionError("SIGINT")

    previous = signal.signal(signal.SIGINT, handler)
    yield handler
    signal.signal(signal.SIGINT, previous)


@pytest.mark.timeout(30)
def test_the_first_local_cluster_job_ignores_ctrl_c_until_the_cluster_started_without_blocking(
        qtbot, settings, sigint_handler):
    from tests.gui.conftest import FakeEngine

    engine = FakeEngine()
    window = MainWindow(engine, settings=settings)
    go = threading.Event()
    during: list = []

    def starting(name: str) -> None:  # in the window's helper thread, while the "cluster starts"
        during.append(signal.getsignal(signal.SIGINT))
        assert go.wait(10)

    engine.on_start_backend = starting
    try:
        panel = window.launch_panel
        panel.set_builtin("noop")
        panel.set_backend(DASK)  # empty scheduler: a local cluster
        with qtbot.waitSignal(window.local_cluster_started, timeout=5000) as started:
            panel.start()  # returns at once: the window's thread is not the one that waits
            assert [spec.backend for spec in engine.submitted] == [DASK]
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            qtbot.waitUntil(lambda: bool(during), timeout=5000)
            go.set()
        assert started.args == [2] and during == [signal.SIG_IGN] and engine.started_backends == [DASK]
        assert signal.getsignal(signal.SIGINT) is sigint_handler  # Ctrl-C is the window's again
        assert "local Dask cluster is ready" in window.statusBar().currentMessage()

        panel.start()  # the cluster runs: nothing to wait for
        panel.set_backend(PROCESSES)
        panel.start()
        assert len(engine.submitted) == 3 and engine.started_backends == [DASK]
        assert signal.getsignal(signal.SIGINT) is sigint_handler
    finally:
        go.set()
        close(window, QUIT_TERMINATE)

    # a scheduler of one's own: no process starts here, Ctrl-C is never ignored
    engine = FakeEngine(dask_scheduler="tcp://10.0.0.5:8786")
    window = MainWindow(engine, settings=settings, dask_scheduler="tcp://10.0.0.5:8786")
    try:
        window.launch_panel.set_builtin("noop")
        window.launch_panel.set_backend(DASK)
        window.launch_panel.start()
        assert [spec.backend for spec in engine.submitted] == [DASK] and engine.started_backends == []
        assert signal.getsignal(signal.SIGINT) is sigint_handler
    finally:
        close(window, QUIT_TERMINATE)


@pytest.mark.timeout(30)
def test_checking_a_scheduler_address_leaves_the_engines_scheduler_until_the_job_is_submitted(qtbot, settings):
    """The form's check asks whether the engine can use an address; it used to set the engine's
    scheduler while the form was checked, so an address checked and never started was where the
    next Dask job ran (here: run again of a job that ran on the first)."""
    from tests.gui.conftest import FakeEngine

    first = "tcp://10.0.0.5:8786"
    engine = FakeEngine(dask_scheduler=first)
    window = MainWindow(engine, settings=settings, dask_scheduler=first)
    try:
        panel = window.launch_panel
        panel.set_builtin("noop")
        panel.set_backend(DASK)
        panel.start()
        assert [spec.backend for spec in engine.submitted] == [DASK] and engine.dask_scheduler == first
        for other in ("10.0.0.7", ""):  # another scheduler, a local cluster: checked, good, not submitted
            panel.scheduler_edit.setText(other)
            assert panel.build_spec() is not None and panel.errors() == {}
            assert engine.dask_scheduler == first
        window.run_again([1])
        assert len(engine.submitted) == 2 and engine.dask_scheduler == first
        assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN and engine.started_backends == []

        panel.scheduler_edit.setText("10.0.0.7")
        panel.start()  # submitted: now it is the engine's
        assert len(engine.submitted) == 3 and engine.dask_scheduler == "tcp://10.0.0.7:8786"
        assert "Dask: tcp://10.0.0.7:8786" in window.status_workers.text()
    finally:
        close(window, QUIT_TERMINATE)


def sigint_ignored_in(pid: int) -> bool:
    """Whether process ``pid`` ignores SIGINT (its SigIgn mask in /proc, Linux)."""
    with open(f"/proc/{pid}/status") as status:
        mask = next(line.split()[1] for line in status if line.startswith("SigIgn:"))
    return bool(int(mask, 16) & (1 << (signal.SIGINT - 1)))


@needs_dask
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")
@pytest.mark.timeout(90)
def test_a_local_cluster_started_by_the_window_has_workers_that_ignore_ctrl_c_from_their_start(
        qtbot, settings, monkeypatch, sigint_handler):
    """Without Dask's preload hook, so that only what the workers inherited at their start counts."""
    import poolscope.core.backends.dask as dask_backend
    from poolscope.core.engine import Engine

    real_local_cluster = dask_backend.LocalCluster
    handler_at_start: list = []

    def local_cluster(*args, **kwargs):  # in the engine's thread
        handler_at_start.append(signal.getsignal(signal.SIGINT))
        kwargs.pop("preload", None)
        return real_local_cluster(*args, **kwargs)

    monkeypatch.setattr(dask_backend, "LocalCluster", local_cluster)
    window = MainWindow(Engine(workers=1, dask_workers=2, nice=10, events=True), settings=settings, nice=10)
    try:
        window.show()
        with qtbot.waitSignal(window.local_cluster_started, timeout=60_000) as started:
            job_id = start_from_panel(qtbot, window, sample("square"), "range:0:10", "", DASK)
        assert started.args == [2] and handler_at_start == [signal.SIG_IGN]
        assert signal.getsignal(signal.SIGINT) is sigint_handler
        qtbot.waitUntil(lambda: row_state(window, job_id) is JobState.DONE, timeout=60_000)
        pids = [worker["pid"] for worker in window.engine.backend_workers()[DASK]]
        assert len(pids) == 2 and all(pids)
        assert all(sigint_ignored_in(pid) for pid in pids)
        for pid in pids:  # a Ctrl-C reaches them too: they live on and run the next job
            os.kill(pid, signal.SIGINT)
        again = start_from_panel(qtbot, window, sample("square"), "range:0:10", "", DASK)
        qtbot.waitUntil(lambda: row_state(window, again) is JobState.DONE, timeout=WAIT_MS)
        assert sorted(worker["pid"] for worker in window.engine.backend_workers()[DASK]) == sorted(pids)
    finally:
        close(window, QUIT_TERMINATE)
