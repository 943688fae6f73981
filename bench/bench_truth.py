"""Are the window's numbers true? Each figure the window shows, against the kernel's accounting,
the engine's exact counts and the tasks' own clocks.

The real window (``MainWindow`` on a real ``Engine(events=True)``) is opened, offscreen unless a
display is set, and every telemetry reading it applies is kept. Measured:

  * **per-core load** against ``/proc/stat`` over the same intervals: a thread reads
    ``/proc/stat`` every 5 ms; for each reading the window applied (time t_k), the kernel's load
    of each core over [t_(k-1), t_k] (busy jiffies over all jiffies, busy = all - idle - iowait,
    as psutil counts) is interpolated from those reads. The load goes from idle to one core busy
    to every core busy. Reported: mean and p95 of |window - kernel| in points, over every core
    and reading;
  * **worker CPU %** (what the workers table shows) against ``/proc/PID/stat`` while every worker
    spins: over the same interval as each reading (1 to 1.25 s), and over exactly the second
    before it; mean / p95 / worst difference, readings at 0 and above 100;
  * **throughput integral per job** against the engine's exact counts: jobs of different shapes,
    first each alone (3,000 no-op tasks, done within one reading; 8 x 0.2 s; 2 x 4 s), then
    several at once (with 2,000 x 2 ms spins and a job cancelled half-way); once each curve is
    back to 0, the area under it as drawn (straight lines between its points) over done + failed;
  * **ETA error** at 10, 25 and 50% for uniform jobs of short (40 x 0.25 s) and long
    (``--long-tasks`` x 3 s) tasks: every 50 ms the jobs table's ETA cell is read (the model's
    clock set to now) beside the tasks done; the truth is when the job's last task ended, by its
    own clock. Error = (shown - true time left) / true time left, at the first reading at or past
    each mark; also the worst from 10% on, and how often the cell was blank after the first task
    had finished.

  * **the window's own CPU**, idle and while watching a busy job (the window's process minus its
    engine thread), by ``bench_window_cost.measure_window_cost`` (the real application in a child
    process, on Xvfb where there is one); ``--cost-seconds 0`` leaves it out.

Targets (issue 10, "every number is true"): throughput areas within 1%; ETA within 20% from 10%
on; worker CPU within 5 points, never 0 when busy, never above 100; per-core load reported; the
window under 1% of a core idle and under 5% watching.

    python bench/bench_truth.py [--workers N] [--nice 10] [--long-tasks 20] [--cost-seconds 20]
"""

from __future__ import annotations

import os

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import itertools  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import _common  # noqa: E402  (puts src/ on sys.path)
from _common import percentile, table, verdict  # noqa: E402

HERE = os.path.abspath(__file__)
AREA_TOLERANCE = 0.01
ETA_TOLERANCE = 0.20
CPU_TOLERANCE = 5.0
MARKS = (10, 25, 50)


# -- tasks (run in the workers: this module is imported there without Qt) -------------------------
def timed_sleep(x: int, *, seconds: float = 0.1) -> tuple[float, float]:
    """Hold a worker ``seconds`` without using the CPU; return (start, end) on time.monotonic()."""
    start = time.monotonic()
    time.sleep(seconds)
    return start, time.monotonic()


def spin(x: int, *, seconds: float = 0.002) -> int:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return x


# -- the kernel's accounting --------------------------------------------------------------------
def proc_stat() -> list[tuple[int, int]]:
    """(busy, all) jiffies of every logical core, from /proc/stat (psutil's sense of busy)."""
    cores = []
    with open("/proc/stat") as stream:
        for line in stream:
            if line.startswith("cpu") and line[3].isdigit():
                values = [int(v) for v in line.split()[1:9]]  # user nice system idle iowait irq softirq steal
                total = sum(values)
                cores.append((total - values[3] - values[4], total))
    return cores


def proc_pid_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class KernelReader:
    """A thread reading /proc/stat and the workers' /proc/PID/stat every 5 ms, with the time."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.cores: list[tuple[float, list[tuple[int, int]]]] = []  # (monotonic, per core (busy, all))
        self.workers: dict[int, list[tuple[float, float]]] = {pid: [] for pid in pids}  # pid -> (monotonic, cpu s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-kernel-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            self.cores.append((now, proc_stat()))
            for pid in self.pids:
                try:
                    self.workers[pid].append((now, proc_pid_cpu(pid)))
                except OSError:
                    pass
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def core_loads(self, t0: float, t1: float) -> list[float]:
        """Each core's load over [t0, t1], in percent (call after stop())."""
        import numpy as np

        times = np.array([t for t, _ in self.cores])
        jiffies = np.array([row for _, row in self.cores], dtype=float)  # (reads, cores, (busy, all))
        loads = []
        for core in range(jiffies.shape[1]):
            busy, total = jiffies[:, core, 0], jiffies[:, core, 1]
            d_busy = np.interp(t1, times, busy) - np.interp(t0, times, busy)
            d_total = np.interp(t1, times, total) - np.interp(t0, times, total)
            loads.append(100.0 * d_busy / d_total if d_total > 0 else 0.0)
        return loads

    def worker_percent(self, pid: int, t0: float, t1: float) -> float:
        """A worker's CPU % of one core over [t0, t1] (call after stop())."""
        import numpy as np

        times, cpu = zip(*self.workers[pid], strict=True)
        return 100.0 * float(np.interp(t1, times, cpu) - np.interp(t0, times, cpu)) / (t1 - t0)


