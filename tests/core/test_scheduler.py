"""The scheduler's rules on their own (core/scheduler.py), with no process started: chunk sizing,
a job's tail, prefetch and taking a chunk back, which job a free worker serves, and what becomes
of the chunks of a worker that is gone. Worker slots here are records with no process behind them."""

from __future__ import annotations

from typing import Any

import pytest

from poolscope.core import scheduler
from poolscope.core.job_record import Chunk, JobRecord
from poolscope.core.jobs import JobSpec
from poolscope.core.scheduler import Fate, dead_chunk_fate
from poolscope.core.slots import WorkerSlot

NOW = 1000.0  # a monotonic time, given to the rules as they are given it by the engine


def job(job_id: int = 1, *, total: int | None = 1000, per_task: float | None = None, workers: int = 2,
        backend: str = "processes", **options: Any) -> JobRecord:
    spec = JobSpec.create("noop", "range:10", backend=backend, **options)
    record = JobRecord(job_id, spec, None)
    record.total = total
    record.seconds_per_task = per_task
    record.workers = workers
    record.inputs = spec.inputs.open()  # as registered: it has work
    return record


def slot(number: int, *, backend: str = "processes", ready: bool = True) -> WorkerSlot:
    return WorkerSlot(backend, number, handle=None, conn=None, pid=100 + number, ready=ready)  # type: ignore[arg-type]


def running(worker: WorkerSlot, record: JobRecord, tasks: int, *, started: bool = True) -> Chunk:
    """Put a chunk of ``tasks`` tasks on the worker, as the engine does when it sends one."""
    chunk = Chunk.new(record, record.next_index, list(range(tasks)))
    record.next_index += tasks
    chunk.sent_at = NOW - 1.0
    chunk.started_at = NOW - 1.0 if started and not worker.outstanding else None
    worker.outstanding.append(chunk)
    worker.job_tasks_sent[record.id] += tasks
    record.chunks_out += 1
    return chunk


def plan(workers: list[WorkerSlot], jobs: list[JobRecord], *, tasks: int = 10,
         refuse: int = 0) -> list[tuple[int, int]]:
    """Drive scheduler.assignments as the engine does: (worker slot, job id) of each turn given,
    sending a chunk of ``tasks`` tasks for each but the first ``refuse`` (dropped, turn not used)."""
    given = []
    turns = scheduler.assignments(workers, jobs, NOW)
    try:
        worker, record = next(turns)
        while True:
            given.append((worker.slot, record.id))
            if refuse:
                refuse -= 1
                worker, record = turns.send(False)
            else:
                running(worker, record, tasks, started=False)
                worker, record = turns.send(True)
    except StopIteration:
        return given


# -- chunk size ------------------------------------------------------------------------------------
def test_a_chunk_size_given_is_used_as_it_is():
    assert scheduler.chunk_size(job(chunksize=7, per_task=1e-6)) == 7


def test_an_unmeasured_job_or_one_with_a_timeout_sends_one_task_a_chunk():
    assert scheduler.chunk_size(job(per_task=None)) == 1
    assert scheduler.chunk_size(job(per_task=0.001, timeout=5)) == 1  # a timeout is per task


def test_a_measured_job_sends_about_50_ms_of_tasks_a_chunk():
    assert scheduler.chunk_size(job(total=None, per_task=0.001)) == 50
    assert scheduler.chunk_size(job(total=None, per_task=0.2)) == 1  # never none
    assert scheduler.chunk_size(job(total=None, per_task=1e-9)) == scheduler.MAX_CHUNK


def test_the_tail_is_shared_among_the_workers_in_chunks_worth_a_round_trip():
    record = job(total=1_000_000, per_task=1e-5, workers=2)  # 50 ms is 5,000 tasks
    assert scheduler.chunk_size(record) == 5000
    record.next_index = 1_000_000 - 10_000  # 10,000 left: two rounds of two workers, 2,500 each
    assert scheduler.chunk_size(record) == 2500
    record.next_index = 1_000_000 - 100  # 25 each would be 0.25 ms: 2 ms of tasks at least
    assert scheduler.chunk_size(record) == 200


def test_a_job_is_in_its_tail_when_no_more_tasks_are_unsent_than_workers():
    record = job(total=10, workers=2)
    record.next_index = 8
    assert scheduler.in_tail(record)
    record.next_index = 7
    assert not scheduler.in_tail(record)
    record.next_index = 10
    record.requeued.append(Chunk.new(record, 0, [0, 1, 2]))  # requeued tasks are unsent too
    assert not scheduler.in_tail(record)
    assert not scheduler.in_tail(job(total=None))  # a stream of unknown length has no known tail


