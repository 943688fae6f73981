"""The worker's chunk loop, run in this process against a recording connection (no processes).

Tasks run in batches through ``map()`` (core/worker.py, ``_Worker.run_chunk``); these tests pin
what the batching must not change: one outcome per input, in input order, each on its own input.
"""

from __future__ import annotations

import functools
import pickle
from typing import Any

import pytest

from poolscope import Cancelled, progress
from poolscope.core import worker
from poolscope.core.protocol import Report, Started, from_worker
from poolscope.core.worker import (
    STATUS_CANCELLED,
    STATUS_ERROR,
    STATUS_PICKLED,
    STATUS_VALUE,
    PickledValues,
)

JOB = 7


class RecordingConnection:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    def send_bytes(self, data: bytes) -> None:
        self.messages.append(from_worker(data))  # a copy, as the pipe would give

    def reports(self) -> list[Report]:
        return [m for m in self.messages if isinstance(m, Report)]

    def outcomes(self) -> list[tuple[int, Any]]:
        """Every task's (status, value) in the order the reports carried them."""
        found: list[tuple[int, Any]] = []
        for _, statuses, values, _, _, _ in self.reports():
            if isinstance(values, PickledValues):  # plain values, pickled as one list
                assert statuses is None
                values = pickle.loads(values.data)
                assert len(values) > 0
            found.extend(zip(statuses or bytes([STATUS_VALUE]) * len(values), values, strict=True))
        return found


def set_up(loop: worker._Worker, function: Any, kwargs: dict[str, Any]) -> None:
    """What set_up_job leaves once the target loaded (a SetUpJob pickles a Target, not a function)."""
    loop.jobs[JOB] = functools.partial(function, **kwargs) if kwargs else function


def run_chunk(function: Any, inputs: list[Any], *, kwargs: dict[str, Any] | None = None,
              start: int = 0) -> tuple[worker._Worker, RecordingConnection]:
    connection = RecordingConnection()
    loop = worker._Worker(connection, lambda: None)  # type: ignore[arg-type]
    set_up(loop, function, kwargs or {})
    loop.run_chunk(1, JOB, start, pickle.dumps(inputs))  # a RunChunk carries its inputs pickled
    return loop, connection


def mixed(x: int, *, offset: int = 0) -> Any:
    if x % 1000 == 999:
        raise ValueError(f"bad {x}")
    if x % 1000 == 500:
        raise Cancelled()
    if x % 1000 == 250:
        return [x]  # not a plain type: pickled on its own
    return x + offset


def test_every_input_gets_its_own_outcome_in_order():
    inputs = list(range(5000))
    _, connection = run_chunk(mixed, inputs, kwargs={"offset": 1})
    outcomes = connection.outcomes()
    assert len(outcomes) == len(inputs)
    for x, (status, value) in zip(inputs, outcomes, strict=True):
        if x % 1000 == 999:
            assert status == STATUS_ERROR and value[:2] == ("ValueError", f"bad {x}")
        elif x % 1000 == 500:
            assert (status, value) == (STATUS_CANCELLED, None)
        elif x % 1000 == 250:
            assert status == STATUS_PICKLED and pickle.loads(value) == [x]
        else:
            assert (status, value) == (STATUS_VALUE, x + 1)
    assert connection.messages[0] == Started(1)
    assert connection.reports()[-1].finished is True  # the last report says the chunk is finished


def test_a_failing_first_task_and_a_failing_last_task():
    _, connection = run_chunk(mixed, [999, 1, 2, 1999])
    assert [status for status, _ in connection.outcomes()] == [STATUS_ERROR, STATUS_VALUE, STATUS_VALUE, STATUS_ERROR]


def test_progress_names_the_running_task(monkeypatch):
    monkeypatch.setattr(worker, "REPORT_INTERVAL", 0.0)  # every progress() call sends a report

    def reports_at(x: int) -> int:
        if x == 3456:
            progress(1, 4)
        return x

    _, connection = run_chunk(reports_at, list(range(100, 5000)), start=100)
    sent = [report.progress for report in connection.reports() if report.progress is not None]
    assert sent == [(3456, 1.0, 4.0)]


def test_a_cancel_mid_chunk_cancels_the_rest():
    loop: worker._Worker | None = None

    def cancels_at(x: int) -> int:
        if x == 2000:
            assert loop is not None
            loop.cancelled_jobs.add(JOB)  # what the reader thread does on CancelJob
        return x

    connection = RecordingConnection()
    loop = worker._Worker(connection, lambda: None)  # type: ignore[arg-type]
    set_up(loop, cancels_at, {})
    loop.run_chunk(1, JOB, 0, pickle.dumps(list(range(100_000))))
    statuses = [status for status, _ in connection.outcomes()]
    assert len(statuses) == 100_000
    first_cancelled = statuses.index(STATUS_CANCELLED)
    assert first_cancelled > 2000  # the task that saw the cancel finished
    # The batch running at the cancel finishes (it is bounded by BATCH_SECONDS); all after is cancelled.
    assert set(statuses[:first_cancelled]) == {STATUS_VALUE}
    assert set(statuses[first_cancelled:]) == {STATUS_CANCELLED}
    assert first_cancelled < 50_000


@pytest.mark.parametrize("inputs", [[], [5]])
def test_empty_and_single_chunks(inputs):
    _, connection = run_chunk(mixed, inputs)
    assert connection.outcomes() == [(STATUS_VALUE, x) for x in inputs]


def test_a_worker_formats_the_tracebacks_of_a_jobs_first_thousand_failures_only():
    def always_fails(x: int) -> int:
        raise ValueError(f"bad {x}")

    _, connection = run_chunk(always_fails, list(range(1500)))
    outcomes = connection.outcomes()
    assert [status for status, _ in outcomes] == [STATUS_ERROR] * 1500
    assert all(value[2] for _, value in outcomes[: worker.TRACEBACKS_PER_JOB])
    assert not any(value[2] for _, value in outcomes[worker.TRACEBACKS_PER_JOB :])
    assert {value[:2] for _, value in outcomes[-3:]} == {("ValueError", f"bad {x}") for x in (1497, 1498, 1499)}
