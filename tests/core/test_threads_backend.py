"""The threads backend: same results and cancel as processes; terminate says it cannot kill."""

from __future__ import annotations

import threading

import pytest

from poolscope.core.engine import Engine
from poolscope.core.events import JobNotice
from poolscope.core.jobs import JobSpec, JobState
from tests.conftest import sample
from tests.helpers.support import drain

pytestmark = pytest.mark.timeout(60)


def test_threads_give_the_same_results_as_processes():
    with Engine(workers=2, threads=3, nice=0) as engine:
        spec = dict(target="primes", inputs="range:0:8", kwargs={"size": 3000})
        on_threads = engine.submit(JobSpec.create(**spec, backend="threads")).wait(60)
        on_processes = engine.submit(JobSpec.create(**spec)).wait(60)
        assert on_threads.status is JobState.DONE
        assert on_threads.results == on_processes.results
        assert on_threads.workers == 3 and on_processes.workers == 2


def test_thread_tasks_run_in_this_process():
    with Engine(workers=1, threads=2, nice=0) as engine:
        summary = engine.submit(JobSpec.create(sample("pid_of_worker"), "range:4", backend="threads")).wait(30)
        import os

        assert set(summary.results) == {os.getpid()}
    assert not [t for t in threading.enumerate() if t.name.startswith("poolscope-thread")]


def test_cancel_works_on_threads_and_terminate_says_it_cannot_kill():
    with Engine(workers=1, threads=2, nice=0, events=True) as engine:
        first = engine.submit(JobSpec.create(sample("progress_until_cancelled"), "range:6", backend="threads",
                                             chunksize=1))
        second = engine.submit(JobSpec.create(sample("progress_until_cancelled"), "range:6", backend="threads",
                                              chunksize=1))
        import time

        deadline = time.monotonic() + 10
        while first.state is not JobState.RUNNING and time.monotonic() < deadline:
            time.sleep(0.01)
        engine.cancel(first)
        assert first.wait(10).status is JobState.CANCELLED
        engine.terminate(second)
        summary = second.wait(10)
        assert summary.status is JobState.CANCELLED
        notices = [event for event in drain(engine) if isinstance(event, JobNotice)]
        assert notices and all("threads cannot be killed" in notice.message for notice in notices)
        assert {notice.job_id for notice in notices} == {second.id}


def test_two_thread_slots_loading_one_file_target_at_once_both_find_its_function(tmp_path):
    """Thread slots share a process: one slot found the file's module in sys.modules while another
    was still running it ("has no function 'square'"), and the job failed."""
    import threading

    from poolscope.core.targets import parse_target

    task = tmp_path / "slow_import.py"
    task.write_text("import time\ntime.sleep(0.3)\ndef square(x):\n    return x * x\n")
    target = parse_target(f"{task}:square")
    found: list = []

    def load() -> None:
        try:
            found.append(target.load()(3))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            found.append(exc)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert found == [9, 9]
