"""What running fresh code costs: the stat per job submitted, and a worker restart when code changed.

1. **Stat cost per submit.** As a job is registered the engine stats every file of user code its
   workers loaded (once per distinct file) and compares the stamps (``Engine.
   _replace_workers_with_stale_code``). Timed here on the engine's own method, with W workers that
   each loaded the same K real files, none changed: the cost every submit pays.
2. **Restart cost.** The same small job (a file target, 2 tasks, chunk size 1, on 2 workers) run
   again and again: with the file unchanged (the workers are kept), and rewritten before each
   run (both workers are replaced before the job runs). Time from submit to the job's end.

    python bench/bench_fresh_code.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import types

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import median, table


def stat_cost(workers: int, files: int, calls: int) -> float:
    """Median microseconds of one staleness pass over ``workers`` x the same ``files`` files."""
    from poolscope.core.loop import EngineLoop
    from poolscope.core.targets import stamp_files

    folder = tempfile.mkdtemp(prefix="poolscope-bench-")
    paths = []
    for index in range(files):
        path = os.path.join(folder, f"module_{index}.py")
        with open(path, "w") as handle:
            handle.write(f"VALUE = {index}\n")
        paths.append(path)
    stamps = stamp_files(paths)
    slots = [types.SimpleNamespace(loaded_files=dict(stamps), stopping_reason=None) for _ in range(workers)]
    fake = types.SimpleNamespace(workers=slots, slots=None)  # the loop's view of its worker slots
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        EngineLoop.replace_workers_with_stale_code(fake)  # type: ignore[arg-type]
        times.append((time.perf_counter() - began) * 1e6)
    assert all(slot.stopping_reason is None for slot in slots)  # nothing changed: nobody replaced
    for path in paths:
        os.unlink(path)
    os.rmdir(folder)
    return median(times)


def restart_cost(repeat: int) -> tuple[float, float, float]:
    """Median seconds of a small job with its file unchanged, and rewritten before each run."""
    from poolscope.core.engine import Engine
    from poolscope.core.jobs import JobSpec

    folder = tempfile.mkdtemp(prefix="poolscope-bench-")
    path = os.path.join(folder, "task.py")

    def write(version: int) -> None:
        with open(path, "w") as handle:
            handle.write(f"def f(x):\n    return {version}\n")
        os.utime(path, ns=(version * 10**9, version * 10**9))  # a distinct stamp, whatever the clock

    write(0)
    kept, replaced = [], []
    with Engine(workers=2, nice=0) as engine:
        spec = JobSpec.create(f"{path}:f", "range:2", chunksize=1)
        engine.submit(spec).wait(60)  # warm: both workers load the file
        for run in range(1, repeat + 1):
            for changed in (False, True) if run % 2 else (True, False):  # rotate the order
                if changed:
                    write(run)
                pids = set(engine.worker_pids())
                began = time.perf_counter()
                summary = engine.submit(spec).wait(60)
                seconds = time.perf_counter() - began
                assert summary.done == 2
                if changed:
                    assert summary.results == [run, run]
                    replaced.append(seconds)
                else:
                    assert set(engine.worker_pids()) == pids
                    kept.append(seconds)
    os.unlink(path)
    os.rmdir(folder)
    return median(kept), median(replaced), median(replaced) - median(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rows = []
    for workers in (2, 16):
        for files in (1, 10, 100):
            rows.append((workers, files, f"{stat_cost(workers, files, 2000):.1f}"))
    print("Stat cost per submit (nothing changed)")
    print(table(("workers", "files each loaded", "median us per submit"), rows))
    kept, replaced, restart = restart_cost(args.repeat)
    print(f"\nA 2-task job on 2 workers, submit to end (median of {args.repeat})")
    print(table(("file", "seconds"), [("unchanged: workers kept", f"{kept:.3f}"),
                                      ("rewritten: both workers replaced first", f"{replaced:.3f}"),
                                      ("cost of the restart", f"{restart:.3f}")], align="lr"))


if __name__ == "__main__":
    main()
