"""Start-up: the window (target 6: painted < 1.5 s), and ``poolscope run`` against a Pool script.

Two parts (``--part window|cli``, both by default).

**The command line** (``measure_cli``): ``poolscope run`` on N tiny tasks (200,000; a function
returning its input) as a whole process, launch to exit, against a script doing the same job
with ``multiprocessing.Pool(W).imap(f, range(N), chunksize=256)`` (the default start method:
fork on Linux; the same script with spawn is timed too, for information). Goal: poolscope at
most as long as the Pool script. ``poolscope run`` runs through the script pip writes for the
command (``LAUNCHER``), so its spawned workers import that script as their main module, as they
do the command's; its workers run at ``--nice`` (default 0, as the Pool's). Both contenders use
the same module of the user's own (``tiny.py``); ``poolscope run noop`` (a built-in) is timed
too. Each repeat runs every contender once, in rotating order (paired runs); a run during which
others used more than 0.25 cores is redone (``--retries``). Reported per contender: median wall
time, CPU time (user + system of the process and the processes it started and waited for),
the job's own time as the process reports it, and the median of the paired ratios to the Pool
script; and the CPU time of importing ``multiprocessing``, ``poolscope.core.worker`` (what a
spawned worker imports), ``poolscope.cli`` and ``poolscope.core.engine`` alone, and of
``python -c pass``. Compiled modules are cached, in a temporary folder, as an installed package
has them (see ``measure_cli``).

**The window** (``measure_window``): from launching ``python -m poolscope`` to a painted window.
Each run is a fresh interpreter started the way the ``poolscope`` command starts (``python -m
poolscope``, no arguments: the window), through a small driver so the moment of the first paint
can be seen without changing the app. The driver (``DRIVER`` below, passed with ``python -c``):

  1. imports ``poolscope.gui.app`` and replaces the ``QApplication`` name in it with a subclass
     that installs an application-wide event filter (the constructor is the same; nothing else
     in ``run_gui`` changes);
  2. runs ``poolscope`` exactly as ``python -m poolscope`` does (``runpy`` of
     ``poolscope.__main__`` with ``sys.argv = ["poolscope"]``): ``cli.main`` -> ``run_gui``,
     which creates the QApplication, the Engine (spawning the workers), the MainWindow, shows
     it and enters ``app.exec()``;
  3. on the first ``QEvent.Paint`` of any widget of the main window it notes the time and posts
     a zero-time timer, which fires once that paint pass (every dirty widget, then the flush to
     the window surface) is over: that moment is "painted". It prints the times and quits the
     event loop; ``run_gui`` then shuts the pool down as usual (timed too, for information).

The clock is ``time.monotonic()`` (CLOCK_MONOTONIC, the same in every process): the parent
notes it just before ``Popen``, the driver at each step. Settings go to a temporary
``XDG_CONFIG_HOME`` (a first start, and the user's own settings are left alone).

Also timed, as a floor: ``python -c pass`` and ``python -c "import poolscope.gui.main_window"``
(launch to exit). ``--profile`` adds ``python -X importtime`` of the window's imports (the
largest cumulative imports) and a cProfile of one driver run.

The display: the offscreen platform unless ``DISPLAY`` is set (then that X server, e.g. an
Xvfb); ``--xvfb`` starts a private Xvfb for the runs (xcb platform, real X round trips).

    python bench/bench_startup.py [--part all|window|cli] [--repeat 5] [--tasks 200000] [--xvfb] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import _common  # noqa: F401  (puts src/ on sys.path)
import psutil
from _common import median, table, verdict

TARGET_S = 1.5

DRIVER = r"""
import time
T = {"interpreter": time.monotonic()}
import json, os, runpy, sys
import poolscope.gui.app as app_module
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
T["gui.app imported"] = time.monotonic()
PAINT = QEvent.Type.Paint

def painted():
    T["painted"] = time.monotonic()
    sys.stdout.write("STARTUP " + json.dumps(T) + "\n")
    sys.stdout.flush()
    QApplication.instance().quit()

