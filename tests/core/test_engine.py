"""The engine: results, concurrency, cancel, terminate, errors. No Qt here."""

from __future__ import annotations

import json
import os
import queue

import psutil
import pytest

from poolscope.core.engine import Engine, EngineClosed
from poolscope.core.events import (
    JobFinished,
    JobNotice,
    TaskFailed,
    TasksFinished,
    WorkerActivity,
    WorkerExited,
    WorkerStarted,
)
from poolscope.core.jobs import JobSpec, JobState
from poolscope.core.targets import parse_target
from poolscope.tasks import BUILTIN_TASKS
from tests.conftest import sample
from tests.helpers.support import drain, wait_until

pytestmark = pytest.mark.timeout(90)


SMALL_BUILTIN_RUNS = {
    "primes": ("range:0:6", {"size": 2000}),
    "pi": ("range:0:6", {"samples": 5000}),
    "mandelbrot": ("range:0:6", {"width": 60, "height": 6, "max_iter": 50}),
    "sha256": ("range:0:6", {"rounds": 500}),
    "collatz": ("range:0:6", {"size": 500}),
    "sleep": ("range:0:4", {"seconds": 0.01}),
    "noop": ("range:0:50", {}),
}


def test_every_builtin_gives_the_serial_results(engine):
    assert set(SMALL_BUILTIN_RUNS) == set(BUILTIN_TASKS)
    jobs = {name: engine.submit(JobSpec.create(name, inputs, kwargs=kwargs))
            for name, (inputs, kwargs) in SMALL_BUILTIN_RUNS.items()}
    for name, job in jobs.items():
        inputs, kwargs = SMALL_BUILTIN_RUNS[name]
        function = JobSpec.create(name, inputs, kwargs=kwargs).target.load()
        serial = [function(x, **kwargs) for x in JobSpec.create(name, inputs).inputs.iterate()]
        summary = job.wait(60)
        assert summary.status is JobState.DONE, summary.errors
        assert summary.results == serial
        assert (summary.done, summary.failed, summary.cancelled) == (len(serial), 0, 0)


def test_three_jobs_at_once_are_all_correct(engine):
    specs = [JobSpec.create(sample("square"), "range:2000"),
             JobSpec.create(sample("add"), "range:100:1100", kwargs={"offset": 7}),
             JobSpec.create(sample("square"), "json:[3, 4, 5]", chunksize=1)]
    jobs = [engine.submit(spec) for spec in specs]
    summaries = [job.wait(60) for job in jobs]
    assert summaries[0].results == [x * x for x in range(2000)]
    assert summaries[1].results == [x + 7 for x in range(100, 1100)]
    assert summaries[2].results == [9, 16, 25]
    assert all(s.status is JobState.DONE for s in summaries)


def test_a_small_job_behind_a_huge_one_is_not_starved(engine):
    huge = engine.submit(JobSpec.create(sample("spin"), "range:100000", kwargs={"seconds": 0.001}))
    wait_until(lambda: huge.summary().done > 0)
    small = engine.submit(JobSpec.create(sample("square"), "range:10"))
    summary = small.wait(30)
    assert summary.results == [x * x for x in range(10)]
    assert not huge.state.is_final  # the small one did not wait for the huge one
    engine.cancel(huge)
    assert huge.wait(30).status is JobState.CANCELLED


def test_a_task_exception_is_reported_with_its_remote_traceback(engine):
    job = engine.submit(JobSpec.create(sample("fail_on"), "range:8", kwargs={"bad": 3}))
    summary = job.wait(30)
    assert summary.status is JobState.FAILED
    assert (summary.done, summary.failed) == (7, 1)
    assert summary.results == [0, 1, 2, None, 4, 5, 6, 7]
    [error] = summary.errors
    assert (error.index, error.type, error.message) == (3, "ValueError", "input 3 is bad")
    assert "in fail_on" in error.traceback and "sample_tasks.py" in error.traceback
    assert error.pid in {event.pid for event in drain(engine) if isinstance(event, WorkerStarted)}


