"""Workers forked by a server forked while the process was young (core/fork_server.py), as
``poolscope run`` starts them. Each case runs in an interpreter of its own: the server must be
forked while its process has one thread, which a test process never is."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT, sample
from tests.helpers.support import gone, wait_until

pytestmark = pytest.mark.timeout(90)

PRELUDE = f"""
import json, os, signal, sys, threading, time
sys.path.insert(0, {str(ROOT / 'src')!r})
sys.path.insert(0, {str(ROOT)!r})
"""


def run_script(body: str, cwd) -> dict:
    code = PRELUDE + textwrap.dedent(body)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=cwd)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_workers_are_the_servers_children_run_jobs_and_a_killed_one_is_named_and_replaced(tmp_path):
    seen = run_script(f"""
        from poolscope.core.fork_server import ForkServer
        server = ForkServer.start()
        import psutil
        from poolscope import Engine, JobSpec
        from poolscope.core.targets import parse_target  # taken as checked: its workers check it, as poolscope run's do
        from poolscope.core.events import WorkerExited
        engine = Engine(2, nice=0, events=True, fork_server=server)
        squares = engine.submit(JobSpec.create(parse_target({sample('square')!r}), 'range:1000')).wait(30).results
        pids = engine.worker_pids()
        parents = [psutil.Process(pid).ppid() for pid in pids]
        leaders = [os.getpgid(pid) == pid for pid in pids]
        own_children = [child.cmdline() for child in psutil.Process().children()]
        path = {str(tmp_path / 'pid')!r}
        waiting = parse_target({sample('pid_and_wait_for_kill')!r})
        job = engine.submit(JobSpec.create(waiting, 'json:' + json.dumps([path])))
        while not os.path.exists(path):
            time.sleep(0.01)
        time.sleep(0.05)
        os.kill(int(open(path).read()), signal.SIGKILL)
        summary = job.wait(30)
        deadline = time.monotonic() + 10
        while len(engine.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        again = engine.submit(JobSpec.create(parse_target({sample('square')!r}), 'range:4')).wait(30).results
        exits = []
        while True:
            try:
                exits += [e.exitcode for e in engine.events.get(timeout=0.5) if isinstance(e, WorkerExited)]
            except Exception:
                break
        every = pids + engine.worker_pids()
        engine.shutdown(timeout=20)
        server.close()
        print(json.dumps(dict(squares_ok=squares == [i * i for i in range(1000)], parents=parents,
                              server=server.pid, leaders=leaders, own_children=own_children,
                              error=[summary.errors[0].type, summary.errors[0].message], exits=exits,
                              again=again, every=every)))
    """, tmp_path)
    assert seen["squares_ok"] and seen["again"] == [0, 1, 4, 9]
    assert seen["parents"] == [seen["server"]] * 2 and seen["leaders"] == [True, True]
    # No interpreter was started for a worker, nor a resource tracker: the process's children
    # are the server (a fork of it) and the lifeline shell.
    assert not any("spawn_main" in " ".join(line) or "resource_tracker" in " ".join(line)
                   for line in seen["own_children"])
    assert seen["error"][0] == "WorkerCrashed" and "SIGKILL" in seen["error"][1]
    assert -9 in seen["exits"]
    assert [pid for pid in seen["every"] + [seen["server"]] if not gone(pid)] == []


def test_a_worker_restarted_for_changed_code_runs_the_new_code(tmp_path):
    module = tmp_path / "changing.py"
    module.write_text("def value(x):\n    return 1\n")
    seen = run_script(f"""
        from poolscope.core.fork_server import ForkServer
        server = ForkServer.start()
        from poolscope import Engine, JobSpec
        from poolscope.core.targets import parse_target  # taken as checked: its workers check it, as poolscope run's do
        engine = Engine(1, nice=0, fork_server=server)
        target = {str(module)!r} + ':value'
        first = engine.submit(JobSpec.create(parse_target(target), 'range:2')).wait(30).results
        with open({str(module)!r}, 'w') as stream:
            stream.write('def value(x):\\n    return 2\\n')
        os.utime({str(module)!r}, (time.time() + 5, time.time() + 5))
        second = engine.submit(JobSpec.create(parse_target(target), 'range:2')).wait(30).results
        engine.shutdown(timeout=20)
        server.close()
        print(json.dumps(dict(first=first, second=second)))
    """, tmp_path)
    assert seen == {"first": [1, 1], "second": [2, 2]}


def test_no_server_is_forked_once_another_thread_runs(tmp_path):
    seen = run_script("""
        from poolscope.core.fork_server import ForkServer
        stop = threading.Event()
        thread = threading.Thread(target=stop.wait)
        thread.start()
        refused = ForkServer.start() is None
        stop.set()
        thread.join()
        server = ForkServer.start()
        started = server is not None
        server.close()
        print(json.dumps(dict(refused=refused, started=started)))
    """, tmp_path)
    assert seen == {"refused": True, "started": True}


def test_the_server_and_its_workers_die_with_the_process_that_forked_it(tmp_path):
    script = PRELUDE + textwrap.dedent("""
        from poolscope.core.fork_server import ForkServer
        server = ForkServer.start()
        from poolscope import Engine
        engine = Engine(2, nice=0, fork_server=server)
        while len(engine.worker_pids()) < 2:
            time.sleep(0.01)
        print(json.dumps([server.pid] + engine.worker_pids()), flush=True)
        time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    pids: list[int] = []
    try:
        pids = json.loads(process.stdout.readline())
        process.kill()
        process.wait(10)
        wait_until(lambda: all(gone(pid) for pid in pids), timeout=2, what="the server and its workers gone")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def test_a_server_killed_from_outside_costs_its_workers_and_the_engine_spawns_new_ones(tmp_path):
    seen = run_script(f"""
        from poolscope.core.fork_server import ForkServer
        server = ForkServer.start()
        from poolscope import Engine, JobSpec
        from poolscope.core.targets import parse_target
        engine = Engine(2, nice=0, fork_server=server)
        first = engine.submit(JobSpec.create(parse_target({sample('square')!r}), 'range:10')).wait(30).results
        forked = engine.worker_pids()
        os.kill(server.pid, signal.SIGKILL)
        job = engine.submit(JobSpec.create(parse_target({sample('square')!r}), 'range:2000', retries=2))
        summary = job.wait(60)
        deadline = time.monotonic() + 30  # the job may end before both replacements are ready
        while len(engine.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        spawned = engine.worker_pids()
        engine.shutdown(timeout=20)
        server.close()
        print(json.dumps(dict(first=first, status=summary.status.value, done=summary.done,
                              forked=forked, spawned=spawned, server=server.pid)))
    """, tmp_path)
    assert seen["first"] == [i * i for i in range(10)]
    assert (seen["status"], seen["done"]) == ("done", 2000)
    assert len(seen["spawned"]) == 2 and not set(seen["spawned"]) & set(seen["forked"])
    assert [pid for pid in seen["forked"] + seen["spawned"] + [seen["server"]] if not gone(pid)] == []
