"""What the window itself costs: CPU of the window's process, idle and while it watches a busy job.

The real application (``poolscope gui``, the CLI's entry point) runs in a child process, on an X
server of its own (Xvfb, started here) or, without Xvfb, on Qt's offscreen platform (said so in
the output: offscreen paints into memory, so its figures are a little lower). Its settings are
kept in a temporary folder. Two launches:

  * **idle**: the window open, no job;
  * **watching**: ``poolscope gui --run primes --inputs range:0:1000000``, a job that keeps every
    worker busy for far longer than the measurement.

After a settle time (start-up is not counted), the CPU time of the window's process is read from
``/proc/PID/stat`` at the start and end of ``--seconds`` seconds; so is the engine thread's own
(``/proc/PID/task/TID/stat``: the child names that thread's id, as the engine runs in the
window's process). The window's cost is the process's CPU time minus the engine thread's,
per second of wall time, in percent of one core. The workers are separate processes, not counted.

Goals (issue 10, section 3): idle < 1% of a core; watching a busy job < 5%.

    python bench/bench_window_cost.py [--seconds 20] [--settle 4] [--offscreen] [--scenarios idle,watching]

Diagnostics: ``BENCH_THREADS=1`` prints the costliest threads by name; ``BENCH_PROFILE=PATH``
writes a cProfile of the window's main thread (start-up included) when the child is stopped.

``measure_window_cost()`` returns the same figures as a dict, for bench_truth.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import fmt_ratio, machine_line, table, verdict, write_json

HERE = os.path.abspath(__file__)
IDLE_GOAL = 1.0  # percent of one core
WATCHING_GOAL = 5.0
BUSY_ARGS = ["--run", "primes", "--inputs", "range:0:1000000"]
SCENARIOS = {"idle": [], "watching": BUSY_ARGS}  # scenario -> the arguments of `poolscope gui`
GOALS = {"idle": IDLE_GOAL, "watching": WATCHING_GOAL}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- the child: the real application, saying which thread is the engine's -------------------------
def _child(argv: list[str]) -> int:
    """Runs in the child process: ``poolscope gui`` with ``argv``, after naming the engine thread's id."""
    def name_engine_thread() -> None:
        while True:
            for thread in threading.enumerate():
                if thread.name == "poolscope-engine" and thread.native_id is not None:
                    print(f"ENGINE_TID {thread.native_id}", flush=True)
                    return
            time.sleep(0.05)

    threading.Thread(target=name_engine_thread, name="bench-engine-finder", daemon=True).start()
    profile_path = os.environ.get("BENCH_PROFILE")  # profile the main thread, written on SIGTERM
    if profile_path:
        import cProfile
        import signal

        profiler = cProfile.Profile()

        def dump(*_args: object) -> None:
            profiler.disable()
            profiler.dump_stats(profile_path)
            os._exit(0)

        signal.signal(signal.SIGTERM, dump)
        profiler.enable()  # (start-up included)
    from poolscope.cli import main

    return main(["gui", *argv])


# -- the parent -------------------------------------------------------------------------------------
def _cpu_seconds(path: str) -> float:
    """User + system CPU seconds from a /proc .../stat file."""
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


def _thread_seconds(pid: int) -> dict[int, float]:
    out: dict[int, float] = {}
    for name in os.listdir(f"/proc/{pid}/task"):
        try:
            out[int(name)] = _cpu_seconds(f"/proc/{pid}/task/{name}/stat")
        except (OSError, IndexError, ValueError):
            pass
    return out