# -- prefetch and taking back ----------------------------------------------------------------------
def test_a_worker_gets_a_second_chunk_only_when_chunks_are_measured_short():
    short, long_, unmeasured = job(1, per_task=0.001), job(2, per_task=0.01), job(3)
    assert scheduler.may_prefetch(Chunk.new(short, 0, list(range(100))))  # 0.1 s
    assert not scheduler.may_prefetch(Chunk.new(long_, 0, list(range(100))))  # 1 s
    assert not scheduler.may_prefetch(Chunk.new(unmeasured, 0, [0]))

    busy = slot(0)
    running(busy, short, 100)
    assert plan([busy], [short]) == [(0, 1)]  # its second chunk, in advance
    other = slot(1)
    running(other, long_, 100)
    assert plan([other], [long_]) == []


def test_no_chunk_is_sent_in_advance_while_a_job_waits_in_its_tail():
    record = job(total=1000, per_task=0.001, workers=2)
    busy = slot(0)
    running(busy, record, 100)
    record.next_index = 999  # one task left: it goes to the next free worker, not behind a chunk
    assert plan([busy], [record]) == []
    record.next_index = 900
    assert plan([busy], [record]) == [(0, 1)]


def test_a_chunk_queued_behind_a_running_one_is_asked_back_for_an_idle_worker():
    record = job(per_task=0.001)
    busy, idle = slot(0), slot(1)
    running(busy, record, 10)
    queued = running(busy, record, 10)
    assert scheduler.chunks_to_take_back([busy, idle]) == [(busy, queued)]
    queued.revoking = True  # asked already: not twice
    assert scheduler.chunks_to_take_back([busy, idle]) == []
    queued.revoking = False
    assert scheduler.chunks_to_take_back([busy]) == []  # nobody idle: it waits where it is
    busy.outstanding[0].started_at = None  # nothing runs yet: the queued chunk is not held up
    assert scheduler.chunks_to_take_back([busy, idle]) == []


def test_a_chunk_is_not_asked_back_for_a_worker_that_may_not_take_it():
    record = job(per_task=0.001, max_tasks_per_worker=10)
    busy, idle = slot(0), slot(1)
    running(busy, record, 5)
    running(busy, record, 5)
    idle.job_tasks_sent[record.id] = 8  # two more of the job's tasks at most
    assert scheduler.chunks_to_take_back([busy, idle]) == []
    assert scheduler.chunks_to_take_back([busy, slot(2, backend="threads")]) == []


# -- which job a free worker serves ----------------------------------------------------------------
def test_jobs_with_equal_time_take_the_free_workers_in_turn():
    first, second = job(1), job(2)  # both new: they join level, and each chunk sent counts as it runs
    assert plan([slot(0), slot(1), slot(2), slot(3)], [first, second]) == [(0, 1), (1, 2), (2, 1), (3, 2)]


def test_the_job_with_the_least_worker_time_gets_the_free_worker():
    busy, cheap = job(1), job(2)
    busy.fair_offset = cheap.fair_offset = 0.0
    busy.timed_seconds = 30.0
    cheap.timed_seconds = 10.0
    assert plan([slot(0)], [busy, cheap]) == [(0, 2)]
    cheap.timed_seconds = 40.0
    assert plan([slot(1)], [busy, cheap]) == [(1, 1)]


def test_a_job_in_its_tail_goes_first():
    ending, other = job(1, total=10, workers=2), job(2)
    ending.next_index = 9
    ending.fair_offset, other.fair_offset = 0.0, 0.0
    ending.timed_seconds = 100.0  # it has had far more time, yet its last task goes out now
    assert plan([slot(0)], [other, ending]) == [(0, 1)]


def test_a_worker_whose_chunk_was_dropped_is_offered_another_at_once():
    record = job()
    assert plan([slot(0)], [record], refuse=2) == [(0, 1), (0, 1), (0, 1)]


def test_a_worker_serves_only_jobs_of_its_backend_and_within_their_allowance():
    on_threads, limited = job(1, backend="threads"), job(2, max_tasks_per_worker=10)
    worker = slot(0)
    worker.job_tasks_sent[limited.id] = 10
    assert plan([worker], [on_threads, limited]) == []
    assert plan([slot(1, backend="threads")], [on_threads, limited]) == [(1, 1)]
    assert scheduler.allowance(slot(2), limited) == 10
    assert scheduler.allowance(worker, job(3)) == scheduler.NO_LIMIT


