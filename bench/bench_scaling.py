"""Scaling: 64 CPU-bound tasks of ~50 ms each, serial vs poolscope vs its peers, side by side.

The task is ``burn`` below: a pure-Python loop (it holds the GIL, like real CPU-bound Python),
sized at start-up so that one call takes about ``--task-ms`` on this machine. Every contender
runs the same 64 calls: a serial loop in this process, poolscope (``Engine``, automatic
chunking, events on with a consumer thread, as the CLI runs it), ``multiprocessing.Pool.map``
(chunksize 1), and mpire and loky when they are installed (``pip install mpire loky``, the
``bench`` extra). Pools are warm (created and warmed up before timing), all with spawn except
loky (its own spawn-like start method). Order rotates per repeat; the median is reported.

Targets (issue 5): speed-up over serial >= 0.95 x cores, and within 3% of multiprocessing.Pool.

    python bench/bench_scaling.py [--repeat 3] [--tasks 64] [--task-ms 50] [--workers 2]
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import median, table, verdict

from poolscope.core.engine import Engine
from poolscope.core.jobs import JobSpec


def burn(n: int, *, loops: int = 1_000_000) -> int:
    """A CPU-bound task: ``loops`` iterations of integer arithmetic in pure Python."""
    acc = n
    for i in range(loops):
        acc = (acc * 1103515245 + i) & 0xFFFFFFFF
    return acc


def calibrate(task_ms: float) -> int:
    """Loop count for which ``burn`` takes about ``task_ms`` here (best of a few, so noise-robust)."""
    probe = 200_000
    best = min(_time_one(probe) for _ in range(5))
    return max(1000, int(probe * (task_ms / 1000) / best))


def _time_one(loops: int) -> float:
    start = time.perf_counter()
    burn(0, loops=loops)
    return time.perf_counter() - start


def _burn_with(args: tuple[int, int]) -> int:
    """``burn`` for peers whose map passes one argument (loops travels with each input)."""
    return burn(args[0], loops=args[1])


# -- contenders: each returns (run() -> (seconds, results), close()) ----------------------------
Contender = tuple[Callable[[], tuple[float, list[int]]], Callable[[], None]]


def serial(tasks: int, loops: int) -> Contender:
    def run() -> tuple[float, list[int]]:
        start = time.perf_counter()
        results = [burn(i, loops=loops) for i in range(tasks)]
        return time.perf_counter() - start, results

    return run, lambda: None


def poolscope(tasks: int, loops: int, workers: int, nice: int) -> Contender:
    engine = Engine(workers=workers, nice=nice, events=True)
    drain = _common.EventDrain(engine.events)
    engine.submit(JobSpec.create("sleep", range(workers), kwargs={"seconds": 0.05})).wait(60)
    engine.submit(JobSpec.create(burn, range(workers * 2), kwargs={"loops": 1000})).wait(60)

    def run() -> tuple[float, list[int]]:
        spec = JobSpec.create(burn, range(tasks), kwargs={"loops": loops})
        start = time.perf_counter()
        summary = engine.submit(spec).wait(600)
        elapsed = time.perf_counter() - start
        assert summary.done == tasks, summary
        return elapsed, list(summary.results or [])

    def close() -> None:
        engine.shutdown()
        drain.stop()

    return run, close


def mp_pool(tasks: int, loops: int, workers: int) -> Contender:
    pool = multiprocessing.get_context("spawn").Pool(workers)
    pool.map(time.sleep, [0.05] * workers, chunksize=1)
    pool.map(_burn_with, [(i, 1000) for i in range(workers * 2)], chunksize=1)

    def run() -> tuple[float, list[int]]:
        start = time.perf_counter()
        results = pool.map(_burn_with, [(i, loops) for i in range(tasks)], chunksize=1)
        return time.perf_counter() - start, results

    def close() -> None:
        pool.close()
        pool.join()

    return run, close


def mpire_pool(tasks: int, loops: int, workers: int) -> Contender:
    from mpire import WorkerPool

    pool = WorkerPool(n_jobs=workers, start_method="spawn", keep_alive=True)
    pool.map(time.sleep, [0.05] * workers, chunk_size=1, progress_bar=False)
    pool.map(_burn_with, [((i, 1000),) for i in range(workers * 2)], chunk_size=1, progress_bar=False)

    def run() -> tuple[float, list[int]]:
        start = time.perf_counter()
        results = pool.map(_burn_with, [((i, loops),) for i in range(tasks)], chunk_size=1, progress_bar=False)
        return time.perf_counter() - start, results

    def close() -> None:
        pool.terminate()

    return run, close


def loky_pool(tasks: int, loops: int, workers: int) -> Contender:
    from loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=workers, reuse=False)
    list(executor.map(time.sleep, [0.05] * workers))
    list(executor.map(_burn_with, [(i, 1000) for i in range(workers * 2)]))

    def run() -> tuple[float, list[int]]:
        start = time.perf_counter()
        results = list(executor.map(_burn_with, [(i, loops) for i in range(tasks)], chunksize=1))
        return time.perf_counter() - start, results

    def close() -> None:
        executor.shutdown(wait=True)

    return run, close


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def main() -> None:
    p = _common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=64, help="tasks per run (default 64)")
    p.add_argument("--task-ms", type=float, default=50.0, help="target duration of one task (default 50)")
    args = p.parse_args()
    w = args.workers
    cores = os.cpu_count() or 1
    loops = calibrate(args.task_ms)
    serial_ms = min(_time_one(loops) for _ in range(3)) * 1000

    contenders: dict[str, Callable[[], Contender]] = {
        "serial loop": lambda: serial(args.tasks, loops),
        "poolscope (events on)": lambda: poolscope(args.tasks, loops, w, args.nice),
        "multiprocessing.Pool.map cs 1": lambda: mp_pool(args.tasks, loops, w),
    }
    missing = []
    if _importable("mpire"):
        contenders["mpire WorkerPool.map cs 1"] = lambda: mpire_pool(args.tasks, loops, w)
    else:
        missing.append("mpire")
    if _importable("loky"):
        contenders["loky executor.map cs 1"] = lambda: loky_pool(args.tasks, loops, w)
    else:
        missing.append("loky")

    print(f"bench_scaling: {args.tasks} tasks of ~{serial_ms:.0f} ms (burn, {loops:,} loops), {w} workers, "
          f"{cores} cores, warm pools, median of {args.repeat}")
    print(_common.machine_line())
    if missing:
        print(f"  (not installed, left out: {', '.join(missing)}; pip install mpire loky)")
    expected = [burn(i, loops=loops) for i in range(min(4, args.tasks))]
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    foreign: dict[str, list[float]] = {name: [] for name in names}
    redone = 0
    for r in range(args.repeat):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            run, close = contenders[name]()
            try:
                (elapsed, results), meter, again = _common.measured(run, args.retries)
            finally:
                close()
            assert results[: len(expected)] == expected and len(results) == args.tasks, name
            times[name].append(elapsed)
            foreign[name].append(meter.foreign)
            redone += again
        print(f"  repeat {r + 1}/{args.repeat}: " + ", ".join(f"{name.split(' ')[0]} {times[name][-1]:.3f}s"
                                                           for name in names), flush=True)

    t = {name: median(times[name]) for name in names}
    t_serial = t["serial loop"]
    t_pool = t["multiprocessing.Pool.map cs 1"]
    rows = []
    for name in names:
        speedup = t_serial / t[name]
        rows.append([name, f"{t[name]:.3f}", f"{min(times[name]):.3f}..{max(times[name]):.3f}", f"{speedup:.2f}",
                     f"{speedup / w:.2f}", "-" if name == "serial loop" else f"{t_pool / t[name]:.3f}",
                     f"{median(foreign[name]):.2f}"])
    print()
    print(table(["contender", "seconds (median)", "range", "speed-up", "speed-up/cores", "vs Pool (speed ratio)",
                 "others' load"], rows))
    print(f"  others' load: cores used by processes outside this benchmark during the timed run (median); "
          f"{redone} run(s) redone for load > {_common.NOISY_CORES}")
    warning = _common.noise_warning(foreign)
    if warning:
        print(warning)
    ideal = t_serial / w
    off_ideal = 100 * (t["poolscope (events on)"] / ideal - 1)
    print(f"\n  ideal (serial / {w}): {ideal:.3f}s; poolscope is {off_ideal:+.1f}% "
          f"from ideal, Pool {100 * (t_pool / ideal - 1):+.1f}%")

    ours = t_serial / t["poolscope (events on)"]
    pool_speedup = t_serial / t_pool
    targets = [
        {"target": "scaling: speed-up / cores", "goal": ">= 0.95", "measured": f"{ours / w:.3f} ({ours:.2f}x on {w})",
         "peer": f"Pool {pool_speedup / w:.3f}", "ratio": round(ours / w, 3), "met": ours / w >= 0.95},
        {"target": "scaling: vs multiprocessing.Pool", "goal": ">= 0.97 (within 3%)",
         "measured": f"{t['poolscope (events on)']:.3f} s", "peer": f"{t_pool:.3f} s",
         "ratio": round(t_pool / t["poolscope (events on)"], 3), "met": t_pool / t["poolscope (events on)"] >= 0.97},
    ]
    for name in names[3:]:
        targets.append({"target": f"scaling: vs {name.split(' ')[0]} (info)", "goal": "-",
                        "measured": f"{t['poolscope (events on)']:.3f} s", "peer": f"{t[name]:.3f} s",
                        "ratio": round(t[name] / t["poolscope (events on)"], 3), "met": None})
    print()
    print(table(["target", "goal", "poolscope", "peer", "ratio", "verdict"],
                [[x["target"], x["goal"], x["measured"], x["peer"], f"{x['ratio']:.3f}",
                  "info" if x["met"] is None else verdict(x["met"])] for x in targets]))
    _common.write_json(args.json, "scaling", targets,
                       {"seconds": times, "foreign_load": foreign, "redone": redone, "noisy": bool(warning),
                        "loops": loops, "task_ms": serial_ms, "workers": w, "repeat": args.repeat})


if __name__ == "__main__":
    main()