class FirstPaint(QObject):
    seen = False
    def eventFilter(self, obj, event):
        if (not FirstPaint.seen and event.type() == PAINT and obj.isWidgetType()
                and isinstance(obj.window(), QMainWindow)):
            FirstPaint.seen = True
            T["first paint event"] = time.monotonic()
            QTimer.singleShot(0, painted)
        return False

class TimedApplication(QApplication):
    def __init__(self, *args, **kwargs):
        T["QApplication()"] = time.monotonic()
        super().__init__(*args, **kwargs)
        T["QApplication ready"] = time.monotonic()
        self._first_paint = FirstPaint()
        self.installEventFilter(self._first_paint)

app_module.QApplication = TimedApplication
sys.argv = ["poolscope", *sys.argv[1:]]  # python -c DRIVER [args]: as "poolscope [args]"
try:
    runpy.run_module("poolscope", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
T["exited"] = time.monotonic()
sys.stdout.write("EXIT " + json.dumps(T) + "\n")
"""

STEPS = ("interpreter", "gui.app imported", "QApplication()", "QApplication ready", "first paint event", "painted")


def child_env(config_dir: str, display: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = config_dir
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    if display:
        env["DISPLAY"] = display
        env.pop("QT_QPA_PLATFORM", None)
    else:
        env.pop("DISPLAY", None)
        env["QT_QPA_PLATFORM"] = "offscreen"
    src = _common.SRC_DIR
    try:
        import poolscope

        src = os.path.dirname(os.path.dirname(os.path.abspath(poolscope.__file__)))
    except ImportError:
        pass
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class ChildLoad:
    """Others' load around a run whose CPU is spent in children that have exited by its end
    (``_common.LoadMeter`` counts only live processes): ours = this process + reaped children."""

    def __enter__(self) -> ChildLoad:
        self._sys0 = psutil.cpu_times()
        self._self0 = _self_cpu()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = max(1e-9, time.perf_counter() - self._t0)
        busy = _common._busy(psutil.cpu_times()) - _common._busy(self._sys0)
        ours = _self_cpu() - self._self0
        self.foreign = max(0.0, busy - ours) / wall


def _self_cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class StartFailed(RuntimeError):
    pass


def run_driver(env: dict[str, str], argv: list[str], code: str = DRIVER) -> dict[str, float]:
    """One start of ``poolscope *argv``: seconds from launch to each step, to the window painted, and to exit."""
    t_launch = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=60)
    t_end = time.monotonic()
    times: dict[str, float] = {}
    for line in proc.stdout.splitlines():
        if line.startswith(("STARTUP ", "EXIT ")):
            times = json.loads(line.split(" ", 1)[1])
    if "painted" not in times:
        raise StartFailed(f"no window painted (exit {proc.returncode}): "
                          f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    out = {step: times[step] - t_launch for step in STEPS if step in times}
    out["process exit"] = t_end - t_launch
    out["shutdown after paint"] = t_end - times["painted"]
    return out


def run_plain(env: dict[str, str], code: str) -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, timeout=60)
    return time.monotonic() - t0


def import_profile(env: dict[str, str], top: int = 12) -> list[tuple[float, float, str]]:
    """``python -X importtime`` of the window's imports: the largest cumulative imports (s)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import poolscope.gui.main_window, "
                           "poolscope.gui.app, poolscope.core.engine"], env=env, capture_output=True, text=True,
                          timeout=60)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|", 2)
        name = name[1:].rstrip()  # nesting shows as two more spaces per level
        rows.append((int(cumulative_us) / 1e6, int(self_us) / 1e6, name))
    shallow = [r for r in rows if len(r[2]) - len(r[2].lstrip(" ")) <= 4]  # three levels deep at most
    return sorted(shallow, reverse=True)[:top]


