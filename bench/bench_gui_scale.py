"""Scale: a 1,000,000-task job through the real window with the GUI's memory flat, and a job
table that stays smooth with 500 finished jobs in it (target 5).

The real window (``MainWindow`` on a real ``Engine(events=True)``, workers at nice 10 as
``poolscope`` runs them unless ``--nice``) is shown offscreen (unless a display is set).

Memory: the resident set size of **this process only** (the window, the engine thread, the
bridge; not the workers) is sampled every 0.25 s by a thread (psutil) while one job of
1,000,000 tasks runs, then once it is shown as finished, and once more after "Clear finished".
Three jobs, one after another:

  * ``noop`` (the built-in; returns its input) at full speed: the fastest event flow;
  * ``spin`` (this file; ~10 us of work, returns its input): the same 1M tasks over several
    seconds, so the RSS curve has enough samples to tell growth from noise;
  * ``spin`` returning None: the same, without a million result objects to keep.

Reported: RSS before the job, at 10% of its tasks, peak, at the end, and after clearing it;
**growth after 10%** = the largest RSS after the first 10% of tasks minus the RSS at 10%.
Target: peak < 300 MB and no growth after 10% (here: < 5 MB, allocator noise).

Job table: 500 small jobs (``noop`` over 20 inputs) are submitted through the window as fast as
``MainWindow.submit`` goes; timed from the first submit until the table shows 500 rows, every one
finished. Then, with the 500 finished rows in the table and one running job (a progress flood,
so rows and graphs change every frame), side by side with an empty table (the same running job):

  * event-loop lateness of a 5 ms precise timer (as bench_gui_latency), p50 / p99;
  * graph frames per second (paints of the CPU graph);
  * table frame: scroll the table one row and process events until its viewport painted,
    timed per step (p50 / p99), at the default layout and with the table made tall (800 px);
  * "Clear finished" of the 500 rows (for information).

    python bench/bench_gui_scale.py [--tasks 1000000] [--task-us 10] [--table-jobs 500] [--seconds 3]
"""

from __future__ import annotations

import os

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import gc  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import _common  # noqa: E402  (puts src/ on sys.path)
from _common import median, percentile, table, verdict  # noqa: E402

HERE = os.path.abspath(__file__)
RSS_LIMIT_MB = 300.0
GROWTH_LIMIT_MB = 5.0  # "no growth": what allocator noise alone gives here
LATENESS_P99_MS = 16.0
MIN_FPS = 1.5  # graph redraws a second: they advance at the sample rate, at most every 500 ms (issue 10)
SAMPLE_S = 0.25
MB = 1024 * 1024


# -- tasks (imported by the workers: no Qt at module level) ---------------------------------------
def spin(x: int, *, us: float = 10.0, keep: bool = True) -> int | None:
    """Busy for ``us`` microseconds; return the input (or None with keep=False)."""
    end = time.perf_counter() + us * 1e-6
    while time.perf_counter() < end:
        pass
    return x if keep else None


# -- memory --------------------------------------------------------------------------------------
class RssSampler:
    """A thread sampling this process's RSS and a job's progress every ``interval`` seconds."""

    def __init__(self, job: Any, interval: float = SAMPLE_S) -> None:
        import psutil

        self._process = psutil.Process()
        self.job = job
        self.interval = interval
        self.samples: list[tuple[float, int, int]] = []  # (seconds since start, rss bytes, tasks done)
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self.sample()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)
        self._thread.start()

    def sample(self) -> None:
        done = self.job.summary().done if self.job is not None else 0
        self.samples.append((time.perf_counter() - self._t0, self._process.memory_info().rss, done))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sample()


def rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def run_big_job(win: Any, name: str, target: str, tasks: int, kwargs: dict[str, Any] | None) -> dict[str, Any]:
    from poolscope.core.jobs import JobSpec

    gc.collect()
    win.spin(0.5)
    before = rss()
    job = win.window.submit(JobSpec.create(target, f"range:0:{tasks}", kwargs=kwargs, name=name))
    sampler = RssSampler(job)
    started = time.perf_counter()
    late: list[float] = []
    probe = LatenessProbe(late)
    shown = win.wait_until(lambda: _shown_finished(win, job, tasks), timeout=600)
    probe.stop()
    elapsed = time.perf_counter() - started
    win.spin(1.0)  # a second more: what stays after the job
    sampler.stop()
    at_end = rss()
    summary = job.summary()
    win.window.clear_finished()
    win.spin(0.5)
    gc.collect()
    cleared = rss()
    samples = sampler.samples
    tenth = next((s for s in samples if s[2] >= tasks * 0.1), samples[-1])
    after = [s[1] for s in samples if s[0] >= tenth[0]]
    values = late[1:] or [0.0]
    return {
        "name": name, "tasks": tasks, "done": summary.done, "shown": shown, "seconds": elapsed,
        "tasks/s": summary.done / max(summary.wall_seconds, 1e-9), "before": before, "at 10%": tenth[1],
        "peak": max(s[1] for s in samples), "growth after 10%": max(after) - tenth[1], "end": at_end,
        "cleared": cleared, "job": job, "samples": len(samples), "late p50": percentile(values, 50),
        "late p99": percentile(values, 99), "curve": [(round(t, 2), round(r / MB, 1), d) for t, r, d in samples],
    }


