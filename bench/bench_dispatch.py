"""Dispatch overhead: 100,000 no-op tasks through poolscope and its peers, side by side.

poolscope runs with automatic chunking and monitoring on (``Engine(events=True)`` and a consumer
thread draining ``engine.events``, as the CLI and the window's bridge do), over the inputs given
as a Python list (sent to workers as lists of values, as Pool sends them: the verdict) and as a
``range:`` spec (sent as ranges, which pickle in a few bytes: for information). The peers are
``multiprocessing.Pool.imap_unordered`` at chunksize 1 and at 64/256/1024 (the best is taken),
and ``concurrent.futures.ProcessPoolExecutor.map`` at chunksize 256. Every pool uses spawn and
is warm: created, warmed up (every worker has run a task and imported the task's module), then
timed. The contenders run in a rotating order in each repeat, so a noisy neighbour does not
always hit the same one; the median over ``--repeat`` runs is reported.

Targets (issue 5): poolscope >= 1.0x Pool at its best chunksize, and >= 10x Pool at chunksize 1.

    python bench/bench_dispatch.py [--repeat 3] [--tasks 100000] [--workers 2]
"""

from __future__ import annotations

import collections
import concurrent.futures
import multiprocessing
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import fmt_rate, fmt_ratio, median, table, verdict

from poolscope.core.engine import Engine
from poolscope.core.events import JobFinished, TasksFinished
from poolscope.core.history import record_engine
from poolscope.core.jobs import JobSpec
from poolscope.tasks.noop import noop

POOL_CHUNKSIZES = (64, 256, 1024)
PPE_CHUNKSIZE = 256


class EventConsumer(_common.EventDrain):
    """Drains ``engine.events`` and folds the TasksFinished increments per job, so the bench can
    check that monitoring saw every task."""

    def __init__(self, events: Any) -> None:
        self.done: collections.Counter[int] = collections.Counter()
        self.finished: dict[int, threading.Event] = collections.defaultdict(threading.Event)
        self.batches = 0
        self.count = 0
        super().__init__(events, self._fold)

    def _fold(self, batch: list[Any]) -> None:
        self.batches += 1
        self.count += len(batch)
        for event in batch:
            if isinstance(event, TasksFinished):
                self.done[event.job_id] += event.done
            elif isinstance(event, JobFinished):
                self.finished[event.job_id].set()


# -- contenders: each returns a runner() -> seconds, and a close() ------------------------------
def poolscope_contender(workers: int, nice: int, tasks: int, events: bool,
                        as_list: bool, history: bool = False) -> tuple[Callable[[], float], Callable[[], None]]:
    engine = Engine(workers=workers, nice=nice, events=events)
    consumer = EventConsumer(engine.events) if events else None
    # With history: the job history records the engine's jobs (a writer thread on its events, into
    # a database in a temporary folder), and each job writes its results through to a file there.
    folder = tempfile.mkdtemp(prefix="bench-history-") if history else None
    recorder = record_engine(engine, "bench", directory=folder) if folder else None
    # warm-up: every worker runs a task (sleep makes both take one), then the noop target is loaded
    engine.submit(JobSpec.create("sleep", range(workers), kwargs={"seconds": 0.05})).wait(60)
    engine.submit(JobSpec.create("noop", "range:1000")).wait(60)

    # A range input is sent to workers as ranges (a chunk pickles in a few bytes); a list as lists
    # of values, the way Pool sends any iterable.
    inputs: Any = list(range(tasks)) if as_list else f"range:{tasks}"

    def run() -> float:
        spec = JobSpec.create("noop", inputs)
        start = time.perf_counter()
        job = engine.submit(spec)
        summary = job.wait(600)
        elapsed = time.perf_counter() - start
        assert summary.done == tasks, summary
        assert summary.results is not None and summary.results[-1] == tasks - 1
        # the monitor must have seen every task (checked outside the timing)
        if consumer is not None and (not consumer.finished[job.id].wait(10) or consumer.done[job.id] != tasks):
            raise AssertionError(f"events saw {consumer.done[job.id]} of {tasks} tasks")
        return elapsed

    def close() -> None:
        engine.shutdown()
        if consumer is not None:
            consumer.stop()
        if recorder is not None:
            recorder.close()
            shutil.rmtree(folder, ignore_errors=True)

    return run, close


def map_contender(mapper: Callable[..., Any], workers: int, tasks: int, chunksize: int,
                  close: Callable[[], None]) -> tuple[Callable[[], float], Callable[[], None]]:
    """A peer whose ``mapper(function, iterable, chunksize=)`` maps over its warm pool."""
    list(mapper(time.sleep, [0.05] * workers, chunksize=1))  # every worker has started
    list(mapper(noop, range(1000), chunksize=16))  # ... and imported the task's module

    def run() -> float:
        start = time.perf_counter()
        total = sum(mapper(noop, range(tasks), chunksize=chunksize))
        elapsed = time.perf_counter() - start
        assert total == tasks * (tasks - 1) // 2
        return elapsed

    return run, close


def pool_contender(workers: int, tasks: int, chunksize: int) -> tuple[Callable[[], float], Callable[[], None]]:
    pool = multiprocessing.get_context("spawn").Pool(workers)

    def close() -> None:
        pool.close()
        pool.join()

    return map_contender(pool.imap_unordered, workers, tasks, chunksize, close)


def ppe_contender(workers: int, tasks: int, chunksize: int) -> tuple[Callable[[], float], Callable[[], None]]:
    executor = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    return map_contender(executor.map, workers, tasks, chunksize, executor.shutdown)


