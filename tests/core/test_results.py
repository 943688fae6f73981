"""ResultStore: a job's results by input index, spilling to a temporary file past its memory limit."""

from __future__ import annotations

import threading

import pytest

from poolscope.core.engine import Engine
from poolscope.core.jobs import JobSpec
from poolscope.core.results import ResultStore
from poolscope.core.results import store as results_module


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
        assert job._record.results.spilled_bytes > 0


def test_items_come_in_input_order_from_file_memory_and_unpicklable_blocks():
    store = ResultStore(memory_limit=2_000)
    odd = PicklesOnce()
    PicklesOnce.pickled = 1
    store.put(1_002, [odd])
    for start in range(1_000, 0, -100):  # newest first, most of them spilled
        store.put(start - 100, list(range(start - 100, start)))
    store.put(1_000, [1_000, 1_001])
    assert store.spilled_bytes > 0
    items = list(store.items())
    assert [index for index, _ in items] == list(range(1_003))
    assert [value for _, value in items[:1_002]] == list(range(1_002)) and items[1_002][1] is odd


def test_a_job_saves_its_finished_results_as_json_lines(engine, tmp_path, monkeypatch):
    import json

    from tests.conftest import sample

    monkeypatch.setattr(results_module, "MEMORY_LIMIT", 64)  # spill at once: read back from the file
    job = engine.submit(JobSpec.create(sample("fail_on"), "range:100:120", kwargs={"bad": 103}))
    job.wait(60)
    path = tmp_path / "results.jsonl"
    assert job.save_results(str(path)) == 19
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [{"index": i, "input": 100 + i, "result": 100 + i} for i in range(20) if i != 3]
    assert [index for index, _ in job.iter_results()] == [i for i in range(20) if i != 3]
    assert not list(tmp_path.glob("*.part"))


def test_saving_to_a_place_that_cannot_be_written_raises_and_leaves_nothing(engine, tmp_path):
    job = engine.submit(JobSpec.create("noop", "range:5"))
    job.wait(60)
    with pytest.raises(OSError):
        job.save_results(str(tmp_path / "missing-dir" / "results.jsonl"))
    target = tmp_path / "results.jsonl"
    target.mkdir()  # a directory where the file should go: the rename fails
    with pytest.raises(OSError):
        job.save_results(str(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl"]


def test_when_the_file_cannot_be_written_results_stay_in_memory_and_the_user_is_told(monkeypatch):
    import errno

    from poolscope.core.events import JobNotice
    from tests.helpers.support import drain

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results_module, "MEMORY_LIMIT", 1_000)
    monkeypatch.setattr(results_module.tempfile, "TemporaryFile", no_space)
    with Engine(workers=2, events=True) as engine:
        job = engine.submit(JobSpec.create("noop", "range:20000"))
        assert job.wait(60).results == list(range(20_000))
        assert job._record.results.spilled_bytes == 0
        notices = [event for event in drain(engine) if isinstance(event, JobNotice)]
    [notice] = notices  # once, not at every report
    assert notice.job_id == job.id
    assert "kept in memory" in notice.message and "No space left on device" in notice.message


def test_results_pickled_one_by_one_are_stored_as_they_came_and_read_back(monkeypatch):
    import pickle

    from poolscope.core.worker import STATUS_PICKLED, STATUS_VALUE

    store = ResultStore(memory_limit=500)
    for start in range(0, 1_000, 100):  # tuples pickled on their own, and plain values between them
        values = [pickle.dumps((i, "x")) if i % 3 else i for i in range(start, start + 100)]
        statuses = bytes(STATUS_PICKLED if i % 3 else STATUS_VALUE for i in range(start, start + 100))
        store.put_encoded(start, statuses, values)
    assert store.spilled_bytes > 0
    assert store.ordered(1_000) == [(i, "x") if i % 3 else i for i in range(1_000)]


def test_a_job_of_tuple_results_keeps_them_all(engine, monkeypatch):
    from tests.conftest import sample

    monkeypatch.setattr(results_module, "MEMORY_LIMIT", 4_096)
    job = engine.submit(JobSpec.create(sample("initialized"), "range:5000"))
    assert job.wait(60).results == [(x, 0) for x in range(5000)]
    assert job._record.results.spilled_bytes > 0
