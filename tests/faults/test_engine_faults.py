"""User code at every stage of a task's life: it may fail its task or its job, never the engine.

The engine's thread runs user code when it pickles a job's kwargs and a chunk's inputs, reads an
input iterator, names an input (repr) and calls ``on_result``; a worker runs it when it unpickles
them and sets a job up. Whatever that code raises (``SystemExit`` and ``KeyboardInterrupt``
included), or a crash while it runs, is charged to the task or job it belongs to: the engine keeps
taking jobs, nothing hangs, and a fault that kills workers before a chunk starts is counted, not
respawned for ever.
"""

from __future__ import annotations

import threading
import time

import pytest

from poolscope.core.engine import Engine
from poolscope.core.events import JobNotice, WorkerExited
from poolscope.core.jobs import JobSpec, JobState
from poolscope.core.results import UnreadableResult
from tests.conftest import sample
from tests.helpers import sample_tasks
from tests.helpers.support import drain, full_strength, wait_until

pytestmark = pytest.mark.timeout(60)


def still_takes_jobs(engine) -> None:
    assert engine.submit(JobSpec.create(sample("square"), "range:3")).wait(30).results == [0, 1, 4]


# -- the engine's thread -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [SystemExit, KeyboardInterrupt])
def test_an_argument_whose_pickling_exits_fails_its_task_only(engine, kind):
    inputs = [1, sample_tasks.ExitsWhenPickled(kind), 3, sample_tasks.BadRepr(kind)]
    summary = engine.submit(JobSpec.create(sample_tasks.square, inputs, chunksize=4)).wait(30)
    assert summary.results == [1, None, 9, None]
    assert [(e.index, e.type) for e in summary.errors] == [(1, "UnpicklableInput"), (3, "UnpicklableInput")]
    assert kind.__name__ in summary.errors[0].message
    assert summary.errors[1].input_repr == "<BadRepr>"  # its repr raised too
    still_takes_jobs(engine)


def test_kwargs_that_cannot_be_pickled_fail_the_job_saying_so(engine):
    summary = engine.submit(JobSpec.create(sample("add"), "range:3",
                                           kwargs={"offset": sample_tasks.ExitsWhenPickled()})).wait(30)
    assert summary.status is JobState.FAILED
    assert summary.errors[0].type == "UnpicklableInput"
    assert "keyword arguments could not be pickled: SystemExit" in summary.errors[0].message
    assert summary.cancelled == 3  # none ran
    still_takes_jobs(engine)


@pytest.mark.parametrize("kind", [SystemExit, KeyboardInterrupt])
def test_an_on_result_callback_that_exits_does_not_stop_the_engine(engine, kind, capsys):
    def on_result(index, value, result):
        raise kind()

    summary = engine.submit(JobSpec.create(sample("square"), "range:5", chunksize=2), on_result=on_result).wait(30)
    assert summary.status is JobState.DONE and summary.results == [0, 1, 4, 9, 16]
    notices = [e for e in drain(engine) if isinstance(e, JobNotice)]
    assert len(notices) == 1 and f"on_result callback raised {kind.__name__}" in notices[0].message
    assert capsys.readouterr().err.count(kind.__name__) == 1  # its traceback, once
    still_takes_jobs(engine)


def _yields_then_raises(kind: type[BaseException]):
    yield 1
    yield 2
    raise kind("the source broke")


class _IterRaises:
    def __iter__(self):
        raise SystemExit("no inputs today")


@pytest.mark.parametrize("kind", [ValueError, SystemExit])
def test_an_input_iterator_that_raises_fails_its_job_after_running_what_it_gave(engine, kind):
    other = engine.submit(JobSpec.create(sample("spin"), "range:6", kwargs={"seconds": 0.05}))
    summary = engine.submit(JobSpec.create(sample("square"), _yields_then_raises(kind))).wait(30)
    assert summary.status is JobState.FAILED
    assert summary.results == [1, 4] and summary.done == 2
    [error] = summary.errors
    assert error.type == "InputError" and f"after 2 inputs: {kind.__name__}: the source broke" in error.message
    assert "_yields_then_raises" in error.traceback
    assert other.wait(30).results == list(range(6))  # other jobs go on
    still_takes_jobs(engine)


def test_an_input_iterable_whose_iter_raises_fails_its_job(engine):
    summary = engine.submit(JobSpec.create(sample("square"), _IterRaises())).wait(30)
    assert summary.status is JobState.FAILED and summary.done == 0
    assert summary.errors[0].type == "InputError" and "SystemExit: no inputs today" in summary.errors[0].message
    still_takes_jobs(engine)


def test_a_callback_that_submits_while_the_wake_pipe_is_full_does_not_deadlock(engine):
    flooded = threading.Event()
    submitted = []

    def flood():
        for _ in range(50_000):  # far more cancels than the wake pipe holds bytes
            engine.cancel(10**9)  # no such job: a command like any other
        flooded.set()

    def on_result(index, value, result):
        if index == 0:  # on the engine's thread: nobody drains the wake pipe meanwhile
            threading.Thread(target=flood, daemon=True).start()
            flooded.wait(5)
            submitted.append(engine.submit(JobSpec.create(sample("square"), "range:3")))

    job = engine.submit(JobSpec.create(sample("square"), "range:2", chunksize=1), on_result=on_result)
    assert job.wait(30).status is JobState.DONE
    assert submitted[0].wait(30).results == [0, 1, 4]
    assert flooded.is_set()


