"""Case 4: terminate kills the whole tree, whatever the task does about signals or children; a
worker that leaves, however it leaves, takes its process group with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from poolscope.core.events import WorkerExited
from poolscope.core.jobs import JobSpec, JobState
from tests.conftest import ROOT, sample
from tests.helpers.support import drain, full_strength, gone, wait_until

LIFECYCLE_TASKS = ROOT / "tests" / "helpers" / "lifecycle_tasks.py"


def lifecycle(function: str) -> str:
    """The target text of a function in tests/helpers/lifecycle_tasks.py."""
    return f"{LIFECYCLE_TASKS}:{function}"


def read_pids(path: str) -> list[int]:
    with open(path) as handle:
        return [int(pid) for pid in handle.read().split()]


def kill_left_over(pids: list[int]) -> None:
    """Clean-up when a test fails: never leave the children the old code leaves running."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

pytestmark = pytest.mark.timeout(90)


def test_terminate_kills_a_task_that_ignores_sigterm(engine, tmp_path):
    paths = [str(tmp_path / "a"), str(tmp_path / "b")]
    job = engine.submit(JobSpec.create(sample("ignore_sigterm_and_spin"), "json:" + json.dumps(paths), chunksize=1))
    wait_until(lambda: all(os.path.exists(path) for path in paths), timeout=30, what="both tasks running")
    victims = [pid for path in paths for pid in read_pids(path)]
    engine.terminate(job)
    summary = job.wait(10)
    assert summary.status is JobState.TERMINATED
    assert (summary.done, summary.cancelled) == (0, 2)
    wait_until(lambda: all(gone(pid) for pid in victims), timeout=2, what="victims dead")
    wait_until(lambda: full_strength(engine), timeout=5)
    assert not set(victims) & set(engine.worker_pids())


def test_terminate_kills_subprocesses_and_nested_pools(engine, tmp_path):
    path = str(tmp_path / "pids")
    job = engine.submit(JobSpec.create(sample("start_children_and_wait"), "json:" + json.dumps([path])))
    wait_until(lambda: os.path.exists(path), timeout=30, what="children started")
    pids = read_pids(path)
    assert len(pids) == 3  # the worker, a subprocess, a nested pool's worker
    engine.terminate(job)
    assert job.wait(10).status is JobState.TERMINATED
    wait_until(lambda: all(gone(pid) for pid in pids), timeout=2, what="the whole tree dead")


def test_a_worker_terminated_from_outside_is_reported_as_sigterm(engine, tmp_path):
    """The signal that ended a worker is named truly (it was "SIGKILL", as a SIGTERM handler in
    the worker killed its own group with SIGKILL), and the task it ran is failed with it."""
    path = str(tmp_path / "pid")
    job = engine.submit(JobSpec.create(lifecycle("pid_then_wait"), "json:" + json.dumps([path])))
    wait_until(lambda: os.path.exists(path), timeout=30, what="task running")
    [pid] = read_pids(path)
    os.kill(pid, signal.SIGTERM)
    [error] = job.wait(30).errors
    assert error.type == "WorkerCrashed" and "SIGTERM" in error.message and str(pid) in error.message
    exits = [event for event in drain(engine) if isinstance(event, WorkerExited) and event.pid == pid]
    assert [(event.exitcode, event.reason) for event in exits] == [(-signal.SIGTERM, "crashed: SIGTERM")]
    wait_until(lambda: full_strength(engine), timeout=5, what="pool back to full strength")


