"""The drop-in pools against the stdlib's, side by side in one run (issue 13, "Fast as the stdlib").

Five cases, each timed on a warm pool of each kind (created, every worker has run a task), the
two contenders in a rotating order in each repeat; the median over ``--repeat`` runs and the
ratio (stdlib time / poolscope time: above 1 is poolscope faster) are printed:

  Pool.map           of --map-tasks no-op tasks (1,000,000), a list input, default chunksize
  imap_unordered     chunksize 1 over --tasks inputs (100,000)
  apply_async        --tasks calls, then every result's get()
  executor.submit    --tasks futures, then wait() for all
  executor.map       of --executor-map-tasks inputs (default: --map-tasks), default chunksize (1);
                     the stdlib's takes 4 to 5 minutes for 1,000,000

Both pools use spawn and the same number of workers; poolscope's at nice 0, as the stdlib's.
Every run's results are checked. ``--window both`` (the default) runs the cases twice: with no
window open, then with the real window (``python -m poolscope gui``, offscreen unless ``DISPLAY``
is set) open in a private runtime directory, each poolscope pool reporting its jobs to it. The pools
record their jobs to a history of their own in a temporary folder, as a user's pools do to theirs.

    python bench/bench_drop_in.py [--repeat 3] [--tasks 100000] [--map-tasks 1000000] [--cases a,b]
                                  [--executor-map-tasks N]
                                  [--window both|none|attached]
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import _common
from _common import fmt_rate, fmt_ratio, machine_line, measured, median, noise_warning, table, write_json

from poolscope.core.attach import RUNTIME_DIR_ENV, window_listening
from poolscope.pools import Pool as ScopePool
from poolscope.pools import ProcessPoolExecutor as ScopeExecutor
from poolscope.tasks.noop import noop

CASES = ("pool_map", "imap_unordered", "apply_async", "submit", "executor_map")


def case_runs(name: str, pool: Any, tasks: int, map_tasks: int,
              executor_map_tasks: int) -> tuple[int, Callable[[], None]]:
    """(tasks, run) for one case on one pool; run() raises if a result is wrong."""
    if name == "pool_map":
        inputs = list(range(map_tasks))

        def run() -> None:
            assert pool.map(noop, inputs) == inputs
        return map_tasks, run
    if name == "imap_unordered":
        def run() -> None:
            assert sum(pool.imap_unordered(noop, range(tasks), chunksize=1)) == tasks * (tasks - 1) // 2
        return tasks, run
    if name == "apply_async":
        def run() -> None:
            results = [pool.apply_async(noop, (i,)) for i in range(tasks)]
            assert sum(result.get() for result in results) == tasks * (tasks - 1) // 2
        return tasks, run
    if name == "submit":
        def run() -> None:
            futures = [pool.submit(noop, i) for i in range(tasks)]
            concurrent.futures.wait(futures)
            assert sum(future.result() for future in futures) == tasks * (tasks - 1) // 2
        return tasks, run
    if name == "executor_map":
        inputs = list(range(executor_map_tasks))

        def run() -> None:
            assert sum(pool.map(noop, inputs)) == executor_map_tasks * (executor_map_tasks - 1) // 2
        return executor_map_tasks, run
    raise ValueError(name)


def run_cases(args: Any, cases: list[str], label: str) -> tuple[list[list[str]], list[dict[str, Any]]]:
    """Every case on fresh warm pools of each kind: table rows and run_all targets, named ``label``."""
    ctx = multiprocessing.get_context("spawn")
    stdlib_pool = ctx.Pool(args.workers)
    stdlib_executor = concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=ctx)
    scope_pool = ScopePool(args.workers)
    scope_executor = ScopeExecutor(args.workers)
    try:
        if label == "window":  # each pool found the window when it was made, or this measures nothing
            for pool in (scope_pool, scope_executor):
                if pool._core is None or pool._core.reporter is None:
                    raise SystemExit("bench_drop_in: a pool did not attach to the window")
        for pool in (stdlib_pool, scope_pool):  # warm: every worker has started and imported noop
            pool.map(noop, range(100), chunksize=1)
        for executor in (stdlib_executor, scope_executor):
            list(executor.map(noop, range(100)))
        rows, targets, foreign = [], [], {}
        for case in cases:
            executor_case = case in ("submit", "executor_map")
            contenders = {"stdlib": stdlib_executor if executor_case else stdlib_pool,
                          "poolscope": scope_executor if executor_case else scope_pool}
            times: dict[str, list[float]] = {name: [] for name in contenders}
            for repeat in range(args.repeat):
                order = list(contenders)[repeat % 2:] + list(contenders)[:repeat % 2]
                for name in order:
                    count, run = case_runs(case, contenders[name], args.tasks, args.map_tasks,
                                          args.executor_map_tasks or args.map_tasks)

                    def timed(run: Callable[[], None] = run) -> float:
                        began = time.perf_counter()
                        run()
                        return time.perf_counter() - began

                    seconds, meter, _ = measured(timed, args.retries)
                    times[name].append(seconds)
                    foreign.setdefault(f"{label} {case}:{name}", []).append(meter.foreign)
            ours, theirs = median(times["poolscope"]), median(times["stdlib"])
            ratio = theirs / ours
            rows.append([case, label, f"{count:,}", f"{ours:.3f} s ({fmt_rate(count / ours)})",
                         f"{theirs:.3f} s ({fmt_rate(count / theirs)})", fmt_ratio(ratio),
                         "met" if ratio >= 1.0 else "MISSED"])
            targets.append({"target": f"drop-in {case} ({label})", "measured": ours, "peer": theirs,
                            "ratio": ratio, "goal": ">= 1.0x", "met": ratio >= 1.0})
            print(f"  {case} ({label}): poolscope {ours:.3f} s, stdlib {theirs:.3f} s, ratio {ratio:.2f}", flush=True)
        warning = noise_warning(foreign)
        if warning:
            print(warning)
        return rows, targets
    finally:
        stdlib_pool.terminate()
        stdlib_pool.join()
        stdlib_executor.shutdown(cancel_futures=True)
        scope_pool.terminate()
        scope_pool.join()
        scope_executor.shutdown(cancel_futures=True)


class Window:
    """The real window (``python -m poolscope gui``), listening in a private runtime directory that
    this process's pools are pointed to; offscreen unless ``DISPLAY`` is set."""

    def __init__(self, folder: str) -> None:
        self.runtime = os.path.join(folder, "runtime")
        env = dict(os.environ, POOLSCOPE_RUNTIME_DIR=self.runtime, XDG_CONFIG_HOME=os.path.join(folder, "config"),
                   XDG_DATA_HOME=os.path.join(folder, "data"))
        if not env.get("DISPLAY"):
            env["QT_QPA_PLATFORM"] = "offscreen"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_common.SRC_DIR, env.get("PYTHONPATH")]))
        self.log_path = os.path.join(folder, "window.log")
        with open(self.log_path, "wb") as log:  # what the window says, shown if it does not start
            self.process = subprocess.Popen([sys.executable, "-m", "poolscope", "gui", "--workers", "1"], env=env,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        os.environ[RUNTIME_DIR_ENV] = self.runtime
        deadline = time.monotonic() + 60
        while not window_listening(self.runtime):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                with open(self.log_path, errors="replace") as log:
                    said = log.read()[-2000:]
                raise SystemExit(f"bench_drop_in: the window did not start listening:\n{said}")
            time.sleep(0.05)

    def close(self) -> None:
        os.environ.pop(RUNTIME_DIR_ENV, None)
        self.process.send_signal(signal.SIGINT)  # the window closes, cancelling its jobs (gui/app.py)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main() -> None:
    p = _common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=100_000)
    p.add_argument("--map-tasks", type=int, default=1_000_000)
    p.add_argument("--executor-map-tasks", type=int, default=None, help="executor.map's inputs (default: --map-tasks)")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    p.add_argument("--window", choices=("both", "none", "attached"), default="both",
                   help="run the cases with no window open, with a window open that the pools report to, or "
                        "both (default)")
    args = p.parse_args()
    cases = [case.strip() for case in args.cases.split(",") if case.strip()]
    print(machine_line())
    print(f"{args.workers} workers, spawn, median of {args.repeat}; ratio = stdlib time / poolscope time")
    rows: list[list[str]] = []
    targets: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="poolscope-bench-") as folder:
        # The pools record their jobs to the history, as a user's do: here, to a history of its own.
        os.environ["XDG_DATA_HOME"] = os.path.join(folder, "data")
        if args.window in ("both", "none"):
            more_rows, more_targets = run_cases(args, cases, "none")
            rows += more_rows
            targets += more_targets
        if args.window in ("both", "attached"):
            window = Window(folder)
            try:
                more_rows, more_targets = run_cases(args, cases, "window")
            finally:
                window.close()
            rows += more_rows
            targets += more_targets
    print(table(["case", "window", "tasks", "poolscope (median)", "stdlib (median)", "ratio", "verdict"], rows))
    write_json(args.json, "drop_in", targets)


if __name__ == "__main__":
    main()
