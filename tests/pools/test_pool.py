"""poolscope.Pool against multiprocessing.pool.Pool's documented behaviour (issue 13)."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.pool import RemoteTraceback

import psutil
import pytest

import poolscope
from poolscope.pools import InitializerFailed, JobCancelled, PicklingFailed, Pool, WorkerLost
from tests.pools import pool_tasks as tasks

pytestmark = pytest.mark.timeout(90)


def test_poolscope_pool_is_the_drop_in_and_importing_poolscope_stays_cheap() -> None:
    assert poolscope.Pool is Pool
    code = ("import sys, poolscope; "
            "print('poolscope.core.engine' in sys.modules, 'poolscope.pools.mp_pool' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout
    assert out.split() == ["False", "False"]


def test_every_method_gives_what_the_stdlib_gives() -> None:
    got_callback: list[object] = []
    with Pool(2) as pool:
        assert pool.map(tasks.square, range(10)) == [x * x for x in range(10)]
        assert pool.map(tasks.square, iter(range(5)), chunksize=2) == [0, 1, 4, 9, 16]
        assert pool.map(tasks.square, []) == []
        assert pool.starmap(tasks.add, [(1, 2), (3, 4)]) == [3, 7]
        assert pool.apply(tasks.add, (1, 2)) == 3
        assert pool.apply(tasks.add, (), {"a": 5, "b": 6}) == 11
        result = pool.apply_async(tasks.square, (7,), callback=got_callback.append)
        assert result.get(timeout=30) == 49 and result.ready() and result.successful()
        result.wait(1)
        mapped = pool.map_async(tasks.square, range(4), callback=got_callback.append)
        assert mapped.get(30) == [0, 1, 4, 9]
        assert pool.starmap_async(tasks.add, [(1, 1)], 1).get(30) == [2]
        assert list(pool.imap(tasks.square, range(50))) == [x * x for x in range(50)]
        assert list(pool.imap(tasks.square, iter(range(20)), chunksize=4)) == [x * x for x in range(20)]
        assert sorted(pool.imap_unordered(tasks.square, range(50))) == sorted(x * x for x in range(50))
        iterator = pool.imap(tasks.square, range(3))
        assert [iterator.next(timeout=30) for _ in range(3)] == [0, 1, 4]
        with pytest.raises(StopIteration):
            iterator.next(timeout=30)
        many = [pool.apply_async(tasks.square, (i,)) for i in range(2000)]
        assert [r.get(30) for r in many] == [i * i for i in range(2000)]
        assert pool._processes == 2
    assert got_callback == [49, [0, 1, 4, 9]]
    with pytest.raises(ValueError, match="Chunksize must be 1"):
        Pool(1).imap(tasks.square, [1], chunksize=0)


def test_a_task_exception_is_its_own_with_the_workers_traceback_as_its_cause() -> None:
    errors: list[BaseException] = []
    with Pool(2) as pool:
        with pytest.raises(tasks.TaskBoom, match="input 3 is bad") as caught:
            pool.map(tasks.boom_at_3, range(6))
        assert isinstance(caught.value.__cause__, RemoteTraceback)
        assert "boom_at_3" in str(caught.value.__cause__) and "raise TaskBoom" in str(caught.value.__cause__)
        result = pool.apply_async(tasks.boom_at_3, (3,), error_callback=errors.append)
        with pytest.raises(tasks.TaskBoom):
            result.get(30)
        assert not result.successful()
        failed_map = pool.map_async(tasks.boom_at_3, range(5), error_callback=errors.append)
        failed_map.wait(30)
        assert not failed_map.successful()
        iterator = pool.imap(tasks.boom_at_3, range(5))
        assert [next(iterator) for _ in range(3)] == [0, 1, 2]
        with pytest.raises(tasks.TaskBoom):
            next(iterator)
        assert next(iterator) == 4  # the others still come, in order
        with pytest.raises(tasks.TaskBoom):
            list(pool.imap_unordered(tasks.boom_at_3, range(5)))
    assert [type(error) for error in errors] == [tasks.TaskBoom, tasks.TaskBoom]


def test_an_iterable_that_raises_raises_in_its_place_in_imap() -> None:
    def inputs():
        yield 1
        yield 2
        raise KeyError("the source broke")

    with Pool(1) as pool:
        iterator = pool.imap(tasks.square, inputs())
        assert [next(iterator), next(iterator)] == [1, 4]
        with pytest.raises(KeyError, match="the source broke"):
            next(iterator)


def test_get_with_a_timeout_raises_the_multiprocessing_timeout_error() -> None:
    with Pool(1) as pool:
        result = pool.apply_async(tasks.sleep_then, (3,))
        began = time.monotonic()
        with pytest.raises(multiprocessing.TimeoutError):
            result.get(timeout=0.2)
        assert time.monotonic() - began < 2
        assert not result.ready()
        with pytest.raises(ValueError, match="not ready"):
            result.successful()
        with pytest.raises(multiprocessing.TimeoutError):
            pool.map_async(tasks.sleep_then, [3]).get(0.1)
        with pytest.raises(multiprocessing.TimeoutError):
            pool.imap(tasks.sleep_then, [3]).next(timeout=0.1)


def test_lambdas_and_nested_functions_fail_with_the_stdlibs_pickling_error() -> None:
    def nested(x):
        return x

    # What pickle raises for them (a local object: AttributeError; a top-level lambda: PicklingError)
    unpicklable = (AttributeError, pickle.PicklingError)
    with Pool(1) as pool:
        with pytest.raises(unpicklable, match="pickle"):
            pool.map(lambda x: x, range(3))
        with pytest.raises(unpicklable, match="local object"):
            pool.apply(nested, (1,))
        with pytest.raises(unpicklable):
            next(pool.imap(lambda x: x, range(3)))
        assert pool.apply(tasks.square, (3,)) == 9  # the pool is fine


def test_an_unpicklable_argument_or_result_fails_its_own_task() -> None:
    with Pool(2) as pool:
        with pytest.raises(TypeError, match="pickle"):
            pool.apply(tasks.square, (threading.Lock(),))
        results = [pool.apply_async(tasks.square, (i,)) for i in range(3)]
        bad = pool.apply_async(tasks.return_lock, (1,))
        with pytest.raises(PicklingFailed, match="could not be pickled"):
            bad.get(30)
        assert [r.get(30) for r in results] == [0, 1, 4]
        with pytest.raises(pickle.PicklingError):
            pool.map(tasks.square, [1, threading.Lock(), 3])


def test_a_killed_worker_fails_only_its_task_with_a_broken_process_pool_and_the_pool_goes_on() -> None:
    with Pool(2) as pool:
        results = [pool.apply_async(tasks.kill_myself_at_2, (i,)) for i in range(5)]
        with pytest.raises(BrokenProcessPool) as caught:
            results[2].get(60)
        assert isinstance(caught.value, WorkerLost) and "SIGKILL" in str(caught.value)
        assert [results[i].get(60) for i in (0, 1, 3, 4)] == [0, 1, 3, 4]
        with pytest.raises(WorkerLost):
            pool.map(tasks.kill_myself_at_2, range(4))
        iterator = pool.imap(tasks.kill_myself_at_2, range(5))
        assert [next(iterator), next(iterator)] == [0, 1]
        with pytest.raises(WorkerLost):
            next(iterator)
        assert list(iterator) == [3, 4]  # in order, after the lost one
        assert pool.map(tasks.square, range(4)) == [0, 1, 4, 9]


def test_terminate_while_busy_fails_what_is_pending_and_leaves_no_process() -> None:
    pool = Pool(2)
    pids = set(pool.map(tasks.pid, range(8)))
    pending = [pool.apply_async(tasks.sleep_then, (30,)) for _ in range(4)]
    mapped = pool.map_async(tasks.sleep_then, [30, 30])
    time.sleep(0.3)
    began = time.monotonic()
    pool.terminate()
    pool.join()
    assert time.monotonic() - began < 10
    for result in [*pending, mapped]:
        with pytest.raises(JobCancelled):
            result.get(5)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)
    with pytest.raises(ValueError, match="Pool not running"):
        pool.apply_async(tasks.square, (1,))


def test_close_then_join_runs_what_was_submitted_and_refuses_more() -> None:
    pool = Pool(2)
    with pytest.raises(ValueError, match="Pool is still running"):
        pool.join()
    results = [pool.apply_async(tasks.sleep_then, (0.2,)) for _ in range(3)]
    mapped = pool.map_async(tasks.square, range(100))
    pool.close()
    for call in (lambda: pool.apply_async(tasks.square, (1,)), lambda: pool.map(tasks.square, [1]),
                 lambda: pool.imap(tasks.square, [1]), lambda: pool.starmap(tasks.add, [(1, 2)])):
        with pytest.raises(ValueError, match="Pool not running"):
            call()
    pool.join()
    assert [r.get(0) for r in results] == [0.2] * 3 and mapped.get(0)[-1] == 99 * 99
    with pytest.raises(ValueError, match="Pool not running"), pool:
        pass


def test_the_initializer_runs_once_per_worker_and_one_that_raises_breaks_the_pool() -> None:
    with Pool(2, initializer=tasks.remember, initargs=("ready",)) as pool:
        seen = pool.map(tasks.initialized, range(40)) + [pool.apply(tasks.initialized) for _ in range(5)]
        assert all(tags == ["ready"] for _, tags in seen)  # once per process, over several jobs
    with Pool(1, initializer=tasks.failing_initializer) as pool:
        with pytest.raises(InitializerFailed, match="the initializer cannot start"):
            pool.apply(tasks.square, (2,))
        assert isinstance(pool.apply_async(tasks.square, (2,)), poolscope.pools.mp_pool.ApplyResult)
        with pytest.raises(BrokenProcessPool):
            pool.map(tasks.square, range(3))
    with pytest.raises(TypeError, match="initializer must be a callable"):
        Pool(1, initializer=3)


def test_maxtasksperchild_gives_a_fresh_worker_after_that_many_tasks() -> None:
    with Pool(1, maxtasksperchild=2) as pool:
        pids = pool.map(tasks.pid, range(6), chunksize=1)
    assert len(set(pids)) == 3 and pids[0] == pids[1] != pids[2]
    with pytest.raises(ValueError, match="maxtasksperchild"):
        Pool(1, maxtasksperchild=0)
    with pytest.raises(ValueError, match="at least 1"):
        Pool(0)


def test_a_pool_in_a_pools_worker_is_refused_as_the_stdlib_refuses_it() -> None:
    with Pool(1) as pool:
        assert pool.apply(tasks.make_pool_inside, (0,)).startswith("refused: a Pool cannot be created in a pool's")


def test_ctrl_c_in_a_script_blocked_in_map_leaves_no_process(tmp_path) -> None:
    script = tmp_path / "interrupted.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from poolscope import Pool

        def slow(x):
            time.sleep(60)

        if __name__ == "__main__":
            with Pool(2) as pool:
                pool.apply(time.sleep, (0,))
                print("running", flush=True)
                pool.map(slow, range(4))
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, cwd=tmp_path)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "running"
        time.sleep(0.5)
        workers = psutil.Process(process.pid).children(recursive=True)
        assert workers
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert "KeyboardInterrupt" in err
        _gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_callback_that_raises_never_leaves_get_waiting(capfd) -> None:
    def bad_callback(_value):
        raise RuntimeError("callback bug")

    with Pool(1) as pool:
        result = pool.apply_async(tasks.square, (3,), callback=bad_callback)
        assert result.get(timeout=30) == 9
        assert pool.map_async(tasks.square, [2], callback=bad_callback).get(timeout=30) == [4]
        assert pool.apply(tasks.square, (4,)) == 16  # the pool goes on
    assert "callback bug" in capfd.readouterr().err


def test_imap_unordered_over_a_generator_that_raises_and_imap_when_terminated() -> None:
    def inputs():
        yield from range(3)
        raise KeyError("the source broke")

    pool = Pool(2)
    try:
        outcomes = []
        iterator = pool.imap_unordered(tasks.square, inputs())
        while True:
            try:
                outcomes.append(next(iterator))
            except StopIteration:
                break
            except KeyError as exc:
                outcomes.append(exc)
        assert sorted(value for value in outcomes if isinstance(value, int)) == [0, 1, 4]
        assert [type(value) for value in outcomes].count(KeyError) == 1
        slow = pool.imap(tasks.sleep_then, (30 for _ in range(4)))
        time.sleep(0.3)
    finally:
        pool.terminate()
    with pytest.raises(JobCancelled):
        next(slow)


def test_a_pools_jobs_are_in_the_job_history_under_the_script_and_keep_no_results_file() -> None:
    """Issue 14: every job is recorded, a script's pool's too. Its results go to its caller, so the
    history names no results file for it (and none is written)."""
    from poolscope.core.history import History

    with Pool(1) as pool:
        assert pool.map(tasks.square, range(30)) == [x * x for x in range(30)]
        with pytest.raises(tasks.TaskBoom):
            pool.apply(tasks.boom_at_3, (3,))
        recorder = pool._core.recorder
        assert recorder is not None
    pool.join()
    mine = [job for job in History().jobs(limit=50) if job.source.endswith(f"(pid {os.getpid()})")
            and job.source.startswith("script ")]
    done = [job for job in mine if job.total == 30]
    assert done and done[0].state == "done" and done[0].done == 30 and done[0].results_path is None
    assert any(job.failed >= 1 for job in mine)  # the single call that raised, in the pool's calls job
