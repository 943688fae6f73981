"""Cancel and terminate latency, p50/p95 over many trials on one warm engine.

Cancel: a job of 400 CPU-bound tasks of ~25 ms (the ``pi`` built-in, which calls progress() every
~2 ms) runs until the pool is in its steady state (8 tasks done, chunks prefetched); then
``engine.cancel(job)``. Measured from the call:
  * unsent dropped: the engine has counted the tasks it had not sent as cancelled;
  * pending gone: every task but the ones running is accounted for
    (``done + failed + cancelled >= total - workers``): the issue's "pending tasks are gone";
  * job ended: the job reached its final state (its running tasks noticed Cancelled and returned).

Terminate: a job of long CPU-bound tasks occupies every worker (seen through ``WorkerActivity``
events); then ``engine.terminate(job)``. Measured from the call:
  * processes dead: every pid that ran the job's tasks is gone or a zombie (psutil);
  * replaced and ready: ``engine.worker_pids()`` (which lists workers that have told the engine
    they are ready) again lists ``engine.workers`` pids, none of them old. A cross-check follows:
  * parallel again: a probe job of ``workers`` tasks that each sleep 100 ms and return their pid,
    submitted right after terminate, ends at (slowest worker ready) + 100 ms when each task ran
    on its own new worker; the row shows that end minus 100 ms (trials where one worker ran two
    probe tasks are counted, not timed).

Targets (issue 5): pending gone < 50 ms; processes dead < 250 ms; full strength < 1 s (p95, 50 trials).

    python bench/bench_cancel.py [--trials 50] [--workers 2]
"""

from __future__ import annotations

import collections
import os
import time
from typing import Any

import _common  # noqa: F401  (puts src/ on sys.path)
import psutil
from _common import fmt_ms, median, percentile, table, verdict

from poolscope.core.engine import Engine
from poolscope.core.events import WorkerActivity
from poolscope.core.jobs import JobSpec

POLL = 0.0002  # seconds between polls of the engine's public state
PROBE_SLEEP = 0.1


def probe_pid(x: int, *, seconds: float = PROBE_SLEEP) -> int:
    """A probe task: sleep, then say which process ran it."""
    time.sleep(seconds)
    return os.getpid()


class Activity(_common.EventDrain):
    """Drains ``engine.events``, keeping the latest WorkerActivity per pid (which job each worker runs)."""

    def __init__(self, events: Any) -> None:
        self.job_of: dict[int, int | None] = {}
        super().__init__(events, self._fold)

    def _fold(self, batch: list[Any]) -> None:
        for event in batch:
            if isinstance(event, WorkerActivity):
                self.job_of[event.pid] = event.job_id


def wait_for(condition: Any, timeout: float, what: str) -> float:
    """Poll until ``condition()``; return the perf_counter time it first held."""
    deadline = time.perf_counter() + timeout
    while True:
        now = time.perf_counter()
        if condition():
            return now
        if now > deadline:
            raise TimeoutError(f"{what} not within {timeout} s")
        time.sleep(POLL)


def calibrate_pi(task_ms: float) -> int:
    from poolscope.tasks.pi import monte_carlo_pi

    probe = 100_000
    best = min(_timed(monte_carlo_pi, probe) for _ in range(3))
    return max(10_000, int(probe * task_ms / 1000 / best))


def _timed(fn: Any, samples: int) -> float:
    start = time.perf_counter()
    fn(0, samples=samples)
    return time.perf_counter() - start


def is_dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- trials ---------------------------------------------------------------------------------------
def cancel_trial(engine: Engine, samples: int, tasks: int) -> dict[str, float]:
    w = engine.workers
    job = engine.submit(JobSpec.create("pi", range(tasks), kwargs={"samples": samples}))
    wait_for(lambda: job.summary().done >= 8, 30, "8 tasks done")
    start = time.perf_counter()
    engine.cancel(job)
    t_unsent = t_pending = None
    while True:
        s = job.summary()
        now = time.perf_counter()
        if t_unsent is None and s.cancelled > 0:
            t_unsent = now
        if t_pending is None and s.done + s.failed + s.cancelled >= tasks - w:
            t_pending = now
        if s.status.is_final:
            t_end = now
            break
        if now - start > 30:
            raise TimeoutError("cancelled job did not end within 30 s")
        time.sleep(POLL)
    final = job.wait(10)
    assert final.status.value == "cancelled", final.status
    return {"unsent dropped": (t_unsent or t_end) - start, "pending gone": (t_pending or t_end) - start,
            "job ended": t_end - start}


def terminate_trial(engine: Engine, activity: Activity, samples: int, meter: Any) -> dict[str, float]:
    w = engine.workers
    wait_for(lambda: len(engine.worker_pids()) == w, 30, "pool ready")
    job = engine.submit(JobSpec.create("pi", range(w * 4), kwargs={"samples": samples}))
    wait_for(lambda: len(set(engine.worker_pids())) == w
             and all(activity.job_of.get(pid) == job.id for pid in engine.worker_pids()), 30,
             "every worker running the job")
    victims = set(engine.worker_pids())
    meter.touch()  # their CPU so far is ours, not a neighbour's, once they are gone
    start = time.perf_counter()
    engine.terminate(job)
    probe = engine.submit(JobSpec.create(probe_pid, range(w), kwargs={"seconds": PROBE_SLEEP}))
    times: dict[str, float | None] = {"processes dead": None, "replaced and ready": None,
                                      "job ended": None}
    while any(v is None for v in times.values()):
        now = time.perf_counter()
        if times["processes dead"] is None and all(is_dead(pid) for pid in victims):
            times["processes dead"] = now
        pids = engine.worker_pids()
        if times["replaced and ready"] is None and len(pids) == w and not victims & set(pids):
            times["replaced and ready"] = now
        if times["job ended"] is None and job.state.is_final:
            times["job ended"] = now
        if now - start > 30:
            raise TimeoutError(f"terminate trial stuck: {times}")
        time.sleep(POLL)
    summary = probe.wait(30)
    probe_end = time.perf_counter()
    assert job.wait(10).status.value == "terminated"
    out = {k: v - start for k, v in times.items() if v is not None}
    parallel = summary.done == w and len(set(summary.results or [])) == w and not victims & set(summary.results or [])
    out["parallel again (probe)"] = (probe_end - PROBE_SLEEP - start) if parallel else float("nan")
    return out