def test_unpicklable_inputs_cost_no_wait():
    # Without events (library use), the engine sleeps up to its 0.1 s housekeeping tick when
    # nothing arrives: each bad input used to leave the worker idle that long, 10 s in all.
    with Engine(workers=1, nice=0) as engine:
        wait_until(lambda: full_strength(engine))
        inputs = [threading.Lock() for _ in range(100)] + [5]
        began = time.monotonic()
        summary = engine.submit(JobSpec.create(sample_tasks.square, inputs, chunksize=1)).wait(30)
        seconds = time.monotonic() - began
    assert summary.failed == 100 and summary.results[-1] == 25
    assert seconds < 3.0, f"100 unpicklable inputs took {seconds:.1f} s"


# -- result stages (neighbours of the argument stages) ----------------------------------------------

def test_a_result_whose_pickling_exits_fails_its_task_only(engine):
    summary = engine.submit(JobSpec.create(sample("result_exits_when_pickled"), "range:2")).wait(30)
    assert summary.failed == 2
    assert all(e.type == "UnpicklableResult" and "SystemExit" in e.message for e in summary.errors)
    still_takes_jobs(engine)


def test_a_result_whose_unpickling_exits_reads_as_unreadable_and_ends_nothing(engine):
    """The engine never builds a result of user code (that would run it in the window's process):
    the task is done, and the caller that asks for it gets an UnreadableResult naming SystemExit,
    not an exit of its own process."""
    summary = engine.submit(JobSpec.create(sample("result_exits_when_unpickled"), "range:2")).wait(30)
    assert (summary.done, summary.failed) == (2, 0)
    assert all(isinstance(r, UnreadableResult) and "SystemExit" in r.message for r in summary.results)
    still_takes_jobs(engine)


# -- the worker: unpickling and set-up --------------------------------------------------------------

def test_an_argument_that_fails_to_unpickle_in_the_worker_fails_its_task_only(engine):
    wait_until(lambda: full_strength(engine))
    pids = sorted(engine.worker_pids())
    inputs = [1, sample_tasks.FailsToUnpickle(), 3, 4, 5]
    summary = engine.submit(JobSpec.create(sample_tasks.square, inputs, chunksize=5)).wait(30)
    assert summary.results == [1, None, 9, 16, 25]
    [error] = summary.errors
    assert (error.index, error.type) == (1, "UnpicklableInput")
    assert "could not be unpickled in the worker: UnpicklingError: this object cannot be rebuilt" in error.message
    assert sorted(engine.worker_pids()) == pids  # the workers live on
    still_takes_jobs(engine)


def test_kwargs_that_fail_to_unpickle_in_the_worker_fail_the_job_once(engine):
    summary = engine.submit(JobSpec.create(sample("add"), "range:3",
                                           kwargs={"offset": sample_tasks.FailsToUnpickle()})).wait(30)
    assert summary.status is JobState.FAILED
    assert summary.errors[0].type == "WorkerStartError"
    assert "keyword arguments could not be unpickled here: UnpicklingError" in summary.errors[0].message
    still_takes_jobs(engine)


@pytest.mark.parametrize(("bad", "exitcode", "named"), [(sample_tasks.ExitsWhenUnpickled(5), 5, "exit code 5"),
                                                          (sample_tasks.SegfaultsWhenUnpickled(), -11, "SIGSEGV")])
def test_an_argument_that_kills_its_worker_while_unpickling_counts_as_a_crash(engine, bad, exitcode, named):
    summary = engine.submit(JobSpec.create(sample_tasks.square, [1, bad, 3], chunksize=3, retries=1)).wait(30)
    assert summary.results == [1, None, 9]
    [error] = summary.errors
    assert (error.index, error.type) == (1, "WorkerCrashed")
    assert named in error.message and "after 1 retries" in error.message
    exits = [e for e in drain(engine) if isinstance(e, WorkerExited)]
    assert [e.exitcode for e in exits] == [exitcode] * 3  # the chunk, then input 1 alone, then its retry
    still_takes_jobs(engine)


@pytest.mark.parametrize("retries", [0, 1])
def test_an_initializer_that_exits_fails_the_job_naming_it(engine, retries):
    spec = JobSpec.create(sample("square"), "range:6", retries=retries, initializer=sample("exit_in_initializer"))
    summary = engine.submit(spec).wait(30)
    assert summary.status is JobState.FAILED
    error = summary.errors[0]
    assert error.type == "WorkerStartError"
    assert "died while setting the job up" in error.message and "exit_in_initializer" in error.message
    assert "exit code 4" in error.message
    exits = [e for e in drain(engine) if isinstance(e, WorkerExited)]
    # Each of the two workers may have been setting the job up when the last allowed one died.
    assert retries + 1 <= len(exits) <= retries + 2
    still_takes_jobs(engine)


def test_kwargs_that_kill_the_worker_while_unpickling_fail_the_job(engine):
    spec = JobSpec.create(sample("add"), "range:4", kwargs={"offset": sample_tasks.ExitsWhenUnpickled(6)})
    summary = engine.submit(spec).wait(30)
    assert summary.status is JobState.FAILED
    assert "unpickling its keyword arguments" in summary.errors[0].message
    assert "exit code 6" in summary.errors[0].message
    still_takes_jobs(engine)


# -- scheduling: a queued chunk never waits behind a long task while a worker idles ----------------

def test_a_long_task_queued_behind_another_moves_to_an_idle_worker(engine):
    wait_until(lambda: full_strength(engine))
    # The first worker runs input 0 (long); the second runs input 1, which measures the job as
    # fast, so the first is sent input 3 (long) in advance, behind input 0, while the second
    # drains the short ones and then idles.
    inputs = [2.0, 0, 0, 2.0, 0, 0, 0, 0, 0, 0]
    summary = engine.submit(JobSpec.create(sample("sleep_then_pid"), inputs, chunksize=1)).wait(30)
    assert summary.status is JobState.DONE
    assert summary.results[0] != summary.results[3], "both long tasks ran one after the other on one worker"
