"""Case 9 and 10: the application killed outright, or exiting with work pending."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from tests.conftest import ROOT, sample
from tests.helpers.support import gone, wait_until, worker_processes

LIFECYCLE_TASKS = ROOT / "tests" / "helpers" / "lifecycle_tasks.py"

pytestmark = pytest.mark.timeout(90)


def test_killing_poolscope_run_takes_its_workers_and_their_children_within_2_s(tmp_path):
    path = str(tmp_path / "pids")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    process = subprocess.Popen(
        [sys.executable, "-m", "poolscope", "run", sample("start_children_and_wait"), "--inputs",
         f'json:["{path}"]', "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    try:
        wait_until(lambda: os.path.exists(path), timeout=30, what="task children started")
        workers = worker_processes(process.pid, 2)
        with open(path) as stream:
            children = [int(pid) for pid in stream.read().split()]
        # Every process it started (its workers' fork server too, and the lifeline) goes with it.
        started_by_it = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
        pids = [w.pid for w in workers] + children + started_by_it
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        started = time.monotonic()
        wait_until(lambda: all(gone(pid) for pid in pids), timeout=2, what="every worker and child gone")
        assert time.monotonic() - started < 2
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(("function", "kwargs"), [
    ("leave_a_child_then_wait", {}),
    ("leave_a_child_then_wait", {"detached": True}),
    ("leave_a_child_then_long_c_call", {}),
], ids=["idle", "idle-with-a-detached-process", "in-one-long-C-call"])
def test_killing_poolscope_run_takes_a_worker_in_a_long_c_call_and_its_children_within_2_s(tmp_path, function,
                                                                                            kwargs):
    """No Python code needs to run in the worker: one inside ``sum(range(3*10**9))`` holds its
    interpreter, so a signal handler or its reader thread would wait for the call to return.
    A detached process (its parent exited) is in the worker's group, and goes too."""
    path = str(tmp_path / "pids")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    process = subprocess.Popen(
        [sys.executable, "-m", "poolscope", "run", f"{LIFECYCLE_TASKS}:{function}", "--inputs",
         f'json:["{path}"]', "--workers", "1", "--kwargs", json.dumps(kwargs)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    pids: list[int] = []
    try:
        wait_until(lambda: os.path.exists(path), timeout=30, what="the task and its child started")
        with open(path) as stream:
            pids = [int(pid) for pid in stream.read().split()]  # the worker, its child
        time.sleep(0.2)  # well inside the C call
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        wait_until(lambda: all(gone(pid) for pid in pids), timeout=2, what="the worker and its child gone")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in pids:  # what the old code left running
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def test_exiting_the_interpreter_with_work_pending_shuts_down_cleanly():
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / 'src')!r})
        from poolscope import Engine, JobSpec
        if __name__ == '__main__':
            engine = Engine(workers=2, nice=0)
            engine.submit(JobSpec.create({sample('spin_ignoring_cancel')!r}, 'range:10', kwargs={{'seconds': 60}}))
            import time
            while len(engine.worker_pids()) < 2:
                time.sleep(0.01)
            print(' '.join(map(str, engine.worker_pids())), flush=True)
            # no shutdown(): the interpreter exits with two tasks running and eight pending
    """)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    assert result.stderr == ""
    pids = [int(pid) for pid in result.stdout.split()]
    assert len(pids) == 2
    for pid in pids:
        assert gone(pid)


def test_a_script_without_a_main_guard_fails_its_job_and_says_why(tmp_path):
    """Spawned workers import the main module again; a top-level Engine there must not hang."""
    script = tmp_path / "no_guard.py"
    script.write_text(textwrap.dedent("""
        from poolscope.core.engine import Engine
        from poolscope.core.jobs import JobSpec
        engine = Engine(workers=2)
        print(engine.submit(JobSpec.create("noop", "range:10")).wait(60).status.value)
        engine.shutdown()
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert run.stdout.strip() == "failed"
    assert 'create it under `if __name__ == "__main__":`' in run.stderr