# -- the window ---------------------------------------------------------------------------------
def seconds_of(text: str) -> float | None:
    """Back from format_duration: "4.8 s", "0:37", "1:02:03"; None for a blank cell."""
    if not text:
        return None
    if text.endswith(" s"):
        return float(text[:-2])
    value = 0.0
    for part in text.split(":"):
        value = value * 60 + int(part)
    return value


class Recorder:
    """Keeps every telemetry reading the window applies."""

    def __init__(self, window: Any) -> None:
        self.samples: list[Any] = []
        self._apply = window.apply_update
        window.apply_update = self._keep

    def _keep(self, update: Any) -> None:
        self.samples.extend(update.samples)
        self._apply(update)


def run_load(win: Any, recorder: Recorder, reader: KernelReader, seconds: float) -> dict[str, Any]:
    """Idle, one worker busy, every worker busy; per-core and worker CPU against the kernel."""
    from poolscope.core.jobs import JobSpec

    engine = win.engine
    first = len(recorder.samples)
    win.spin(seconds)  # idle
    one = win.window.submit(JobSpec.create(f"{HERE}:spin", "range:1", kwargs={"seconds": seconds}))
    win.wait_until(lambda: one.state.is_final, seconds * 3)
    busy_from = time.monotonic()
    every = win.window.submit(JobSpec.create(f"{HERE}:spin", f"range:{engine.workers}",
                                             kwargs={"seconds": 2 * seconds}))
    win.wait_until(lambda: every.state.is_final, seconds * 6)
    busy_until = time.monotonic()
    win.spin(0.1)
    reader.stop()
    samples = recorder.samples[first:]
    core_diffs = []
    for before, sample in itertools.pairwise(samples):
        truth = reader.core_loads(before.time, sample.time)
        core_diffs.extend(abs(float(shown) - kernel) for shown, kernel in zip(sample.cpu, truth, strict=True))
    worker_diffs, second_diffs, zeros, above = [], [], 0, 0
    for sample in samples:
        if not busy_from + 1.5 <= sample.time <= busy_until - 0.3:
            continue  # every worker busy over the whole second before the reading
        for pid, stats in sample.processes.items():
            if pid not in reader.workers or not reader.workers[pid]:
                continue
            since, until = stats.span  # the interval the reading is over (about the last second)
            worker_diffs.append(abs(stats.cpu_percent - reader.worker_percent(pid, since, until)))
            second_diffs.append(abs(stats.cpu_percent - reader.worker_percent(pid, sample.time - 1.0, sample.time)))
            zeros += stats.cpu_percent == 0
            above += stats.cpu_percent > 100
    return {"readings": len(samples), "core mean": sum(core_diffs) / len(core_diffs),
            "core p95": percentile(core_diffs, 95), "core max": max(core_diffs),
            "worker readings": len(worker_diffs), "worker mean": sum(worker_diffs) / max(1, len(worker_diffs)),
            "worker p95": percentile(worker_diffs, 95), "worker max": max(worker_diffs, default=float("nan")),
            "second mean": sum(second_diffs) / max(1, len(second_diffs)), "second p95": percentile(second_diffs, 95),
            "second max": max(second_diffs, default=float("nan")),
            "worker zeros": zeros, "worker above 100": above}