def _shown_finished(win: Any, job: Any, tasks: int) -> bool:
    view = win.window.jobs_model.view_of(job.id)
    return view is not None and view.state.is_final and view.finished_tasks == tasks


class LatenessProbe:
    """A 5 ms precise timer on the main thread, appending its lateness (ms) to ``late``."""

    def __init__(self, late: list[float]) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.late = late
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.late.append(max(0.0, (now - self._last) * 1000 - 5))
        self._last = now

    def stop(self) -> None:
        """Stop; a stall still going on (no tick for a while) counts too."""
        self.timer.stop()
        self._tick()


# -- the job table ----------------------------------------------------------------------------------
def fill_table(win: Any, count: int) -> dict[str, float]:
    """Submit ``count`` small jobs; seconds until the table shows them all finished."""
    from poolscope.core.jobs import JobSpec

    model = win.window.jobs_model
    rows0 = model.rowCount()
    late: list[float] = []
    probe = LatenessProbe(late)
    t0 = time.perf_counter()
    jobs = [win.window.submit(JobSpec.create("noop", "range:0:20", name=f"small {i}")) for i in range(count)]
    submitted = time.perf_counter() - t0

    def all_shown() -> bool:
        if model.rowCount() < rows0 + count:
            return False
        return all((v := model.view_of(job.id)) is not None and v.state.is_final for job in jobs)

    win.wait_until(all_shown, timeout=300)
    total = time.perf_counter() - t0
    probe.stop()
    values = late[1:] or [0.0]
    return {"submit": submitted, "shown": total, "late p99": percentile(values, 99), "late max": max(values)}


def table_frames(win: Any, steps: int, budget: float = 4.0) -> list[float]:
    """Scroll the job table one row at a time; seconds per step until its viewport has painted
    (``steps`` steps, or fewer once ``budget`` seconds have gone: a frozen window takes long)."""
    view = win.window.job_table.view
    viewport = view.viewport()
    bar = view.verticalScrollBar()
    app = win.app
    app.processEvents()
    out: list[float] = []
    started = time.perf_counter()
    for i in range(steps):
        if out and time.perf_counter() - started > budget:
            break
        before = win.paints.count(viewport)
        t0 = time.perf_counter()
        value = i % (bar.maximum() + 1) if bar.maximum() > 0 else 0
        bar.setValue(value if value != bar.value() else (value + 1) % (bar.maximum() + 1))
        for _ in range(20):
            app.processEvents()
            if win.paints.count(viewport) > before:
                break
        out.append(time.perf_counter() - t0)
    return out


def smoothness(win: Any, seconds: float, steps: int, retries: int) -> dict[str, Any]:
    """With a progress flood running: lateness, graph fps, table scroll frames (default and tall)."""
    from bench_gui_latency import measure

    r, meter, redone = _common.measured(lambda: measure(win, seconds), retries)
    frames = table_frames(win, steps)
    sizes = win.window.right_splitter.sizes()
    win.window.right_splitter.setSizes([800, 100, 50])
    win.spin(0.3)
    tall = table_frames(win, steps)
    visible = win.window.job_table.view.viewport().height() // max(1, win.window.job_table.view.verticalHeader()
                                                                       .defaultSectionSize())
    win.window.right_splitter.setSizes(sizes)
    win.spin(0.3)
    return {"p50": r["p50"], "p99": r["p99"], "max": r["max"], "fps": r["cpu fps"], "foreign": meter.foreign,
            "redone": redone, "scroll steps": len(frames), "scroll p50": median(frames),
            "scroll p99": percentile(frames, 99),
            "tall scroll p50": median(tall), "tall scroll p99": percentile(tall, 99), "tall rows": visible}


