"""The Dask backend against real clusters: a LocalCluster of 2 worker processes started by the
engine, and a scheduler with two workers started here as separate processes on loopback.

Results must equal the local backend's; progress and cancel_requested() must reach and leave Dask
tasks; cancel, terminate and a lost worker must end jobs in the right state. Every process these
tests start is gone when each test (or the module, for the shared clusters) ends.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

pytest.importorskip("distributed", reason="Dask is not installed: pip install 'poolscope[dask]'")

import dask

from poolscope.core.engine import Engine
from poolscope.core.events import JobFinished, JobNotice, WorkerActivity
from poolscope.core.inputs import parse_inputs
from poolscope.core.jobs import JobSpec, JobState
from poolscope.core.targets import Target
from tests.conftest import ROOT, live_children, sample
from tests.helpers.support import wait_until


def dask_job(target: str, inputs: str, **options) -> JobSpec:
    return JobSpec.create(target, inputs, backend="dask", **options)


def drain(engine: Engine, seconds: float = 0.0) -> list:
    """Every event published so far (and for ``seconds`` more)."""
    events: list = []
    deadline = time.monotonic() + seconds
    while True:
        try:
            events.extend(engine.events.get(timeout=max(0.05, deadline - time.monotonic())))
        except queue.Empty:
            if time.monotonic() >= deadline:
                return events


def events_until_finished(engine: Engine, job_id: int, timeout: float = 20.0) -> list:
    """Every event published up to the one saying the job finished (job.wait() returns before
    that batch is out, and a loaded machine may publish it late)."""
    events: list = []
    deadline = time.monotonic() + timeout
    while not any(isinstance(e, JobFinished) and e.job_id == job_id for e in events):
        events.extend(engine.events.get(timeout=max(0.05, deadline - time.monotonic())))
    return events


def dask_workers(engine: Engine) -> list[dict]:
    return engine.backend_workers().get("dask", [])


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_gone(pids: set[int]) -> None:
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"processes outlived their cluster: {[p for p in pids if alive(p)]}"
        time.sleep(0.05)


# -- a LocalCluster started by the engine, shared by the tests that do not restart its workers -------
@pytest.fixture(scope="module")
def local():
    engine = Engine(workers=1, dask_workers=2, events=True, nice=0)
    before = {child.pid for child in live_children()}
    warm = engine.submit(dask_job(sample("square"), "range:2")).wait(60)  # starts the LocalCluster
    assert warm.status is JobState.DONE
    cluster_pids = {child.pid for child in live_children()} - before
    yield engine
    engine.shutdown(terminate=True, timeout=30)
    assert_gone(cluster_pids)


@pytest.mark.timeout(60)
def test_results_and_errors_equal_the_local_backends(local):
    specs = [
        dict(target="primes", inputs="range:0:12", kwargs={"size": 2000}),
        dict(target=sample("add"), inputs="json:[1, 5, 9, 40]", kwargs={"offset": 100}),
        dict(target=sample("fail_on"), inputs="range:6", kwargs={"bad": 3}),
    ]
    for spec in specs:
        on_dask = local.submit(JobSpec.create(**spec, backend="dask")).wait(60)
        on_processes = local.submit(JobSpec.create(**spec)).wait(60)
        assert on_dask.results == on_processes.results, spec
        assert on_dask.status is on_processes.status
        assert [(e.index, e.type, e.message) for e in on_dask.errors] == \
               [(e.index, e.type, e.message) for e in on_processes.errors]
    assert on_dask.status is JobState.FAILED and "ValueError: input 3 is bad" in on_dask.errors[0].traceback
    assert on_dask.workers == 2  # one slot per Dask worker thread


@pytest.mark.timeout(60)
def test_progress_reaches_the_engine_and_cancel_stops_running_dask_tasks(local):
    drain(local)
    job = local.submit(dask_job(sample("progress_until_cancelled"), "range:6", chunksize=1))
    seen: list = []

    def progress_seen() -> bool:
        seen.extend(drain(local))
        return any(isinstance(e, WorkerActivity) and e.job_id == job.id and e.task_progress == 0.5 for e in seen)

    wait_until(progress_seen, 20, "progress from a task on a Dask worker")
    local.cancel(job)
    summary = job.wait(15)
    assert summary.status is JobState.CANCELLED
    assert (summary.done, summary.failed, summary.cancelled) == (0, 0, 6)

    # cancel_requested() inside a Dask task sees the cancel flag (polled from the cluster). The
    # first job's tasks may still be stopping on the cluster: wait for them to go, or they would
    # count as the second job's below and it would be cancelled before any of its tasks ran.
    wait_until(lambda: sum(w["executing"] for w in dask_workers(local)) == 0, 20, "the first job's tasks to stop")
    job = local.submit(dask_job(sample("wait_for_cancel"), "range:4", chunksize=1))
    wait_until(lambda: sum(w["executing"] for w in dask_workers(local)) == 2 or job.summary().done, 20,
             "both Dask workers to run the job")
    local.cancel(job)
    summary = job.wait(15)
    assert summary.status is JobState.CANCELLED
    assert summary.done >= 1 and set(summary.results) <= {"noticed", None}
    assert summary.done + summary.cancelled == 4


@pytest.mark.timeout(30)
def test_a_target_that_cannot_load_on_the_cluster_fails_the_job(local):
    missing = Target(text="no_such_module_xyz:f", kind="module", module="no_such_module_xyz", function="f")
    summary = local.submit(JobSpec(target=missing, inputs=parse_inputs("range:5"), backend="dask")).wait(30)
    assert summary.status is JobState.FAILED
    assert summary.errors[0].type == "WorkerStartError"
    assert "no module named 'no_such_module_xyz'" in summary.errors[0].message


@pytest.mark.timeout(30)
def test_the_workers_table_lists_dask_workers(local):
    workers = dask_workers(local)
    assert len(workers) == 2
    for worker in workers:
        assert worker["address"].startswith("tcp://127.0.0.1:")
        assert worker["nthreads"] == 1 and worker["memory_bytes"] > 0 and worker["memory_limit"] > 0
        assert psutil.Process(worker["pid"]).ppid() == os.getpid()  # LocalCluster workers are our children
        assert {"cpu_percent", "executing", "ready", "host", "name"} <= worker.keys()


# -- jobs that restart Dask workers get a cluster of their own ------------------------------------
@pytest.mark.timeout(60)
def test_terminate_restarts_the_dask_workers_running_the_job_and_says_which():
    with Engine(workers=1, dask_workers=2, events=True, nice=0) as engine:
        job = engine.submit(dask_job(sample("spin_ignoring_cancel"), "range:4", chunksize=1,
                                     kwargs={"seconds": 30}))
        wait_until(lambda: sum(w["executing"] for w in dask_workers(engine)) == 2, 20, "both Dask workers busy")
        busy = {w["address"] for w in dask_workers(engine)}
        started = time.monotonic()
        engine.terminate(job)
        summary = job.wait(20)
        assert summary.status is JobState.TERMINATED
        assert time.monotonic() - started < 10
        assert (summary.done, summary.failed, summary.cancelled) == (0, 0, 4)
        notices = [e.message for e in events_until_finished(engine, job.id)
                   if isinstance(e, JobNotice) and e.job_id == job.id]
        named = {address for notice in notices for address in busy if address in notice}
        assert named == busy, notices
        assert all(n.startswith("terminated: restarted Dask workers tcp://") for n in notices), notices
        # the restarted workers take new work
        after = engine.submit(dask_job(sample("square"), "range:6")).wait(30)
        assert after.status is JobState.DONE and after.results == [x * x for x in range(6)]


@pytest.mark.timeout(60)
def test_a_task_over_its_timeout_restarts_its_dask_worker_and_fails_alone():
    with Engine(workers=1, dask_workers=2, events=True, nice=0) as engine:
        summary = engine.submit(dask_job("time:sleep", "json:[0, 30, 0, 0]", timeout=1.5)).wait(40)
        assert summary.status is JobState.FAILED
        [error] = summary.errors
        assert error.type == "TimeoutError" and error.index == 1
        assert (summary.done, summary.failed) == (3, 1)
        notices = [e.message for e in events_until_finished(engine, summary.job_id) if isinstance(e, JobNotice)]
        assert any(n.startswith("stopped: restarted Dask workers tcp://") for n in notices), notices


@pytest.mark.timeout(60)
def test_a_dask_worker_killed_mid_job_is_survived_and_a_crashing_task_is_reported():
    # One retry by Dask (the scheduler's allowed-failures) keeps the crash case quick.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            Engine(workers=1, dask_workers=2, events=True, nice=0) as engine:
        job = engine.submit(dask_job(sample("spin"), "range:10", chunksize=1, kwargs={"seconds": 0.4}))
        wait_until(lambda: job.summary().done >= 1 and sum(w["executing"] for w in dask_workers(engine)) == 2,
                 20, "the job to be half-way")
        victim = dask_workers(engine)[0]
        os.kill(victim["pid"], signal.SIGKILL)
        summary = job.wait(40)
        assert summary.status is JobState.DONE, summary.errors
        assert summary.results == list(range(10))

        # a task that kills every worker it runs on fails once Dask's retries are spent; the rest run
        summary = engine.submit(dask_job(sample("crash_on"), "json:[0, 1, 3, 4, 2]", chunksize=1,
                                         kwargs={"bad": 2})).wait(40)
        assert summary.status is JobState.FAILED
        assert len(summary.errors) == 1, summary.errors
        [error] = summary.errors
        assert (error.index, error.type) == (4, "WorkerCrashed")
        assert error.message.startswith("Dask worker tcp://127.0.0.1:") and " lost: " in error.message
        assert "allowed-failures is 1" in error.message
        assert summary.results == [0, 1, 3, 4, None]


# -- a scheduler and two workers started here as separate processes -------------------------------
@pytest.fixture(scope="module")
def external(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker`` processes on loopback; yields the scheduler's address."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    dask_cli = [sys.executable, "-m", "dask"]
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)
    processes = [subprocess.Popen([*dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", str(scheduler_file)], **quiet)]
    pids: set[int] = set()
    try:
        wait_until(scheduler_file.exists, 30, "the scheduler file")
        for _ in range(2):
            processes.append(subprocess.Popen([*dask_cli, "worker", "--scheduler-file", str(scheduler_file),
                                               "--nthreads", "1", "--no-dashboard"], **quiet))
        from distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout=10, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=30)
            address = client.scheduler.address
        for process in processes:  # each worker is a nanny process with the worker process under it
            pids |= {process.pid} | {child.pid for child in psutil.Process(process.pid).children(recursive=True)}
        yield address
    finally:
        for process in reversed(processes):  # workers first, then the scheduler
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
    assert_gone(pids)


@pytest.mark.timeout(60)
def test_a_scheduler_and_workers_started_separately_give_the_same_results(external):
    with Engine(workers=1, dask_scheduler=external, nice=0) as engine:
        spec = dict(target="primes", inputs="range:0:10", kwargs={"size": 2000})
        on_dask = engine.submit(JobSpec.create(**spec, backend="dask")).wait(60)
        on_processes = engine.submit(JobSpec.create(**spec)).wait(60)
        assert on_dask.status is JobState.DONE and on_dask.results == on_processes.results
        assert on_dask.workers == 2
        file_target = engine.submit(dask_job(sample("add"), "range:5", kwargs={"offset": 7})).wait(30)
        assert file_target.results == [7, 8, 9, 10, 11]
        workers = dask_workers(engine)
        assert len(workers) == 2 and all(w["pid"] for w in workers)


# -- the command line ------------------------------------------------------------------------------
def poolscope(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "poolscope", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


@pytest.mark.timeout(60)
def test_cli_runs_on_a_local_cluster_and_on_a_given_scheduler(external):
    from poolscope.tasks.primes import count_primes

    expected = [count_primes(block, size=2000) for block in range(10)]
    for extra in ([], ["--scheduler", external]):
        result = poolscope("run", "primes", "--backend", "dask", "--inputs", "range:0:10", "--kwargs", '{"size": 2000}',
                           "--json", *extra)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["status"] == "done" and summary["results"] == expected and summary["workers"] == 2


@pytest.mark.timeout(60)
def test_ctrl_c_in_the_terminal_cancels_the_job_and_spares_the_local_clusters_workers():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    run = subprocess.Popen([sys.executable, "-m", "poolscope", "run", "primes", "--backend", "dask", "--inputs",
                            "range:0:400", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env, cwd=ROOT, start_new_session=True)  # its own group, as a shell gives it
    try:
        assert run.stderr is not None
        lines = []
        while not any("the Dask backend is ready" in line for line in lines):  # Ctrl-C is ours from here on
            line = run.stderr.readline()
            assert line, f"poolscope ended early: {''.join(lines)}"
            lines.append(line)
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
        out, err = run.communicate(timeout=20)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()
    assert run.returncode == 130, err
    assert json.loads(out)["status"] == "cancelled"
    assert "KeyboardInterrupt" not in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.timeout(30)
def test_an_unreachable_scheduler_fails_the_job_with_a_clear_error():
    address = f"tcp://127.0.0.1:{free_port()}"
    with Engine(workers=1, dask_scheduler=address, nice=0) as engine:
        started = time.monotonic()
        summary = engine.submit(dask_job("primes", "range:3")).wait(20)
        assert time.monotonic() - started < 7  # a short connection timeout, not Dask's 30 s
    assert summary.status is JobState.FAILED and summary.done == 0 and summary.cancelled == 3
    [error] = summary.errors
    assert error.type == "BackendError"
    assert error.message.startswith("the dask backend could not start: ConnectionError: "
                                    f"no Dask scheduler at {address}")
    assert "dask scheduler" in error.message

    result = poolscope("run", "primes", "--backend", "dask", "--scheduler", address, "--inputs", "range:3", "--json")
    assert result.returncode == 1
    assert f"no Dask scheduler at {address}" in json.loads(result.stdout)["errors"][0]["message"]



@pytest.mark.timeout(60)
def test_the_scheduler_can_be_changed_until_dask_starts(external):
    with Engine(workers=1, nice=0) as engine:
        engine.set_dask_scheduler(f"tcp://127.0.0.1:{free_port()}")  # nobody listens there
        with pytest.raises(ConnectionError):
            engine.start_backend("dask")
        engine.set_dask_scheduler(external)  # a failed start fixes nothing: a corrected address is taken
        assert engine.start_backend("dask") == 2
        assert engine.can_use_dask_scheduler(external) and not engine.can_use_dask_scheduler(None)
        assert engine.dask_scheduler == external  # asking changed nothing
        with pytest.raises(RuntimeError, match="already runs on"):
            engine.set_dask_scheduler(None)
        engine.set_dask_scheduler(external)  # the same one is fine
        assert engine.dask_scheduler == external