def cprofile_driver(env: dict[str, str], argv: list[str], path: str) -> None:
    code = "import cProfile, sys\nsys.setrecursionlimit(10000)\ncProfile.run(" + repr(DRIVER) + ", " + repr(path) + ")"
    run_driver(env, argv, code)


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SystemExit("bench_startup: --xvfb needs Xvfb (apt-get install xvfb)")
    for number in range(140, 200):
        if os.path.exists(f"/tmp/.X{number}-lock") or os.path.exists(f"/tmp/.X11-unix/X{number}"):
            continue
        proc = subprocess.Popen([xvfb, f":{number}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(f"/tmp/.X11-unix/X{number}"):
                return proc, f":{number}"
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.kill()
        proc.wait()
    raise SystemExit("bench_startup: could not start Xvfb")


def measure_window(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Target 6: ``poolscope`` to a painted window. Returns (targets, details) for --json."""
    xvfb = None
    display = os.environ.get("DISPLAY") or None
    if args.xvfb:
        xvfb, display = start_xvfb()
    platform_name = f"xcb on {display}" + (" (private Xvfb)" if xvfb else "") if display else "offscreen"
    config_dir = tempfile.mkdtemp(prefix="poolscope-bench-config-")
    env = child_env(config_dir, display)
    print(f"bench_startup: python -m poolscope, launch to painted window, {args.repeat} runs (+1 warm-up), "
          f"platform {platform_name}")
    print(_common.machine_line(), flush=True)
    runs: list[dict[str, float]] = []
    floors: dict[str, list[float]] = {"python -c pass": [], "import poolscope.gui.main_window": []}
    foreign: list[float] = []
    redone = 0
    argv: list[str] = []  # "poolscope" alone: the window
    bare_error = ""
    try:
        try:
            run_driver(env, argv)  # warm-up: disk cache, .pyc files, font cache
        except StartFailed as exc:
            bare_error = str(exc)
            argv = ["gui"]
            print(f"  BUG: 'poolscope' with no arguments does not start: {bare_error}\n"
                  f"  measuring 'poolscope gui' instead (the same code path once the arguments are parsed)", flush=True)
            run_driver(env, argv)
        for _name, code in (("python -c pass", "pass"),
                            ("import poolscope.gui.main_window", "import poolscope.gui.main_window")):
            run_plain(env, code)
        for r in range(args.repeat):
            attempts = 0
            while True:
                with ChildLoad() as meter:
                    result = run_driver(env, argv)
                if meter.foreign <= _common.NOISY_CORES or attempts >= args.retries:
                    break
                attempts += 1
            redone += attempts
            foreign.append(meter.foreign)
            runs.append(result)
            floors["python -c pass"].append(run_plain(env, "pass"))
            floors["import poolscope.gui.main_window"].append(run_plain(env, "import poolscope.gui.main_window"))
            print(f"  run {r + 1}: painted after {result['painted'] * 1000:.0f} ms "
                  f"(others' load {meter.foreign:.2f} cores)", flush=True)
        imports = import_profile(env) if args.profile else []
        if args.profile:
            path = os.path.join(config_dir, "startup.pstats")
            cprofile_driver(env, argv, path)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)

    painted = [r["painted"] for r in runs]
    rows = []
    previous = 0.0
    for step in (*STEPS, "process exit"):
        values = [r[step] for r in runs if step in r]
        at = median(values)
        delta = "" if step == "process exit" else f"{(at - previous) * 1000:.0f}"
        rows.append([step, f"{at * 1000:.0f}", delta, f"{min(values) * 1000:.0f}", f"{max(values) * 1000:.0f}"])
        if step != "process exit":
            previous = at
    print()
    print(table(["step (from launch)", "median ms", "step ms", "min ms", "max ms"], rows))
    for name, values in floors.items():
        print(f"  {name}: {median(values) * 1000:.0f} ms median (launch to exit)")
    shutdown = median([r["shutdown after paint"] for r in runs])
    print(f"  quit after the paint (pool shutdown, exit): {shutdown * 1000:.0f} ms median")
    ok = median(painted) < TARGET_S
    shown_command = " ".join(["python -m poolscope", *argv])
    print(f"\n  target 6: '{shown_command}' launch to painted window < {TARGET_S:g} s: median {median(painted):.3f} s "
          f"(max {max(painted):.3f} s) over {len(painted)} runs, others' load median {median(foreign):.2f} cores, "
          f"{redone} redone: {verdict(ok)}")
    noisy = median(foreign) > _common.NOISY_CORES
    if noisy:
        print(_common.noise_warning({"startup": foreign}))
    if args.profile:
        print("\n  largest imports (python -X importtime, cumulative, up to 3 levels deep, indented by level):")
        print(table(["module", "cumulative ms", "self ms"],
                    [[name, f"{cum * 1000:.0f}", f"{own * 1000:.0f}"] for cum, own, name in imports], align="lrr"))
        import pstats

        print("\n  cProfile of one start (main thread, by cumulative time):")
        pstats.Stats(path).sort_stats("cumulative").print_stats(25)
    shutil.rmtree(config_dir, ignore_errors=True)

    command = " ".join(["poolscope", *argv])
    targets = [
        {"target": "start-up: 'poolscope' with no arguments opens the window", "goal": "starts",
         "measured": "crashes: " + bare_error if bare_error else "starts", "peer": "-", "ratio": None,
         "met": not bare_error},
        {"target": f"start-up: '{command}' launch to painted window ({platform_name})", "goal": f"< {TARGET_S:g} s",
         "measured": f"{median(painted):.3f} s", "peer": f"python -c pass {median(floors['python -c pass']):.3f} s",
         "ratio": round(median(painted) / TARGET_S, 3), "met": ok},
        {"target": "start-up: import poolscope.gui.main_window (launch to exit, info)", "goal": "-",
         "measured": f"{median(floors['import poolscope.gui.main_window']):.3f} s", "peer": "-", "ratio": None,
         "met": None},
    ]
    return targets, {"argv": argv, "bare_error": bare_error,
                     "steps": {step: median([r[step] for r in runs if step in r]) for step in (*STEPS, "process exit")},
                     "floors": {k: median(v) for k, v in floors.items()}, "platform": platform_name, "noisy": noisy}


# -- the command line: ``poolscope run`` against a Pool script, as whole processes -----------------
# The job: N tiny tasks (return the input) on W workers. The function lives in a module of its
# own in a temporary folder, so both contenders run the same user code: the Pool script imports
# it, ``poolscope run`` is given it as FILE.py:f (user code: the path a user's own target takes).
TINY_MODULE = "def f(x):\n    return x\n"

# multiprocessing.Pool(W).imap(f, range(N), chunksize=256), every result read; the default start
# method (fork on Linux). It prints the seconds its imap loop took ("JOB s").
POOL_SCRIPT = """import multiprocessing, sys, time
from tiny import f

if __name__ == "__main__":
    n, workers, chunksize, method = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    context = multiprocessing.get_context(None if method == "default" else method)
    with context.Pool(workers) as pool:
        t0 = time.perf_counter()
        for _ in pool.imap(f, range(n), chunksize=chunksize):
            pass
        print("JOB", time.perf_counter() - t0)
"""

# What the ``poolscope`` command is (the script pip writes for the console entry point), run with
# this interpreter: a spawned worker imports this file as its main module, as it does the command.
LAUNCHER = """import sys
from poolscope.cli import main

if __name__ == "__main__":
    sys.exit(main())
"""

POOL_CHUNKSIZE = 256
JOB_LINE = re.compile(r" in ([0-9.]+) s$", re.MULTILINE)  # poolscope run's last line: "... in 0.21 s"

# Module imports timed on their own (CPU seconds, a fresh interpreter each): what the CLI's process and each
# spawned worker pay, and multiprocessing as the floor a Pool script pays.
IMPORTS = ("multiprocessing", "poolscope.core.worker", "poolscope.cli", "poolscope.core.engine")
INTERPRETER_CODE = "import os; t = os.times(); print(t.user + t.system)"  # CPU of an interpreter's start
IMPORT_CODE = "import time; t = time.process_time(); import {0}; print(time.process_time() - t)"  # CPU: steadier


def cli_contenders(folder: str, n: int, workers: int, nice: int) -> dict[str, list[str]]:
    run = [sys.executable, os.path.join(folder, "poolscope_command.py"), "run", "--inputs", f"range:{n}",
           "--workers", str(workers), "--nice", str(nice)]
    pool = [sys.executable, os.path.join(folder, "pool_script.py"), str(n), str(workers), str(POOL_CHUNKSIZE)]
    return {
        "Pool script": [*pool, "default"],
        "poolscope run FILE.py:f": [*run[:3], os.path.join(folder, "tiny.py") + ":f", *run[3:]],
        "poolscope run noop (built-in)": [*run[:3], "noop", *run[3:]],
        "Pool script, spawn": [*pool, "spawn"],
    }


def run_whole(argv: list[str], env: dict[str, str], cwd: str) -> dict[str, float]:
    """One whole process: wall seconds launch to exit, CPU seconds of it and every process it
    started (all reaped by then), and the job's own seconds as the process reports them."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise StartFailed(f"{' '.join(argv[1:3])} exited {proc.returncode}: "
                          f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    found = re.search(r"^JOB ([0-9.]+)$", proc.stdout, re.MULTILINE) or JOB_LINE.search(proc.stderr)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall": wall, "cpu": cpu, "job": float(found.group(1)) if found else float("nan")}


def import_seconds(env: dict[str, str], module: str) -> float:
    code = INTERPRETER_CODE if module == "python -c pass" else IMPORT_CODE.format(module)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True, timeout=60)
    return float(proc.stdout.strip())


def measure_cli(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``poolscope run`` on N tiny tasks against the Pool script, whole processes, paired."""
    folder = tempfile.mkdtemp(prefix="poolscope-bench-cli-")
    for name, text in (("tiny.py", TINY_MODULE), ("pool_script.py", POOL_SCRIPT),
                       ("poolscope_command.py", LAUNCHER)):
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)
    env = child_env(folder, None)
    # Compiled modules cached, as an installed package has them (pip compiles them at install):
    # with PYTHONDONTWRITEBYTECODE set and a source checkout, every process, each worker too,
    # would compile poolscope's modules again (the engine's imports: about 130 ms instead of 50).
    # The cache goes to a folder of its own, not into the source tree; the warm-up run fills it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(folder, "pycache")
    contenders = cli_contenders(folder, args.tasks, args.workers, args.nice)
    names = list(contenders)
    print(f"bench_startup: 'poolscope run' against multiprocessing.Pool({args.workers}).imap(chunksize="
          f"{POOL_CHUNKSIZE}) on {args.tasks:,} tiny tasks, whole processes, {args.repeat} paired runs (+1 warm-up), "
          f"order rotating; poolscope's workers at nice {args.nice}")
    for argv in contenders.values():  # warm-up: .pyc files, disk cache
        run_whole(argv, env, folder)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    foreign: dict[str, list[float]] = {name: [] for name in names}
    imports: dict[str, list[float]] = {module: [] for module in ("python -c pass", *IMPORTS)}
    redone = 0
    for r in range(args.repeat):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            attempts = 0
            while True:
                with ChildLoad() as meter:
                    result = run_whole(contenders[name], env, folder)
                if meter.foreign <= _common.NOISY_CORES or attempts >= args.retries:
                    break
                attempts += 1
            redone += attempts
            runs[name].append(result)
            foreign[name].append(meter.foreign)
        for module in imports:
            imports[module].append(import_seconds(env, module))
        print("  run {}: {}".format(r + 1, ", ".join(f"{name} {runs[name][-1]['wall'] * 1000:.0f} ms"
                                                      for name in names)), flush=True)
    shutil.rmtree(folder, ignore_errors=True)

    pool = runs["Pool script"]
    rows = []
    for name in names:
        wall = [x["wall"] for x in runs[name]]
        cpu = [x["cpu"] for x in runs[name]]
        job = [x["job"] for x in runs[name]]
        ratio = median([x["wall"] / p["wall"] for x, p in zip(runs[name], pool, strict=True)])
        rows.append([name, f"{median(wall) * 1000:.0f}", f"{min(wall) * 1000:.0f}", f"{max(wall) * 1000:.0f}",
                     f"{median(cpu) * 1000:.0f}", f"{median(job) * 1000:.0f}",
                     f"{median([w - j for w, j in zip(wall, job, strict=True)]) * 1000:.0f}", f"{ratio:.2f}",
                     f"{median(foreign[name]):.2f}"])
    print()
    print(table(["whole process", "median ms", "min ms", "max ms", "CPU ms", "job ms", "rest ms",
                 "/ Pool (paired)", "others' load"], rows))
    print("  CPU ms: user + system of the process and every process it started and waited for (not "
          "multiprocessing's resource tracker, which spawn starts and nobody waits for); job ms: the job alone as the "
          "process reports it; rest: start-up and shut-down (wall - job)")
    print("\n  CPU of an interpreter's start, and of each import alone in a fresh one (median ms): " + ", ".join(
        f"{module} {median(values) * 1000:.1f}" for module, values in imports.items()))

    targets = []
    noisy = any(median(values) > _common.NOISY_CORES for values in foreign.values())
    for name in ("poolscope run FILE.py:f", "poolscope run noop (built-in)"):
        ratio = median([x["wall"] / p["wall"] for x, p in zip(runs[name], pool, strict=True)])
        cpu_ratio = median([x["cpu"] / p["cpu"] for x, p in zip(runs[name], pool, strict=True)])
        ok = ratio <= 1.0
        print(f"\n  '{name}' whole process against the Pool script: {ratio:.2f}x its wall time (median of "
              f"{len(pool)} paired ratios; CPU {cpu_ratio:.2f}x): {verdict(ok)}")
        targets.append({"target": f"start-up: '{name}', {args.tasks:,} tiny tasks, whole process",
                        "goal": "<= Pool script", "measured": f"{median([x['wall'] for x in runs[name]]):.3f} s",
                        "peer": f"Pool script {median([p['wall'] for p in pool]):.3f} s", "ratio": round(ratio, 3),
                        "met": ok})
    for module in ("poolscope.core.worker", "poolscope.core.engine"):
        targets.append({"target": f"start-up: import {module} (info)", "goal": "-",
                        "measured": f"{median(imports[module]) * 1000:.1f} ms",
                        "peer": f"multiprocessing {median(imports['multiprocessing']) * 1000:.1f} ms", "ratio": None,
                        "met": None})
    print(f"  {redone} run(s) redone for others' load")
    if noisy:
        print(_common.noise_warning(foreign))
    details = {"tasks": args.tasks, "workers": args.workers, "nice": args.nice, "noisy": noisy,
               "wall": {name: median([x["wall"] for x in runs[name]]) for name in names},
               "cpu": {name: median([x["cpu"] for x in runs[name]]) for name in names},
               "imports": {module: median(values) for module, values in imports.items()}}
    return targets, details


def main() -> int:
    p = _common.parser(__doc__.split("\n\n")[0], repeat=5)
    p.add_argument("--part", choices=("all", "window", "cli"), default="all",
                   help="the window's start-up (target 6), 'poolscope run' against a Pool script, or both")
    p.add_argument("--tasks", type=int, default=200_000, help="tasks of the command-line job (default 200,000)")
    p.add_argument("--xvfb", action="store_true", help="start a private Xvfb and run on it (xcb platform)")
    p.add_argument("--profile", action="store_true", help="also print -X importtime's largest imports and a "
                   "cProfile of one start")
    args = p.parse_args()
    targets: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    if args.part in ("all", "cli"):
        cli_targets, details["cli"] = measure_cli(args)
        targets += cli_targets
        print()
    if args.part in ("all", "window"):
        window_targets, details["window"] = measure_window(args)
        targets += window_targets
    details["noisy"] = any(part.get("noisy") for part in details.values())
    _common.write_json(args.json, "bench_startup", targets, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