def run_throughput(win: Any) -> list[dict[str, Any]]:
    """Jobs of different shapes at once; each curve's area against the engine's count."""
    import numpy as np

    from poolscope.core.jobs import JobSpec
    from poolscope.monitor.folder import RATE_WINDOW

    alone = [  # one after the other, each alone on the pool
        ("alone: 3,000 no-op tasks (within one reading)", JobSpec.create("noop", "range:3000")),
        ("alone: 8 x 0.2 s (a 0.8 s job)", JobSpec.create(f"{HERE}:timed_sleep", "range:8", kwargs={"seconds": 0.2})),
        ("alone: 2 x 4 s", JobSpec.create(f"{HERE}:timed_sleep", "range:2", kwargs={"seconds": 4.0})),
    ]
    together = [  # then all at once
        ("together: 3,000 no-op tasks", JobSpec.create("noop", "range:3000")),
        ("together: 2 x 4 s", JobSpec.create(f"{HERE}:timed_sleep", "range:2", kwargs={"seconds": 4.0})),
        ("together: 2,000 x 2 ms spins", JobSpec.create(f"{HERE}:spin", "range:2000", kwargs={"seconds": 0.002})),
        ("together: cancelled half-way (400 x 20 ms)", JobSpec.create(f"{HERE}:timed_sleep", "range:400",
                                                                      kwargs={"seconds": 0.02})),
    ]
    jobs = []
    for name, spec in alone:
        job = win.window.submit(spec)
        win.wait_until(lambda job=job: job.state.is_final, 60)
        jobs.append((name, job))
    win.spin(0.5)
    jobs += [(name, win.window.submit(spec)) for name, spec in together]
    cancelled = jobs[-1][1]
    win.wait_until(lambda: cancelled.summary().done >= 100 or cancelled.state.is_final, 60)
    win.engine.cancel(cancelled)
    win.wait_until(lambda: all(job.state.is_final for _, job in jobs), 120)
    win.spin(RATE_WINDOW + 1.0)  # every curve back at 0
    rows = []
    graph = win.window.throughput_graph
    for name, job in jobs:
        summary = job.summary()
        count = summary.done + summary.failed
        buffer = graph.jobs.get(job.id)
        area = 0.0
        if buffer is not None and len(buffer) > 1:
            times, rates = buffer.times(), buffer.values()[:, 0]
            area = float(np.sum((rates[1:] + rates[:-1]) / 2 * np.diff(times)))
        rows.append({"job": name, "count": count, "area": area, "error": (area - count) / count if count else 0.0,
                     "seconds": summary.wall_seconds})
    return rows


def run_eta(win: Any, tasks: int, seconds: float) -> dict[str, Any]:
    """A uniform job; the ETA shown every 50 ms against the true time left."""
    from poolscope.core.jobs import JobSpec, JobState

    model = win.window.jobs_model
    column = model.COLUMNS.index("ETA")
    job = win.window.submit(JobSpec.create(f"{HERE}:timed_sleep", f"range:{tasks}", kwargs={"seconds": seconds}))
    readings = []  # (now, done, shown ETA)
    while True:
        win.spin(0.05)
        view = model.view_of(job.id)
        if view is None:
            continue
        if view.state.is_final:
            break
        if view.state is not JobState.RUNNING:
            continue
        now = time.monotonic()
        model.tick(now)
        text = model.data(model.index(model.row_of(job.id), column))
        readings.append((now, view.done, seconds_of(text)))
    summary = job.wait(10)
    end = max(stop for _, stop in summary.results)
    result: dict[str, Any] = {"tasks": tasks, "seconds": seconds}
    for mark in MARKS:
        at = next(((now, eta) for now, done, eta in readings if done * 100 >= mark * tasks), None)
        if at is None or at[1] is None:
            result[mark] = float("nan") if at is None else float("inf")
        else:
            left = end - at[0]
            result[mark] = (at[1] - left) / left
    worst = 0.0
    for now, done, eta in readings:
        left = end - now
        if done * 10 >= tasks and left > 0.5:
            worst = max(worst, abs((eta - left) / left) if eta is not None else float("inf"))
    after_first = [eta for _, done, eta in readings if done >= 1]
    result["worst"] = worst
    result["blank"] = sum(eta is None for eta in after_first) / max(1, len(after_first))
    return result


def percent(value: float) -> str:
    return "n/a" if value != value else "blank" if value == float("inf") else f"{value * 100:+.1f}%"