def test_a_worker_not_ready_or_stopping_is_given_nothing():
    stopping = slot(1)
    stopping.stopping_reason = "recycled"
    assert plan([slot(0, ready=False), stopping], [job()]) == []


def test_a_running_chunk_counts_toward_its_jobs_time_as_it_runs():
    worker = slot(0)
    record = job(1)
    chunk = running(worker, record, 10)
    chunk.started_at = NOW - 2.5
    assert scheduler.seconds_in_flight([worker, slot(1)], NOW) == {1: 2.5}


# -- the chunks of a worker that is gone -----------------------------------------------------------
def chunk_of(record: JobRecord, tasks: int, *, reported: int = 0) -> Chunk:
    chunk = Chunk.new(record, 0, list(range(tasks)))
    chunk.reported = reported
    return chunk


def test_a_chunk_with_every_task_reported_needs_nothing():
    assert dead_chunk_fate(chunk_of(job(), 3, reported=3), running=True, crashed=True, timed_out=False) is Fate.NOTHING


def test_a_cancelled_jobs_chunk_is_counted_cancelled():
    record = job()
    record.cancel_requested = True
    assert dead_chunk_fate(chunk_of(record, 3), running=True, crashed=True, timed_out=False) is Fate.CANCELLED


def test_a_chunk_not_started_or_of_a_worker_stopped_for_another_cause_runs_elsewhere_at_no_charge():
    assert dead_chunk_fate(chunk_of(job(), 3), running=False, crashed=True, timed_out=False) is Fate.REQUEUE
    assert dead_chunk_fate(chunk_of(job(), 3), running=True, crashed=False, timed_out=False) is Fate.REQUEUE


def test_a_timed_out_task_fails_and_the_rest_of_its_chunk_runs_again():
    record = job(timeout=1)
    chunk = chunk_of(record, 5, reported=2)
    assert dead_chunk_fate(chunk, running=True, crashed=False, timed_out=True) is Fate.TIMED_OUT
    record.recover(chunk, Fate.TIMED_OUT, pid=7, exitcode=-9)
    assert [error.index for error in record.errors] == [2]
    assert [(again.start, len(again.inputs)) for again in record.requeued] == [(3, 2)]


def test_a_crash_with_several_tasks_left_reruns_each_alone_to_pin_it():
    record = job()
    chunk = chunk_of(record, 5, reported=2)
    assert dead_chunk_fate(chunk, running=True, crashed=True, timed_out=False) is Fate.SPLIT
    record.recover(chunk, Fate.SPLIT, pid=7, exitcode=-9)
    assert [(again.start, list(again.inputs)) for again in record.requeued] == [(2, [2]), (3, [3]), (4, [4])]
    assert record.attempts == {}  # not yet charged to any input


@pytest.mark.parametrize("retries", [0, 1, 2])
def test_a_crash_pinned_on_one_input_is_retried_then_fails_it(retries):
    record = job(retries=retries)
    fates = []
    for _ in range(retries + 1):
        chunk = chunk_of(record, 1)
        fate = dead_chunk_fate(chunk, running=True, crashed=True, timed_out=False)
        fates.append(fate)
        record.recover(chunk, fate, pid=7, exitcode=-9)
    assert fates == [Fate.RETRY] * retries + [Fate.CRASHED]
    assert [(error.index, error.type) for error in record.errors] == [(0, "WorkerCrashed")]
    assert "SIGKILL" in record.errors[0].message


def test_a_chunksize_the_caller_chose_stands_beyond_the_automatic_bound():
    """Pool.map of 1,000,000 on 2 workers chooses chunks of 125,000, as the standard library's
    does: capped at MAX_CHUNK they were 50 round trips instead of 8."""
    record = job(total=1_000_000, chunksize=125_000)
    record.inputs = JobSpec.create("noop", "range:1000000", chunksize=125_000).inputs.open()
    size = scheduler.chunk_size(record)
    chunk = record.next_chunk(size, scheduler.allowance(slot(0), record))
    assert size == 125_000 and chunk is not None and len(chunk.inputs) == 125_000
    automatic = job(total=10_000_000, per_task=1e-9)
    assert scheduler.chunk_size(automatic) == scheduler.MAX_CHUNK