def summarize(name: str, samples: dict[str, list[float]], goals: dict[str, float]) -> list[list[str]]:
    rows = []
    for metric, values in samples.items():
        good = [v for v in values if v == v]
        goal = goals.get(metric)
        p95 = percentile(good, 95)
        rows.append([f"{name}: {metric}", str(len(good)), fmt_ms(percentile(good, 50)), fmt_ms(p95),
                     fmt_ms(max(good) if good else float("nan")),
                     "-" if goal is None else f"< {goal * 1000:.0f}",
                     "-" if goal is None else verdict(p95 < goal)])
    return rows


def main() -> None:
    p = _common.parser(__doc__.split("\n\n")[0], repeat=None)
    p.add_argument("--trials", type=int, default=50, help="trials of each kind (default 50)")
    p.add_argument("--task-ms", type=float, default=25.0, help="duration of one cancel-bench task (default 25)")
    args = p.parse_args()
    samples_short = calibrate_pi(args.task_ms)
    samples_long = samples_short * 400  # ~10 s: still running when terminated

    print(f"bench_cancel: {args.trials} trials each, {args.workers} workers, nice {args.nice}, "
          f"cancel tasks ~{args.task_ms:.0f} ms (pi, {samples_short:,} samples)")
    print(_common.machine_line())
    cancel: dict[str, list[float]] = collections.defaultdict(list)
    term: dict[str, list[float]] = collections.defaultdict(list)
    foreign = []
    with Engine(workers=args.workers, nice=args.nice, events=True) as engine:
        activity = Activity(engine.events)
        try:
            engine.submit(JobSpec.create("sleep", range(args.workers), kwargs={"seconds": 0.05})).wait(60)
            engine.submit(JobSpec.create(probe_pid, range(args.workers), kwargs={"seconds": 0.01})).wait(60)
            with _common.LoadMeter() as meter:
                for _ in range(args.trials):
                    for k, v in cancel_trial(engine, samples_short, 400).items():
                        cancel[k].append(v)
            foreign.append(meter.foreign)
            print(f"  cancel: {args.trials} trials in {meter.wall:.1f} s, others' load {meter.foreign:.2f} cores",
                  flush=True)
            with _common.LoadMeter() as meter:
                for _ in range(args.trials):
                    for k, v in terminate_trial(engine, activity, samples_long, meter).items():
                        term[k].append(v)
            foreign.append(meter.foreign)
            print(f"  terminate: {args.trials} trials in {meter.wall:.1f} s, others' load {meter.foreign:.2f} cores",
                  flush=True)
        finally:
            engine.shutdown(terminate=True)
            activity.stop()

    rows = summarize("cancel", cancel, {"pending gone": 0.050})
    rows += summarize("terminate", term, {"processes dead": 0.250, "replaced and ready": 1.0,
                                          "parallel again (probe)": 1.0})
    print()
    print(table(["metric (from the call)", "n", "p50 ms", "p95 ms", "max ms", "target ms (p95)", "verdict"], rows))
    unparallel = sum(1 for v in term["parallel again (probe)"] if v != v)
    if unparallel:
        print(f"  parallel again: {unparallel} trial(s) ran two probe tasks on one worker (a replacement was slow)")

    def p95(d: dict[str, list[float]], k: str) -> float:
        return percentile([v for v in d[k] if v == v], 95)

    targets = [
        {"target": "cancel: pending tasks gone (p95)", "goal": "< 50 ms",
         "measured": f"{fmt_ms(p95(cancel, 'pending gone'))} ms", "peer": "-",
         "ratio": round(p95(cancel, "pending gone") / 0.050, 3), "met": p95(cancel, "pending gone") < 0.050},
        {"target": "terminate: processes dead (p95)", "goal": "< 250 ms",
         "measured": f"{fmt_ms(p95(term, 'processes dead'))} ms", "peer": "-",
         "ratio": round(p95(term, "processes dead") / 0.250, 3), "met": p95(term, "processes dead") < 0.250},
        {"target": "terminate: full strength, ready (p95)", "goal": "< 1000 ms",
         "measured": f"{fmt_ms(p95(term, 'replaced and ready'))} ms", "peer": "-",
         "ratio": round(p95(term, "replaced and ready") / 1.0, 3), "met": p95(term, "replaced and ready") < 1.0},
    ]
    print()
    print(table(["target", "goal", "measured", "share of budget", "verdict"],
                [[t["target"], t["goal"], t["measured"], f"{t['ratio']:.2f}", verdict(t["met"])] for t in targets]))
    _common.write_json(args.json, "cancel", targets, {
        "cancel": {k: {"p50": median(v), "p95": percentile(v, 95)} for k, v in cancel.items()},
        "terminate": {k: {"p50": median([x for x in v if x == x]), "p95": p95(term, k)} for k, v in term.items()},
        "trials": args.trials, "foreign_load": foreign})


if __name__ == "__main__":
    main()