def main() -> int:
    p = _common.parser(__doc__.split("\n\n")[0], repeat=None)
    p.set_defaults(nice=10)
    p.add_argument("--tasks", type=int, default=1_000_000, help="tasks in the big job (default 1,000,000)")
    p.add_argument("--task-us", type=float, default=10.0, help="work per spin task, microseconds (default 10)")
    p.add_argument("--table-jobs", type=int, default=500, help="finished jobs in the table (default 500)")
    p.add_argument("--seconds", type=float, default=3.0, help="measuring time of each smoothness run (default 3)")
    p.add_argument("--steps", type=int, default=60, help="table scroll steps timed (default 60)")
    p.add_argument("--skip-big", action="store_true", help="only the job table part")
    args = p.parse_args()

    from bench_gui_latency import Window, application, platform_name

    from poolscope.core.jobs import JobSpec

    app = application()
    print(f"bench_gui_scale: window open ({platform_name(app)}), {args.workers} workers at nice {args.nice}; "
          f"{args.tasks:,}-task jobs; {args.table_jobs} finished jobs in the table")
    print(_common.machine_line(), flush=True)
    win = Window(app, workers=args.workers, nice=args.nice)
    big: list[dict[str, Any]] = []
    forgotten = None
    try:
        # warm up: the workers import the tasks' modules; the window makes its first row, curve, log line
        for target in ("noop", f"{HERE}:spin"):
            job = win.window.submit(JobSpec.create(target, "range:0:2000"))
            win.wait_until(lambda job=job: _shown_finished(win, job, 2000), 60)
        win.window.clear_finished()
        win.spin(0.5)

        if not args.skip_big:
            cases = [(f"spin {args.task_us:g} us, returns None", f"{HERE}:spin", {"us": args.task_us, "keep": False}),
                     (f"spin {args.task_us:g} us, returns input", f"{HERE}:spin", {"us": args.task_us}),
                     ("noop, full speed", "noop", None)]
            for name, target, kwargs in cases:
                with _common.LoadMeter() as meter:
                    result = run_big_job(win, name, target, args.tasks, kwargs)
                result["foreign"] = meter.foreign
                big.append(result)
                print(f"  {name}: {result['seconds']:.1f} s, peak {result['peak'] / MB:.0f} MB, growth after 10% "
                      f"{result['growth after 10%'] / MB:+.1f} MB ({result['samples']} samples)", flush=True)
            # the window cleared them, but the engine still holds their records (results): drop them
            if hasattr(win.engine, "forget"):
                for result in big:
                    win.engine.forget(result.pop("job"))
                gc.collect()
                win.spin(0.5)
                forgotten = rss()
            for result in big:
                result.pop("job", None)

        # the job table: empty (with one running job) vs 500 finished rows (with the same running job)
        flood_target = os.path.join(os.path.dirname(HERE), "bench_gui_latency.py") + ":progress_flood"
        flood = win.window.submit(JobSpec.create(flood_target, "range:0:1000000", kwargs={"seconds": 0.05},
                                                 name="progress flood"))
        win.spin(1.0)
        empty = smoothness(win, args.seconds, args.steps, args.retries)
        print(f"  empty table: lateness p99 {empty['p99']:.1f} ms", flush=True)
        filled = fill_table(win, args.table_jobs)
        print(f"  {args.table_jobs} jobs submitted in {filled['submit']:.2f} s, all shown finished after "
              f"{filled['shown']:.2f} s", flush=True)
        win.spin(1.0)
        full = smoothness(win, args.seconds, args.steps, args.retries)
        print(f"  {args.table_jobs} finished rows: lateness p99 {full['p99']:.1f} ms", flush=True)
        win.engine.terminate(flood)
        win.wait_until(lambda: flood.state.is_final, 30)
        win.spin(0.3)
        t1 = time.perf_counter()
        win.window.clear_finished()
        clear_s = time.perf_counter() - t1
    finally:
        win.close()

    if big:
        rows = [[r["name"], f"{r['seconds']:.1f}", _common.fmt_rate(r["tasks/s"]), f"{r['before'] / MB:.0f}",
                 f"{r['at 10%'] / MB:.0f}", f"{r['peak'] / MB:.0f}", f"{r['growth after 10%'] / MB:+.1f}",
                 f"{r['end'] / MB:.0f}", f"{r['cleared'] / MB:.0f}", f"{r['late p99']:.1f}", r["samples"],
                 f"{r['foreign']:.2f}"] for r in big]
        print()
        print(table(["1M-task job (GUI process RSS, MB)", "s", "tasks/s", "before", "at 10%", "peak", "growth >10%",
                     "end", "cleared", "late p99 ms", "samples", "others' load"], rows))
        print("  (before: RSS before the job, with what earlier jobs left; "
              "cleared: after the window's 'Clear finished')")
        if forgotten is not None:
            print(f"  after Engine.forget() of the {len(big)} cleared jobs (the window does not call it): "
                  f"{forgotten / MB:.0f} MB")
        for r in big:
            if r["done"] != r["tasks"] or not r["shown"]:
                print(f"  WARNING: {r['name']}: {r['done']:,} of {r['tasks']:,} done, shown finished: {r['shown']}")
    print()
    print(table(["job table, progress flood running", "late p50 ms", "p99 ms", "max ms", "graph fps",
                 "scroll p50 ms", "scroll p99 ms", "tall scroll p50", "tall scroll p99", "others' load"],
                [[name, f"{r['p50']:.1f}", f"{r['p99']:.1f}", f"{r['max']:.1f}", f"{r['fps']:.1f}",
                  f"{r['scroll p50'] * 1000:.2f}", f"{r['scroll p99'] * 1000:.2f}",
                  f"{r['tall scroll p50'] * 1000:.2f}",
                  f"{r['tall scroll p99'] * 1000:.2f}", f"{r['foreign']:.2f}"]
                 for name, r in (("empty table", empty), (f"{args.table_jobs} finished jobs", full))]))
    print(f"  adding {args.table_jobs} jobs: submit() x{args.table_jobs} {filled['submit']:.2f} s, all rows shown "
          f"finished {filled['shown']:.2f} s (meanwhile the main thread's longest stall: "
          f"{filled['late max'] / 1000:.2f} s); Clear finished of {args.table_jobs} rows {clear_s * 1000:.0f} ms; "
          f"tall table shows {full['tall rows']} rows")

    targets = []
    if big:
        worst_peak = max(r["peak"] for r in big) / MB
        ok_peak = worst_peak < RSS_LIMIT_MB
        print(f"\n  target 5, memory: peak RSS {worst_peak:.0f} MB (< {RSS_LIMIT_MB:g}): {verdict(ok_peak)}")
        targets.append({"target": "scale: 1M-task job, GUI process peak RSS", "goal": f"< {RSS_LIMIT_MB:g} MB",
                        "measured": f"{worst_peak:.0f} MB", "peer": "-", "ratio": round(worst_peak / RSS_LIMIT_MB, 3),
                        "met": ok_peak})
        for r in big:
            growth = r["growth after 10%"] / MB
            ok = growth < GROWTH_LIMIT_MB
            print(f"  target 5, flat after 10%, {r['name']}: {growth:+.1f} MB (< {GROWTH_LIMIT_MB:g}): {verdict(ok)}")
            targets.append({"target": f"scale: RSS growth after 10%, {r['name']}", "goal": f"< {GROWTH_LIMIT_MB:g} MB",
                            "measured": f"{growth:+.1f} MB", "peer": "-", "ratio": None, "met": ok})
    ok_smooth = full["p99"] < LATENESS_P99_MS and full["fps"] >= MIN_FPS
    print(f"  target 5, table smooth with {args.table_jobs} finished jobs: lateness p99 {full['p99']:.1f} ms "
          f"(empty table {empty['p99']:.1f} ms), graphs {full['fps']:.1f} fps, table scroll frame p99 "
          f"{full['scroll p99'] * 1000:.1f} ms: {verdict(ok_smooth)}")
    targets.append({"target": f"scale: {args.table_jobs} finished jobs in the table, lateness p99 / fps",
                    "goal": f"p99 < {LATENESS_P99_MS:g} ms, graphs >= {MIN_FPS:g} redraws/s",
                    "measured": f"{full['p99']:.1f} ms, {full['fps']:.1f} fps",
                    "peer": f"empty table {empty['p99']:.1f} ms",
                    "ratio": round(full["p99"] / max(empty["p99"], 1e-9), 3),
                    "met": ok_smooth})
    targets.append({"target": f"scale: time to add {args.table_jobs} jobs to the table (info)", "goal": "-",
                    "measured": f"{filled['shown']:.2f} s", "peer": "-", "ratio": None, "met": None})
    warning = _common.noise_warning({"table": [empty["foreign"], full["foreign"]],
                                     **{r["name"]: [r["foreign"]] for r in big}})
    if warning:
        print(warning)
    _common.write_json(args.json, "bench_gui_scale", targets,
                       {"big_jobs": big, "rss_after_forget": forgotten,
                        "table": {"empty": empty, "full": full, "fill": filled, "clear_s": clear_s},
                        "noisy": bool(warning)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