def test_cancel_drops_pending_tasks_and_stops_running_ones(engine):
    job = engine.submit(JobSpec.create(sample("progress_until_cancelled"), "range:50", kwargs={"seconds": 60}))
    busy: set[int] = set()

    def both_workers_busy() -> bool:
        try:
            batch = engine.events.get(timeout=0.1)
        except queue.Empty:
            batch = []
        busy.update(e.pid for e in batch if isinstance(e, WorkerActivity) and e.job_id == job.id)
        return len(busy) == 2

    wait_until(both_workers_busy)
    engine.cancel(job)
    summary = job.wait(10)
    assert summary.status is JobState.CANCELLED
    assert (summary.done, summary.failed, summary.cancelled) == (0, 0, 50)
    assert len(engine.worker_pids()) == 2  # cooperative: nobody was killed


def test_running_tasks_see_cancel_requested(engine, tmp_path):
    paths = [str(tmp_path / "first"), str(tmp_path / "second")]
    job = engine.submit(JobSpec.create(sample("wait_for_cancel"), "json:" + json.dumps(paths), chunksize=1))
    wait_until(lambda: all(os.path.exists(path) for path in paths))  # both tasks are running
    engine.cancel(job)
    summary = job.wait(10)
    assert summary.results == ["noticed", "noticed"]
    assert summary.done == 2


def test_terminate_kills_exactly_the_jobs_workers_while_another_finishes():
    with Engine(workers=3, nice=0, events=True) as engine:
        wait_until(lambda: len(engine.worker_pids()) == 3)
        stuck = engine.submit(JobSpec.create(sample("spin_ignoring_cancel"), "json:[1]", kwargs={"seconds": 60}))
        wait_until(lambda: stuck.state is JobState.RUNNING)
        other = engine.submit(JobSpec.create(sample("pid_of_worker"), "range:40", kwargs={"seconds": 0.05},
                                             chunksize=1))
        wait_until(lambda: other.summary().done >= 4)
        before = set(engine.worker_pids())
        engine.terminate(stuck)
        assert stuck.wait(10).status is JobState.TERMINATED
        other_summary = other.wait(30)
        assert other_summary.status is JobState.DONE
        assert other_summary.results and None not in other_summary.results
        events = drain(engine)
        killed = {event.pid for event in events if isinstance(event, WorkerExited)}
        assert len(killed) == 1 and killed <= before
        [victim] = killed
        assert not psutil.pid_exists(victim) or psutil.Process(victim).status() == psutil.STATUS_ZOMBIE
        assert victim not in engine.worker_pids()
        wait_until(lambda: len(engine.worker_pids()) == 3)  # replaced


def test_results_keep_input_order_and_callbacks_see_each(engine):
    seen = {}
    job = engine.submit(JobSpec.create(sample("square"), "range:500"),
                        on_result=lambda i, x, r: seen.setdefault(i, (x, r)))
    assert job.wait(30).results == [x * x for x in range(500)]
    assert seen == {x: (x, x * x) for x in range(500)}


def test_event_counts_equal_the_summary(engine):
    job = engine.submit(JobSpec.create(sample("fail_on"), "range:3000", kwargs={"bad": 17}))
    summary = job.wait(30)
    events = drain(engine)
    finished = [event for event in events if isinstance(event, TasksFinished) and event.job_id == job.id]
    assert sum(event.done for event in finished) == summary.done == 2999
    assert sum(event.failed for event in finished) == summary.failed == 1
    assert [event.error.index for event in events if isinstance(event, TaskFailed)] == [17]
    assert [event.summary.status for event in events if isinstance(event, JobFinished)] == [JobState.FAILED]


def test_an_unstartable_target_fails_the_job_once(engine, tmp_path):
    module = tmp_path / "flaky_import.py"
    # It does not import in a worker process; given as a Target, it is taken as checked (as the
    # window's form does after its check), so the engine meets the failure in the workers.
    module.write_text("import multiprocessing\nif multiprocessing.parent_process() is not None:\n"
                      "    raise RuntimeError('no licence server')\ndef f(x):\n    return x\n")
    job = engine.submit(JobSpec.create(parse_target(f"{module}:f"), "range:20"))
    summary = job.wait(30)
    assert summary.status is JobState.FAILED
    assert summary.done == 0
    assert summary.errors[0].type == "WorkerStartError"
    assert "worker could not start" in summary.errors[0].message
    assert "no licence server" in summary.errors[0].message
    assert not [e for e in drain(engine) if isinstance(e, WorkerExited)]  # no worker died, no respawn loop


