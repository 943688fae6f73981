"""Run every bench/bench_*.py, each in its own interpreter, and print a combined summary.

Each benchmark runs as a subprocess (a clean interpreter: no warm imports, no leftover pools),
its output streamed as it comes. Benchmarks built on ``_common.parser`` write their targets as
JSON (``--json``), which this script gathers into one table at the end. The default sizes keep
the whole run under 5 minutes on a 2-core machine; ``--quick`` trades precision for time.

    python bench/run_all.py [--quick] [--only dispatch,cancel] [--save PATH]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _common  # noqa: E402

# Arguments per benchmark (the full run / --quick); a benchmark not named here runs with none.
ARGS = {
    "bench_dispatch": (["--repeat", "3"], ["--repeat", "1"]),
    "bench_scaling": (["--repeat", "3", "--retries", "1"], ["--repeat", "1", "--retries", "0"]),
    "bench_cancel": (["--trials", "50"], ["--trials", "15"]),
    # the window's benchmarks (targets 3, 5, 6, 7)
    "bench_gui_latency": (["--seconds", "3", "--retries", "1"],
                          ["--seconds", "2", "--nice-levels", "10", "--retries", "0"]),
    "bench_gui_scale": (["--seconds", "2", "--steps", "30", "--retries", "1"],
                        ["--seconds", "2", "--steps", "20", "--retries", "0"]),
    "bench_gui_graphs": (["--repeat", "2", "--frames", "120", "--retries", "1"],
                         ["--repeat", "1", "--frames", "60", "--retries", "0"]),
    "bench_startup": (["--repeat", "5", "--retries", "1"], ["--repeat", "3", "--retries", "0"]),
    # issue 10: the window's numbers against the kernel; its own cost is bench_window_cost's run
    "bench_truth": (["--cost-seconds", "0"], ["--cost-seconds", "0", "--long-tasks", "10", "--load-seconds", "2"]),
    "bench_window_cost": (["--seconds", "20"], ["--seconds", "5", "--settle", "3"]),
    # issue 13: the stdlib's executor.map of 1,000,000 alone takes 4 to 5 minutes, so 100,000 here
    "bench_drop_in": (["--repeat", "3", "--executor-map-tasks", "100000"],
                      ["--repeat", "1", "--tasks", "20000", "--map-tasks", "200000", "--executor-map-tasks", "20000"]),
}
TIMEOUT = 240  # seconds for one benchmark
TIMEOUTS = {"bench_drop_in": 600}  # the five cases, with no window and with one attached


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats and trials (about 1 minute)")
    p.add_argument("--only", default="", help="comma-separated names, e.g. dispatch,cancel")
    p.add_argument("--save", metavar="PATH", help="write the combined results as JSON here")
    args = p.parse_args()

    scripts = sorted(glob.glob(os.path.join(HERE, "bench_*.py")))
    if args.only:
        wanted = {f"bench_{name.strip().removeprefix('bench_').removesuffix('.py')}" for name in args.only.split(",")}
        scripts = [s for s in scripts if os.path.basename(s)[:-3] in wanted]
    print(f"run_all: {len(scripts)} benchmark(s): {', '.join(os.path.basename(s) for s in scripts)}")
    print(_common.machine_line(), flush=True)

    results = []
    failures = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="poolscope-bench-") as tmp:
        for script in scripts:
            name = os.path.basename(script)[:-3]
            full, quick = ARGS.get(name, ([], []))
            extra = list(quick if args.quick else full)
            json_path = os.path.join(tmp, f"{name}.json")
            with open(script) as f:
                speaks_json = "_common.parser" in f.read()
            if speaks_json:
                extra += ["--json", json_path]
            print(f"\n=== {name} {' '.join(a for a in extra if not a.startswith(tmp))}".rstrip(), flush=True)
            t0 = time.perf_counter()
            try:
                proc = subprocess.run([sys.executable, script, *extra], cwd=os.path.dirname(HERE),
                                      timeout=TIMEOUTS.get(name, TIMEOUT))
                code = proc.returncode
            except subprocess.TimeoutExpired:
                code = "timeout"
            elapsed = time.perf_counter() - t0
            print(f"=== {name}: exit {code}, {elapsed:.1f} s", flush=True)
            if code != 0:
                failures.append(f"{name} (exit {code})")
            if speaks_json and os.path.exists(json_path):
                with open(json_path) as f:
                    data = json.load(f)
                data["seconds"] = round(elapsed, 1)
                results.append(data)
    total = time.perf_counter() - started

    rows = []
    for data in results:
        for t in data["targets"]:
            met = t.get("met")
            ratio = t.get("ratio")
            rows.append([data["bench"], t["target"], t["goal"], t["measured"], t.get("peer", "-"),
                         "-" if ratio is None else f"{ratio:.3g}" if isinstance(ratio, (int, float)) else str(ratio),
                         "info" if met is None else _common.verdict(bool(met))])
    print("\n" + "=" * 100)
    print(f"summary ({_common.machine_line()}; total {total:.0f} s)")
    print(_common.table(["bench", "target", "goal", "poolscope", "peer", "ratio", "verdict"], rows,
                        align="lllrrrl"))
    noisy = [data["bench"] for data in results if data.get("noisy")]
    if noisy:
        print(f"\nWARNING: others' load was high during {', '.join(noisy)}: those figures are not reliable")
    missed = [r for r in rows if r[-1] == "MISSED"]
    print(f"\n{len(rows) - len(missed) - sum(r[-1] == 'info' for r in rows)} target(s) met, {len(missed)} missed"
          + (f"; failed to run: {', '.join(failures)}" if failures else ""))
    if args.save:
        with open(args.save, "w") as f:
            json.dump({"machine": _common.machine(), "total_seconds": total, "results": results}, f, indent=2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
