"""poolscope.ProcessPoolExecutor against concurrent.futures' documented behaviour (issue 13)."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import pickle
import threading
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

import poolscope
from poolscope.pools import InitializerFailed, ProcessPoolExecutor, WorkerLost
from tests.pools import pool_tasks as tasks

pytestmark = pytest.mark.timeout(90)


def test_submit_gives_real_futures_and_map_gives_results_in_order() -> None:
    assert poolscope.ProcessPoolExecutor is ProcessPoolExecutor
    done: list[cf.Future] = []
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as executor:
        assert isinstance(executor, cf.Executor) and executor._max_workers == 2
        futures = [executor.submit(tasks.square, i) for i in range(500)]
        futures[0].add_done_callback(done.append)
        assert sorted(f.result() for f in cf.as_completed(futures, timeout=60)) == sorted(i * i for i in range(500))
        finished, pending = cf.wait(futures, timeout=0)
        assert len(finished) == 500 and not pending
        assert executor.submit(tasks.add, 1, b=2).result(30) == 3
        assert list(executor.map(tasks.square, range(100))) == [i * i for i in range(100)]
        assert list(executor.map(tasks.add, [1, 2], [10, 20], timeout=30)) == [11, 22]
        assert list(executor.map(tasks.square, iter(range(50)), chunksize=8)) == [i * i for i in range(50)]
        with pytest.raises(ValueError, match="chunksize"):
            executor.map(tasks.square, [1], chunksize=0)
    assert done == [futures[0]]


def test_a_task_exception_is_its_own_with_the_workers_traceback() -> None:
    with ProcessPoolExecutor(2) as executor:
        future = executor.submit(tasks.boom_at_3, 3)
        error = future.exception(timeout=30)
        assert isinstance(error, tasks.TaskBoom) and "boom_at_3" in str(error.__cause__)
        results = executor.map(tasks.boom_at_3, range(5))
        assert [next(results) for _ in range(3)] == [0, 1, 2]
        with pytest.raises(tasks.TaskBoom):
            next(results)
        lambda_future = executor.submit(lambda: 1)
        with pytest.raises((AttributeError, pickle.PicklingError), match="pickle"):  # pickle's own error
            lambda_future.result(5)
        with pytest.raises(TypeError, match="pickle"):
            executor.submit(tasks.square, threading.Lock()).result(30)
        with pytest.raises(pickle.PicklingError):
            executor.submit(tasks.return_lock, 1).result(30)


def test_map_and_result_time_out_with_timeout_error() -> None:
    with ProcessPoolExecutor(1) as executor:
        future = executor.submit(tasks.sleep_then, 3)
        with pytest.raises(TimeoutError):
            future.result(timeout=0.2)
        results = executor.map(tasks.sleep_then, [3, 3], timeout=0.3)
        began = time.monotonic()
        with pytest.raises(TimeoutError):
            next(results)
        assert time.monotonic() - began < 2
        executor.shutdown(wait=False, cancel_futures=True)


def test_pending_futures_cancel_and_shutdown_cancels_them_too() -> None:
    executor = ProcessPoolExecutor(1)
    blocker = executor.submit(tasks.sleep_then, 1.0)
    while not blocker.running():
        time.sleep(0.01)
    queued = [executor.submit(tasks.square, i) for i in range(5)]
    assert queued[0].cancel() and queued[0].cancelled()
    assert not blocker.cancel()  # running: as the stdlib, it cannot be
    later = [executor.submit(tasks.square, i) for i in range(3)]
    executor.shutdown(wait=True, cancel_futures=True)
    assert blocker.result() == 1.0
    assert all(f.cancelled() or f.result() == i * i for i, f in enumerate(queued))
    assert any(f.cancelled() for f in later + queued[1:])
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        executor.submit(tasks.square, 1)


def test_a_killed_worker_fails_only_its_future_and_the_pool_goes_on() -> None:
    with ProcessPoolExecutor(2) as executor:
        futures = [executor.submit(tasks.kill_myself_at_2, i) for i in range(5)]
        with pytest.raises(BrokenProcessPool) as caught:  # what an existing except clause catches
            futures[2].result(60)
        assert isinstance(caught.value, WorkerLost)
        assert [futures[i].result(60) for i in (0, 1, 3, 4)] == [0, 1, 3, 4]
        assert executor.submit(tasks.square, 4).result(60) == 16


def test_an_initializer_that_raises_breaks_the_executor_as_the_stdlibs() -> None:
    with ProcessPoolExecutor(1, initializer=tasks.failing_initializer) as executor:
        with pytest.raises(BrokenProcessPool) as caught:
            executor.submit(tasks.square, 2).result(60)
        assert isinstance(caught.value, InitializerFailed)
        with pytest.raises(BrokenProcessPool):
            executor.submit(tasks.square, 2)
    with ProcessPoolExecutor(2, initializer=tasks.remember, initargs=("ok",)) as executor:
        assert all(tags == ["ok"] for _, tags in executor.map(tasks.initialized, range(20)))


def test_max_tasks_per_child_gives_fresh_workers() -> None:
    with ProcessPoolExecutor(1, max_tasks_per_child=2) as executor:
        pids = list(executor.map(tasks.pid, range(6)))
    assert len(set(pids)) >= 3
    with pytest.raises(ValueError, match="max_tasks_per_child"):
        ProcessPoolExecutor(1, max_tasks_per_child=0)
    with pytest.raises(ValueError, match="max_workers"):
        ProcessPoolExecutor(0)


def test_an_executor_in_a_worker_works_as_the_stdlibs_does() -> None:
    # The stdlib's executor workers are not daemonic (3.9+): a task may use an executor of its own.
    with ProcessPoolExecutor(1) as executor:
        assert executor.submit(tasks.executor_inside, 4).result(60) == [0, 1, 4, 9]