def test_an_initializer_runs_once_in_each_worker_before_the_jobs_tasks(engine):
    spec = JobSpec.create(sample("initialized"), "range:40", initializer=sample("load_state"), chunksize=1)
    summary = engine.submit(spec).wait(30)
    assert summary.status is JobState.DONE
    assert summary.results == [(x, 1) for x in range(40)]


def test_a_failing_initializer_fails_the_job_once_saying_why(engine):
    spec = JobSpec.create(sample("square"), "range:20", initializer=sample("failing_initializer"))
    summary = engine.submit(spec).wait(30)
    assert summary.status is JobState.FAILED and summary.done == 0
    [error] = [e for e in summary.errors if e.index == -1]
    assert error.type == "WorkerStartError" and "worker could not start" in error.message
    assert "initializer" in error.message and "RuntimeError: no model file here" in error.message
    assert not [e for e in drain(engine) if isinstance(e, WorkerExited)]  # no worker died, no respawn loop
    assert engine.submit(JobSpec.create(sample("square"), "range:3")).wait(30).results == [0, 1, 4]


def test_shutdown_refuses_new_jobs_and_leaves_no_process():
    engine = Engine(workers=2, nice=0)
    job = engine.submit(JobSpec.create(sample("square"), "range:10"))
    engine.shutdown()
    assert job.wait(0).results == [x * x for x in range(10)]
    with pytest.raises(EngineClosed):
        engine.submit(JobSpec.create(sample("square"), "range:10"))
    assert engine.worker_pids() == []


def test_workers_run_at_the_requested_nice_level():
    with Engine(workers=1, nice=7) as engine:
        job = engine.submit(JobSpec.create(sample("pid_of_worker"), "json:[0]"))
        [pid] = job.wait(30).results
        base = psutil.Process().nice()
        assert psutil.Process(pid).nice() == min(19, base + 7)


def test_a_forgotten_job_leaves_the_engine_but_its_handle_still_answers(engine):
    job = engine.submit(JobSpec.create(sample("square"), "range:5"))
    engine.forget(job)  # a running job is kept; a finished one goes: the handle works either way
    assert job.wait(30).results == [0, 1, 4, 9, 16]
    engine.forget(job)
    with pytest.raises(KeyError):
        engine.job(job.id)
    assert job.wait(0).results == [0, 1, 4, 9, 16]


def test_the_first_thousand_failures_are_kept_in_full_and_the_rest_counted(engine):
    summary = engine.submit(JobSpec.create(sample("fail_on"), "json:" + json.dumps([7] * 1500),
                                           kwargs={"bad": 7})).wait(60)
    assert summary.failed == 1500 and len(summary.errors) == 1000
    assert all(error.traceback and error.message == "input 7 is bad" for error in summary.errors)
    assert summary.errors_omitted == {"ValueError": 500}
    assert summary.to_json()["errors_omitted"] == {"ValueError": 500}
    events = drain(engine)
    assert sum(isinstance(event, TaskFailed) for event in events) == 1000  # the window is not flooded
    [notice] = [event for event in events if isinstance(event, JobNotice)]
    assert "more than 1,000 of its tasks failed" in notice.message
    finished = [event for event in events if isinstance(event, JobFinished)]
    assert finished[-1].summary.failed == 1500 and len(finished[-1].summary.errors) == 1000


def test_a_workers_tasks_done_counts_tasks_it_ran_not_those_a_cancel_skipped(engine):
    job = engine.submit(JobSpec.create(sample("spin"), "range:400", kwargs={"seconds": 0.005}, chunksize=100))
    wait_until(lambda: job.summary().done >= 20, what="20 tasks done")
    engine.cancel(job)
    summary = job.wait(30)
    assert summary.cancelled > 0
    last: dict[int, int] = {}
    for event in drain(engine):
        if isinstance(event, WorkerActivity):
            last[event.pid] = event.tasks_done
    assert sum(last.values()) == summary.done + summary.failed