def main() -> None:
    p = _common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=100_000, help="no-op tasks per run (default 100000)")
    p.add_argument("--skip-chunksize-1", action="store_true", help="leave out Pool chunksize 1 (it is the slowest)")
    args = p.parse_args()
    n, w = args.tasks, args.workers

    contenders: dict[str, Callable[[], tuple[Callable[[], float], Callable[[], None]]]] = {
        "poolscope (list input, events on)": lambda: poolscope_contender(w, args.nice, n, True, True),
        "poolscope (range input, events on)": lambda: poolscope_contender(w, args.nice, n, True, False),
        "poolscope (list input, events off)": lambda: poolscope_contender(w, args.nice, n, False, True),
        "poolscope (list input, events on, history on)": lambda: poolscope_contender(w, args.nice, n, True, True,
                                                                                      history=True),
    }
    if not args.skip_chunksize_1:
        contenders["Pool.imap_unordered chunksize 1"] = lambda: pool_contender(w, n, 1)
    for cs in POOL_CHUNKSIZES:
        contenders[f"Pool.imap_unordered chunksize {cs}"] = lambda cs=cs: pool_contender(w, n, cs)
    contenders[f"ProcessPoolExecutor.map chunksize {PPE_CHUNKSIZE}"] = lambda: ppe_contender(w, n, PPE_CHUNKSIZE)

    print(f"bench_dispatch: {n:,} no-op tasks, {w} workers, spawn, warm pools, median of {args.repeat}")
    print(_common.machine_line())
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    foreign: dict[str, list[float]] = {name: [] for name in names}
    redone = 0
    for r in range(args.repeat):
        order = names[r % len(names):] + names[: r % len(names)]  # rotate: spread the noise
        for name in order:
            run, close = contenders[name]()
            try:
                elapsed, meter, again = _common.measured(run, args.retries)
            finally:
                close()
            times[name].append(elapsed)
            foreign[name].append(meter.foreign)
            redone += again
        print(f"  repeat {r + 1}/{args.repeat}: " + ", ".join(f"{name.split(' (')[0].split('.')[0]}"
              f"{'' if '(' not in name else '*'} {n / times[name][-1] / 1e3:.0f}k/s" for name in names), flush=True)

    rate = {name: n / median(times[name]) for name in names}
    ours = rate[names[0]]
    pool_best_name = max((f"Pool.imap_unordered chunksize {cs}" for cs in POOL_CHUNKSIZES), key=lambda k: rate[k])
    rows = []
    for name in names:
        rates = sorted(n / t for t in times[name])
        rows.append([name, fmt_rate(rate[name]), f"{fmt_rate(rates[0])}..{fmt_rate(rates[-1])}",
                     f"{median(times[name]):.3f}", f"{median(foreign[name]):.2f}",
                     "-" if name == names[0] else fmt_ratio(ours / rate[name])])
    print()
    print(table(["contender", "tasks/s (median)", "range", "seconds", "others' load", "poolscope/peer"], rows))
    print(f"  others' load: cores used by processes outside this benchmark during the timed run (median); "
          f"{redone} run(s) redone for load > {_common.NOISY_CORES}")
    warning = _common.noise_warning(foreign)
    if warning:
        print(warning)

    best_peer = f"{fmt_rate(rate[pool_best_name])} tasks/s ({pool_best_name.replace('Pool.imap_unordered ', '')})"
    targets = [{
        "target": "dispatch vs Pool best chunksize", "goal": ">= 1.0x",
        "measured": f"{fmt_rate(ours)} tasks/s", "peer": best_peer,
        "ratio": round(ours / rate[pool_best_name], 3), "met": ours / rate[pool_best_name] >= 1.0,
    }]
    ranged = rate["poolscope (range input, events on)"]
    targets.append({"target": "dispatch, range input, vs Pool best chunksize (info)", "goal": "-",
                    "measured": f"{fmt_rate(ranged)} tasks/s", "peer": best_peer,
                    "ratio": round(ranged / rate[pool_best_name], 3), "met": None})
    if not args.skip_chunksize_1:
        cs1 = rate["Pool.imap_unordered chunksize 1"]
        targets.append({"target": "dispatch vs Pool chunksize 1", "goal": ">= 10x",
                        "measured": f"{fmt_rate(ours)} tasks/s", "peer": f"{fmt_rate(cs1)} tasks/s",
                        "ratio": round(ours / cs1, 3), "met": ours / cs1 >= 10})
    ppe = rate[f"ProcessPoolExecutor.map chunksize {PPE_CHUNKSIZE}"]
    targets.append({"target": "dispatch vs ProcessPoolExecutor cs 256 (info)", "goal": "-",
                    "measured": f"{fmt_rate(ours)} tasks/s", "peer": f"{fmt_rate(ppe)} tasks/s",
                    "ratio": round(ours / ppe, 3), "met": None})
    print()
    print(table(["target", "goal", "poolscope", "peer", "ratio", "verdict"],
                [[t["target"], t["goal"], t["measured"], t["peer"], fmt_ratio(t["ratio"]),
                  "info" if t["met"] is None else verdict(t["met"])] for t in targets]))
    _common.write_json(args.json, "dispatch", targets,
                       {"rates": rate, "seconds": times, "foreign_load": foreign, "redone": redone,
                        "noisy": bool(warning), "tasks": n, "workers": w, "repeat": args.repeat})


if __name__ == "__main__":
    main()