def main() -> int:
    import bench_gui_latency as gui

    p = _common.parser(__doc__.split("\n\n")[0], repeat=None)
    p.add_argument("--load-seconds", type=float, default=3.0, help="seconds of each load step (default 3)")
    p.add_argument("--long-tasks", type=int, default=20, help="tasks of 3 s in the long ETA job (default 20)")
    p.add_argument("--cost-seconds", type=float, default=20.0,
                   help="seconds the window's own CPU is measured per scenario (default 20; 0: not measured)")
    args = p.parse_args()
    app = gui.application()
    print(f"bench_truth: window open ({gui.platform_name(app)}), {args.workers} workers at nice {args.nice}")
    print(_common.machine_line(), flush=True)
    win = gui.Window(app, workers=args.workers, nice=args.nice)
    recorder = Recorder(win.window)
    reader = KernelReader(win.engine.worker_pids())
    try:
        with _common.LoadMeter() as meter:  # others' load (the machine is shared), reported
            load = run_load(win, recorder, reader, args.load_seconds)
            areas = run_throughput(win)
            etas = [run_eta(win, 40, 0.25), run_eta(win, args.long_tasks, 3.0)]
    finally:
        reader.stop()
        win.close()

    print()
    print(table(["per-core load vs /proc/stat", "readings", "mean |diff|", "p95", "max"],
                [["every core, every reading", load["readings"], f"{load['core mean']:.2f} pts",
                  f"{load['core p95']:.2f} pts", f"{load['core max']:.2f} pts"]]))
    print()
    cpu_ok = (load["second max"] <= CPU_TOLERANCE and load["worker max"] <= CPU_TOLERANCE
              and not load["worker zeros"] and not load["worker above 100"])
    print(table(["busy worker CPU % vs /proc/PID/stat", "readings", "mean |diff|", "p95", "max", "at 0", "> 100"],
                [["over the reading's own interval", load["worker readings"], f"{load['worker mean']:.2f} pts",
                  f"{load['worker p95']:.2f} pts", f"{load['worker max']:.2f} pts", load["worker zeros"],
                  load["worker above 100"]],
                 ["over exactly the second before it", load["worker readings"], f"{load['second mean']:.2f} pts",
                  f"{load['second p95']:.2f} pts", f"{load['second max']:.2f} pts", "", ""]]))
    print()
    print(table(["throughput: job", "tasks (engine)", "area under its curve", "error", "wall s"],
                [[r["job"], r["count"], f"{r['area']:.1f}", percent(r["error"]), f"{r['seconds']:.2f}"]
                 for r in areas]))
    print()
    print(table(["ETA: job", "at 10%", "at 25%", "at 50%", "worst from 10% on", "blank after 1st task"],
                [[f"{r['tasks']} x {r['seconds']:g} s", *(percent(r[m]) for m in MARKS), percent(r["worst"]),
                  f"{r['blank'] * 100:.0f}%"] for r in etas]))
    print(f"  (others' load during the run: {meter.foreign:.2f} cores)")

    worst_area = max(abs(r["error"]) for r in areas)
    area_ok = worst_area <= AREA_TOLERANCE
    eta_worst = max(r["worst"] for r in etas)
    eta_ok = eta_worst <= ETA_TOLERANCE and all(r["blank"] == 0 for r in etas)
    targets = [
        {"target": "truth: throughput area per job vs engine counts", "goal": "within 1%",
         "measured": f"worst {worst_area * 100:.2f}%", "peer": "-", "ratio": round(worst_area / AREA_TOLERANCE, 3),
         "met": area_ok},
        {"target": "truth: ETA from 10% on, short and long uniform tasks", "goal": "within 20%, never blank",
         "measured": f"worst {eta_worst * 100:.1f}%", "peer": "-",
         "ratio": round(eta_worst / ETA_TOLERANCE, 3) if eta_worst != float("inf") else None, "met": eta_ok},
        {"target": "truth: busy worker CPU % vs /proc/PID/stat over 1 s", "goal": "within 5 pts, (0, 100]",
         "measured": f"over the last second p95 {load['second p95']:.2f}, max {load['second max']:.2f} pts",
         "peer": "-", "ratio": round(load["second max"] / CPU_TOLERANCE, 3), "met": cpu_ok},
        {"target": "truth: per-core load vs /proc/stat, same intervals (information)", "goal": "-",
         "measured": f"mean {load['core mean']:.2f}, p95 {load['core p95']:.2f} pts", "peer": "-", "ratio": None,
         "met": None},
    ]
    cost = None
    if args.cost_seconds > 0:  # after the window above has closed: its engine's workers are gone
        import bench_window_cost

        cost = bench_window_cost.measure_window_cost(args.cost_seconds)
        print()
        print(table(["window's own CPU (% of a core)", "window (process - engine thread)", "goal"],
                    [[scenario, f"{cost[scenario]['window_percent']:.2f}", f"< {goal:g}"]
                     for scenario, goal in bench_window_cost.GOALS.items()]))
        print(f"  (platform: {cost['platform']})")
        targets += [{**target, "target": f"truth: {target['target']}"}
                    for target in bench_window_cost.targets_of(cost)]
    for t in targets:
        if t["met"] is not None:
            print(f"  {t['target']}: {t['measured']} ({t['goal']}): {verdict(t['met'])}")
    if meter.foreign > _common.NOISY_CORES:
        print(f"  WARNING: others used {meter.foreign:.2f} cores during the run")
    _common.write_json(args.json, "bench_truth", targets,
                       {"load": load, "throughput": areas, "eta": etas, "foreign": meter.foreign,
                        "window_cost": cost})
    return 0


if __name__ == "__main__":
    sys.exit(main())