@pytest.mark.parametrize("detached", [False, True], ids=["child", "detached"])
def test_children_a_task_leaves_running_end_when_poolscope_run_exits(tmp_path, detached):
    """The processes a task started and left running end with the application, at once."""
    paths = [str(tmp_path / name) for name in "ab"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    # Output to a file, not a pipe: children that inherit a pipe would hold it open, and reading
    # it to its end would wait for them.
    with open(tmp_path / "stderr", "w") as stderr:
        returncode = subprocess.run([sys.executable, "-m", "poolscope", "run", lifecycle("leave_a_child"),
                                     "--inputs", "json:" + json.dumps(paths), "--workers", "1",
                                     "--kwargs", json.dumps({"detached": detached})],
                                    stdout=subprocess.DEVNULL, stderr=stderr, timeout=60, env=env, cwd=ROOT).returncode
    children = [pid for path in paths for pid in read_pids(path)]
    try:
        assert returncode == 0, (tmp_path / "stderr").read_text()
        time.sleep(0.5)
        assert [pid for pid in children if not gone(pid)] == []
    finally:
        kill_left_over(children)


@pytest.mark.parametrize("detached", [False, True], ids=["child", "detached"])
@pytest.mark.parametrize("how", ["shutdown", "recycled", "crashed", "SIGTERM"])
def test_a_worker_that_leaves_takes_its_process_group_with_it(engine, tmp_path, how, detached):
    """Stopped at shutdown, recycled (max tasks per worker), crashed (os._exit) or terminated
    from outside: the worker's process group ends with it, while the engine goes on. A detached
    process (its parent, a shell, exited) is in the group but no longer anyone's child here."""
    path = str(tmp_path / "pids")
    kwargs = {"detached": detached}
    children: list[int] = []
    try:
        if how == "crashed":
            job = engine.submit(JobSpec.create(lifecycle("leave_a_child_then_exit"), "json:" + json.dumps([path]),
                                               kwargs=kwargs))
            assert job.wait(30).status is JobState.FAILED
            children = read_pids(path)
        elif how == "SIGTERM":
            job = engine.submit(JobSpec.create(lifecycle("leave_a_child_then_wait"), "json:" + json.dumps([path]),
                                               kwargs=kwargs))
            wait_until(lambda: os.path.exists(path), timeout=30, what="task running")
            worker, child = read_pids(path)
            children = [child]
            os.kill(worker, signal.SIGTERM)
            assert job.wait(30).status is JobState.FAILED
        else:
            job = engine.submit(JobSpec.create(lifecycle("leave_a_child"), "json:" + json.dumps([path]), kwargs=kwargs,
                                               max_tasks_per_worker=1 if how == "recycled" else None))
            assert job.wait(30).status is JobState.DONE
            children = read_pids(path)
            if how == "shutdown":
                engine.shutdown(timeout=20)
        wait_until(lambda: all(gone(pid) for pid in children), timeout=1, what="the task's child gone")
    finally:
        kill_left_over(children)


def test_children_a_task_leaves_running_end_with_its_job_while_the_worker_lives_on(engine, tmp_path):
    """A job ends: what its tasks started and left running ends with it; the worker stays, and
    so do the processes another job's task started and still uses."""
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    other = engine.submit(JobSpec.create(lifecycle("leave_a_child_then_wait"), "json:" + json.dumps([second]),
                                         kwargs={"seconds": 30}))
    children: list[int] = []
    try:
        wait_until(lambda: os.path.exists(second), timeout=30, what="the other job's task running")
        other_worker, other_child = read_pids(second)
        children.append(other_child)
        wait_until(lambda: full_strength(engine), timeout=30, what="both workers ready")
        workers = sorted(engine.worker_pids())
        job = engine.submit(JobSpec.create(lifecycle("leave_a_child"), "json:" + json.dumps([first])))
        assert job.wait(30).status is JobState.DONE
        children += read_pids(first)
        wait_until(lambda: gone(children[1]), timeout=2, what="the ended job's child gone")
        assert sorted(engine.worker_pids()) == workers  # no worker was replaced for it
        assert not gone(other_child) and not gone(other_worker)
        engine.terminate(other)
        other.wait(10)
        wait_until(lambda: gone(other_child), timeout=2, what="the terminated job's child gone")
    finally:
        kill_left_over(children)


def test_forkserver_workers_start_and_their_processes_end_with_them(tmp_path):
    """With forkserver the workers' parent is the server, not the engine's process: they started
    and at once took their parent for dead ("5 worker processes in a row died while starting").
    Run in a process of its own: the server lives as long as the process that started it."""
    path = str(tmp_path / "pids")
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / 'src')!r})
        from poolscope import Engine, JobSpec
        if __name__ == '__main__':
            engine = Engine(workers=2, nice=0, start_method='forkserver')
            print(engine.submit(JobSpec.create({sample('square')!r}, 'range:4')).wait(30).results)
            job = engine.submit(JobSpec.create({lifecycle('leave_a_child')!r}, 'json:["{path}"]',
                                               kwargs={{'detached': True}}, max_tasks_per_worker=1))
            print(job.wait(30).status.value, flush=True)
            engine.shutdown(timeout=20)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    children = read_pids(path) if os.path.exists(path) else []
    try:
        assert run.stdout.split("\n")[:2] == ["[0, 1, 4, 9]", "done"], run.stderr
        assert [pid for pid in children if not gone(pid)] == []
    finally:
        kill_left_over(children)
