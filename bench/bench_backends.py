"""Backends side by side: the same CPU-bound job on processes, threads and a local Dask cluster.

Threads share one interpreter lock, so a CPU-bound pure-Python task gains nothing from more
threads; processes use every core. This benchmark measures that (the "GIL made visible" that
the per-core graph shows) and what a local Dask cluster costs on the same job. Every backend runs
the same 32 calls of ``burn`` (bench_scaling.py's task, ~50 ms each here) through one
``Engine``, warm, in rotating order; medians over ``--repeat`` runs.

Assertion (issue 6): processes' speed-up over threads >= 0.8 x cores on a CPU-bound task.

    python bench/bench_backends.py [--repeat 3] [--tasks 32] [--task-ms 50] [--no-dask]
"""

from __future__ import annotations

import os
import time

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import fmt_ratio, measured, median, noise_warning, table, verdict, write_json
from bench_scaling import burn, calibrate

from poolscope.core.backends import backend_info
from poolscope.core.engine import Engine
from poolscope.core.jobs import JobSpec

TARGET = f"{os.path.join(os.path.dirname(os.path.abspath(__file__)), 'bench_scaling.py')}:burn"


def run_job(engine: Engine, backend: str, tasks: int, loops: int) -> float:
    spec = JobSpec.create(TARGET, f"range:{tasks}", kwargs={"loops": loops}, chunksize=1, backend=backend)
    start = time.perf_counter()
    summary = engine.submit(spec).wait(600)
    elapsed = time.perf_counter() - start
    expected = [burn(n, loops=loops) for n in range(tasks)]
    if summary.results != expected:
        raise AssertionError(f"{backend}: wrong results ({summary.status.value}, {summary.errors[:1]})")
    return elapsed


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=32)
    p.add_argument("--task-ms", type=float, default=50.0)
    p.add_argument("--no-dask", action="store_true", help="leave out the local Dask cluster")
    args = p.parse_args()
    cores = args.workers
    loops = calibrate(args.task_ms)
    backends = ["processes", "threads"] + (["dask"] if backend_info("dask").available() and not args.no_dask else [])
    print(f"bench_backends: {args.tasks} CPU-bound tasks of ~{args.task_ms:.0f} ms, {cores} workers per backend, "
          f"median of {args.repeat}")
    print(_common.machine_line())
    times: dict[str, list[float]] = {name: [] for name in backends}
    foreign: dict[str, list[float]] = {name: [] for name in backends}
    serial_times = []
    with Engine(workers=cores, threads=cores, dask_workers=cores, nice=args.nice) as engine:
        for name in backends:  # warm every backend (starts threads and the cluster)
            run_job(engine, name, cores, 1000)
        for repeat in range(args.repeat):
            start = time.perf_counter()
            for n in range(args.tasks):
                burn(n, loops=loops)
            serial_times.append(time.perf_counter() - start)
            order = backends[repeat % len(backends):] + backends[: repeat % len(backends)]
            for name in order:
                elapsed, meter, _ = measured(lambda name=name: run_job(engine, name, args.tasks, loops), args.retries)
                times[name].append(elapsed)
                foreign[name].append(meter.foreign)
    serial = median(serial_times)
    rows = []
    for name in backends:
        t = median(times[name])
        rows.append([name, f"{t:.3f}", f"{serial / t:.2f}x", f"{serial / t / cores:.2f}",
                     f"{median(foreign[name]):.2f}"])
    print()
    print(table(["backend", "seconds (median)", "speed-up vs serial", "speed-up / cores", "others' load"], rows))
    print(f"  serial loop in one process: {serial:.3f} s")
    warning = noise_warning(foreign)
    if warning:
        print(warning)
    gil_ratio = median(times["threads"]) / median(times["processes"])
    goal = 0.8 * cores
    ok = gil_ratio >= goal
    print()
    print(table(["target", "goal", "measured", "verdict"],
                [["processes' speed-up over threads (CPU-bound)", f">= {goal:.1f}x", fmt_ratio(gil_ratio),
                  verdict(ok)]]))
    targets = [{"target": "processes' speed-up over threads on a CPU-bound task", "goal": f">= {goal:.1f}x",
                "measured": fmt_ratio(gil_ratio), "peer": f"threads {median(times['threads']):.3f} s",
                "ratio": fmt_ratio(gil_ratio), "met": ok}]
    if "dask" in times:
        dask_ratio = median(times["processes"]) / median(times["dask"])
        targets.append({"target": "local Dask cluster vs processes (for information)", "goal": "-",
                        "measured": f"{median(times['dask']):.3f} s",
                        "peer": f"processes {median(times['processes']):.3f} s",
                        "ratio": fmt_ratio(dask_ratio), "met": None})
    write_json(args.json, "bench_backends", targets)


if __name__ == "__main__":
    main()
