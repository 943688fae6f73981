"""ResultStore: a job's results by input index, spilling to a temporary file past its memory limit."""

from __future__ import annotations

import threading

from poolscope.core import results as results_module
from poolscope.core.engine import Engine
from poolscope.core.jobs import JobSpec
from poolscope.core.results import ResultStore


def test_results_read_back_in_input_order_from_memory_and_file():
    store = ResultStore(memory_limit=10_000)
    expected: list[object] = [None] * 20_000
    # out of order, with gaps (tasks that failed or never ran read as None)
    for start in [*range(10_000, 20_000, 1_000), *range(0, 9_000, 1_000)]:
        values = [f"r{i}" for i in range(start, start + 1_000)]
        store.put(start, values)
        expected[start : start + 1_000] = values
    assert store.spilled_bytes > 0  # most of it went to the file...
    assert store.memory_bytes <= 10_000  # ...and what stays in memory is under the limit
    assert store.ordered(20_000) == expected
    assert store.ordered(20_000) == expected  # reading does not consume


def test_a_store_below_its_limit_never_opens_a_file():
    store = ResultStore(memory_limit=1_000_000)
    store.put(0, list(range(100)))
    assert store.spilled_bytes == 0 and store.ordered(102) == [*range(100), None, None]


class PicklesOnce:
    """Pickles the first time (the pipe from the worker), refuses the second (a spill)."""

    pickled = 0

    def __reduce__(self):
        type(self).pickled += 1
        if type(self).pickled > 1:
            raise TypeError("only once")
        return (PicklesOnce, ())


def test_a_block_that_will_not_pickle_stays_in_memory():
    store = ResultStore(memory_limit=1_000)
    odd = PicklesOnce()
    PicklesOnce.pickled = 1  # it came through the pipe already
    store.put(0, [odd])
    store.put(1, list(range(1, 500)))
    assert store.spilled_bytes > 0
    assert store.ordered(500) == [odd, *range(1, 500)]


def test_reads_while_the_engine_writes_see_whole_blocks():
    store = ResultStore(memory_limit=5_000)
    stop = threading.Event()
    seen: list[list[object]] = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(store.ordered(50_000))

    thread = threading.Thread(target=reader)
    thread.start()
    for start in range(0, 50_000, 500):
        store.put(start, list(range(start, start + 500)))
    stop.set()
    thread.join()
    assert store.ordered(50_000) == list(range(50_000))
    for snapshot in seen:  # a prefix of the blocks, each whole
        filled = sum(value is not None for value in snapshot)
        assert snapshot[:filled] == list(range(filled)) and filled % 500 == 0


def test_an_engine_job_keeps_every_result_when_they_spill(monkeypatch):
    monkeypatch.setattr(results_module, "MEMORY_LIMIT", 4_096)
    with Engine(workers=2) as engine:
        job = engine.submit(JobSpec.create("noop", "range:30000"))
        summary = job.wait(60)
        assert summary.results == list(range(30_000))
        assert job._record.results.spilled_bytes > 0  # noqa: SLF001 - the point of the test
