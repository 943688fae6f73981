"""Helpers shared by the bench_*.py scripts (not a benchmark itself: run_all.py skips it).

Each benchmark imports this module first. It puts ``src/`` on ``sys.path`` when poolscope is not
installed, so ``python bench/bench_x.py`` works from a fresh checkout, and it gives every script
the same statistics, table printing, machine description and ``--json PATH`` output that
``run_all.py`` collects into its combined summary.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.join(os.path.dirname(BENCH_DIR), "src")


def ensure_poolscope_importable() -> None:
    """Put the checkout's ``src/`` first on ``sys.path`` unless poolscope is installed.

    Spawned children receive the parent's ``sys.path``, so workers find it too.
    """
    try:
        import poolscope  # noqa: F401
    except ImportError:
        sys.path.insert(0, SRC_DIR)


ensure_poolscope_importable()


# -- statistics -----------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- output ---------------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, align: str | None = None) -> str:
    """A plain-text table; ``align`` is one letter per column, 'l' or 'r' (default: first l, rest r)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    align = align or ("l" + "r" * (len(headers) - 1))
    lines = []
    for n, row in enumerate(cells):
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align, strict=True)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt_rate(value: float) -> str:
    if value != value:  # nan
        return "n/a"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def fmt_ms(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1000:.1f}"


def fmt_ratio(value: float) -> str:
    return "n/a" if value != value else f"{value:.2f}x"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# -- draining an engine's events ------------------------------------------------------------------
class EventDrain:
    """A thread draining ``engine.events`` the way the CLI or the window's bridge does, handing
    each batch to ``on_batch`` (default: drop it). ``stop()`` ends it."""

    def __init__(self, events: Any, on_batch: Any = None) -> None:
        import threading

        self.events = events
        self.on_batch = on_batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-event-drain", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import queue

        while not self._stop.is_set():
            try:
                batch = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            if self.on_batch is not None:
                self.on_batch(batch)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


# -- other people's load -----------------------------------------------------------------------
class LoadMeter:
    """Measures, around a timed run, how many cores *other* processes used (the machine is shared).

    ``foreign``: CPU-seconds per second used by processes outside this process tree (system busy
    time minus ours); ``steal``: the hypervisor's steal time, in cores. A run with
    ``foreign > NOISY_CORES`` was disturbed, and the benchmarks run it again (``--retries``).
    """

    def __enter__(self) -> LoadMeter:
        import psutil

        self._psutil = psutil
        self._tree0 = _tree_cpu(psutil)
        self._last = dict(self._tree0)  # latest CPU seen per pid, so processes that die still count
        self._sys0 = psutil.cpu_times()
        self._t0 = _now()
        return self

    def touch(self) -> None:
        """Note our processes' CPU now: call it before killing some of them."""
        self._last.update(_tree_cpu(self._psutil))

    def __exit__(self, *exc: object) -> None:
        psutil = self._psutil
        wall = max(1e-9, _now() - self._t0)
        sys1 = psutil.cpu_times()
        self.touch()
        ours = sum(t - self._tree0.get(pid, 0.0) for pid, t in self._last.items())
        busy = _busy(sys1) - _busy(self._sys0)
        self.wall = wall
        self.foreign = max(0.0, busy - ours) / wall
        self.steal = max(0.0, getattr(sys1, "steal", 0.0) - getattr(self._sys0, "steal", 0.0)) / wall


NOISY_CORES = 0.25  # a run during which other processes used more than this many cores is redone


def noise_warning(foreign: dict[str, list[float]]) -> str:
    """A warning line when, even after the retries, others' load (median) was high for a contender."""
    noisy = {name: median(values) for name, values in foreign.items() if median(values) > NOISY_CORES}
    if not noisy:
        return ""
    worst = max(noisy.values())
    return (f"  WARNING: the machine was busy (others used up to {worst:.2f} cores during {len(noisy)} contender(s)' "
            "runs): these figures are not reliable; run again on a quieter machine")


def _now() -> float:
    import time

    return time.perf_counter()


def _busy(times: Any) -> float:
    return sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))


def _tree_cpu(psutil: Any) -> dict[int, float]:
    me = psutil.Process()
    out: dict[int, float] = {}
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            out[proc.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def measured(run: Any, retries: int) -> tuple[Any, LoadMeter, int]:
    """Call ``run()`` under a LoadMeter; redo it (up to ``retries`` times) while others' load was
    above NOISY_CORES. Returns (result, meter, redone) of the last attempt."""
    redone = 0
    while True:
        with LoadMeter() as meter:
            result = run()
        if meter.foreign <= NOISY_CORES or redone >= retries:
            return result, meter, redone
        redone += 1


# -- the machine ----------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        for line in out.splitlines():
            if line.strip().lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "date": datetime.date.today().isoformat(),
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def machine_line() -> str:
    m = machine()
    return f"{m['date']}  {m['cores']} cores  {m['cpu']}  Python {m['python']}  {m['os']}"


# -- command line ---------------------------------------------------------------------------------
def parser(description: str, *, repeat: int | None = 3) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    if repeat is not None:
        p.add_argument("--repeat", type=int, default=repeat, help=f"repeats; the median is reported (default {repeat})")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    p.add_argument("--nice", type=int, default=0,
                   help="poolscope workers' nice level (default 0, as the peers run; the engine's own default is 10)")
    p.add_argument("--retries", type=int, default=2,
                   help=f"redo a timed run up to this many times when other processes used > {NOISY_CORES} cores "
                        "during it (default 2; 0 to keep every run)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here (run_all.py uses this)")
    return p


def write_json(path: str | None, name: str, targets: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> None:
    """``targets``: dicts with target, measured, peer, ratio, goal, met (what run_all prints)."""
    if not path:
        return
    data = {"bench": name, "machine": machine(), "targets": targets, **(extra or {})}
    with open(path, "w") as f:
        json.dump(data, f, indent=2, default=str)