class _Display:
    """An Xvfb server of our own, or nothing (offscreen)."""

    def __init__(self, offscreen: bool) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.name = ""
        if offscreen or shutil.which("Xvfb") is None:
            return
        for number in range(91, 120):
            if not os.path.exists(f"/tmp/.X11-unix/X{number}") and not os.path.exists(f"/tmp/.X{number}-lock"):
                break
        self.process = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(f"/tmp/.X11-unix/X{number}") and time.monotonic() < deadline:
            time.sleep(0.05)
        self.name = f":{number}"

    @property
    def platform(self) -> str:
        return f"Xvfb {self.name}" if self.name else "offscreen (no Xvfb found)"

    def env(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        if self.name:
            env["DISPLAY"] = self.name
            env.pop("QT_QPA_PLATFORM", None)
            env.pop("WAYLAND_DISPLAY", None)
        else:
            env["QT_QPA_PLATFORM"] = "offscreen"
        return env

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(5)


def _measure_one(display: _Display, argv: list[str], seconds: float, settle: float) -> dict[str, float]:
    config = tempfile.mkdtemp(prefix="poolscope-bench-config-")
    env = display.env(dict(os.environ, XDG_CONFIG_HOME=config,
                           PYTHONPATH=os.pathsep.join(filter(None, [_common.SRC_DIR, os.environ.get("PYTHONPATH")]))))
    child = subprocess.Popen([sys.executable, HERE, "--child", *argv], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.startswith("ENGINE_TID"):
            raise RuntimeError(f"the window did not start (it said {line!r})")
        engine_tid = int(line.split()[1])
        time.sleep(settle)  # start-up, the first paint, the workers' start: not counted
        pid = child.pid
        t0, process0, threads0 = time.monotonic(), _cpu_seconds(f"/proc/{pid}/stat"), _thread_seconds(pid)
        time.sleep(seconds)
        t1, process1, threads1 = time.monotonic(), _cpu_seconds(f"/proc/{pid}/stat"), _thread_seconds(pid)
        _names = {}
        for tid in threads1:
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    _names[tid] = f.read().strip()
            except OSError:
                pass
        if child.poll() is not None:
            raise RuntimeError("the window exited while measured")
    finally:
        child.terminate()  # SIGTERM: the window's process and, with it, its workers (their parent died)
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        shutil.rmtree(config, ignore_errors=True)
    wall = t1 - t0
    if os.environ.get("BENCH_THREADS"):  # which threads cost what (names from /proc/PID/task/TID/comm)
        for tid in sorted(threads1, key=lambda t: threads0.get(t, 0.0) - threads1[t])[:6]:
            share = 100 * (threads1[tid] - threads0.get(tid, 0.0)) / (t1 - t0)
            print(f"  thread {tid} {_names.get(tid, '?')}: {share:.2f}%")
    engine = threads1.get(engine_tid, 0.0) - threads0.get(engine_tid, 0.0)
    main = threads1.get(pid, 0.0) - threads0.get(pid, 0.0)
    process = process1 - process0
    return {
        "wall": wall,
        "process_percent": 100 * process / wall,
        "engine_percent": 100 * engine / wall,
        "window_percent": 100 * (process - engine) / wall,
        "main_thread_percent": 100 * main / wall,
        "other_threads_percent": 100 * (process - engine - main) / wall,
    }


def measure_window_cost(seconds: float = 20.0, settle: float = 4.0, *, offscreen: bool = False,
                        scenarios: tuple[str, ...] = ("idle", "watching")) -> dict[str, Any]:
    """Measure the window idle and watching a busy job; returns the figures (percent of one core) by
    scenario: process, engine thread, window (process - engine), main thread, other threads."""
    display = _Display(offscreen)
    try:
        measured = {scenario: _measure_one(display, SCENARIOS[scenario], seconds, settle) for scenario in scenarios}
    finally:
        display.close()
    return {"platform": display.platform, "seconds": seconds, **measured, "goals": GOALS}


def targets_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The run_all / write_json form of a result."""
    out = []
    for scenario, goal in GOALS.items():
        if scenario not in result:
            continue
        figure = result[scenario]["window_percent"]
        out.append({"target": f"window's own CPU, {scenario}", "measured": f"{figure:.2f}% of a core",
                    "peer": "-", "ratio": f"{figure / goal:.2f} of budget", "goal": f"< {goal:g}%",
                    "met": figure < goal})
    return out


def main() -> int:
    if "--child" in sys.argv:
        argv = sys.argv[sys.argv.index("--child") + 1:]
        return _child(argv)
    parser = _common.parser(__doc__.split("\n", 1)[0], repeat=None)
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds measured per scenario (default 20)")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds after start-up before measuring")
    parser.add_argument("--offscreen", action="store_true", help="Qt's offscreen platform even if Xvfb is there")
    parser.add_argument("--scenarios", default="idle,watching", help="which to measure (default idle,watching)")
    args = parser.parse_args()
    scenarios = tuple(name for name in args.scenarios.split(",") if name)
    unknown = [name for name in scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"--scenarios: unknown {unknown}; choose from {sorted(SCENARIOS)}")
    print(f"bench_window_cost  {machine_line()}")
    result = measure_window_cost(args.seconds, args.settle, offscreen=args.offscreen, scenarios=scenarios)
    print(f"platform: {result['platform']}; {args.seconds:g} s per scenario; percent of one core\n")
    rows = []
    for scenario in scenarios:
        r, goal = result[scenario], GOALS[scenario]
        rows.append([scenario, f"{r['process_percent']:.2f}", f"{r['engine_percent']:.2f}",
                     f"{r['window_percent']:.2f}", f"{r['main_thread_percent']:.2f}",
                     f"{r['other_threads_percent']:.2f}", f"< {goal:g}", fmt_ratio(r["window_percent"] / goal),
                     verdict(r["window_percent"] < goal)])
    print(table(["scenario", "process", "engine thread", "window (process - engine)", "main thread",
                 "other threads", "goal", "of budget", "verdict"], rows))
    write_json(args.json, "bench_window_cost", targets_of(result), {"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
