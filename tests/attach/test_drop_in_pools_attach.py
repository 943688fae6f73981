"""The real drop-in pools report to an open window: a script using ``poolscope.Pool`` and
``poolscope.ProcessPoolExecutor`` shows its jobs under its own name, Cancel from the window stops
one, and ``poolscope watch`` runs an unmodified script with both stdlib pools on them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poolscope.core.attach import RUNTIME_DIR_ENV, AttachedBatches, ScriptAttached, ScriptDetached
from poolscope.core.jobs import JobState
from poolscope.monitor.folder import EventFolder

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
STDLIB_SCRIPT = Path(__file__).with_name("stdlib_pools_script.py")

POOL_SCRIPT = '''
import sys, time
import poolscope

def square(x):
    return x * x

def slow(x):
    time.sleep(0.05)
    return x

if __name__ == "__main__":
    with poolscope.Pool(2) as pool:
        assert pool.map(square, range(20)) == [x * x for x in range(20)]
        pending = pool.map_async(slow, range(400), chunksize=1)
        print("slow started", flush=True)
        pending.wait(60)
        print("slow ended", "ok" if pending.successful() else "stopped", flush=True)
    with poolscope.ProcessPoolExecutor(max_workers=2) as executor:
        assert list(executor.map(square, range(10))) == [x * x for x in range(10)]
'''


def test_a_scripts_drop_in_pools_report_to_the_window_and_cancel_reaches_them(listener, runtime, tmp_path):
    script = tmp_path / "crunch.py"
    script.write_text(POOL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), RUNTIME_DIR_ENV: runtime}
    process = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
    folder = EventFolder()
    try:
        sources = []
        cancelled = False
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            item = listener.incoming.get(timeout=30)
            folder.fold_attached(item)
            if isinstance(item, ScriptAttached):
                sources.append(item.source)
            if not cancelled and isinstance(item, AttachedBatches):
                # the slow map: a job of 400 tasks that has begun; cancel it from the "window"
                slow = [view for view in folder.jobs.values() if view.total == 400 and view.done > 0]
                if slow:
                    assert listener.command(item.source.key, "cancel", slow[0].source_job_id)
                    cancelled = True
            if isinstance(item, ScriptDetached) and len(sources) == 2:
                break
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0 and "slow ended stopped" in out, out
    assert [source.label for source in sources] == [f"crunch.py (pid {process.pid})"] * 2  # the Pool, the executor
    views = sorted(folder.jobs.values(), key=lambda view: -view.job_id)
    assert all(view.source == f"crunch.py (pid {process.pid})" and view.state.is_final for view in views)
    states = [(view.total, view.state) for view in views if view.total in (20, 400, 10)]
    assert (20, JobState.DONE) in states and (400, JobState.CANCELLED) in states and (10, JobState.DONE) in states
    assert not any(view.lost for view in views)


def test_watch_headless_runs_an_unmodified_script_with_both_stdlib_pools_on_poolscopes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop(RUNTIME_DIR_ENV, None)
    done = subprocess.run([sys.executable, "-m", "poolscope", "watch", "--headless", str(STDLIB_SCRIPT), "7"],
                          capture_output=True, text=True, env=env, timeout=100, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["squares"] == [x * x for x in range(7)] and report["cubes"] == [x ** 3 for x in range(7)]
    assert report["pool"] == "poolscope.pools.mp_pool.Pool"
    assert report["executor"] == "poolscope.pools.executor.ProcessPoolExecutor"
    assert "stdlib_pools_script.py (pid" in done.stderr, done.stderr
    assert done.stderr.count(" done") >= 2, done.stderr  # a job of each pool ended, said on the terminal


def test_a_pool_with_no_window_open_runs_as_before(runtime):
    from poolscope.pools import Pool

    with Pool(1) as pool:
        assert pool._core.reporter is None  # nothing listens in this test's runtime directory
        assert pool.map(abs, [-1, -2, 3]) == [1, 2, 3]
