"""The monitor's own readings, taken on its clock: per-core CPU, throughput, and the figures of the
local workers (processes through psutil, thread slots through their threads' CPU times), folded
into an :class:`~poolscope.monitor.folder.EventFolder`. Remote workers are read by
:func:`~poolscope.monitor.worker_stats.cluster_stats` from what their backend reports.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import psutil

from poolscope.core.backends import backend_info
from poolscope.core.telemetry import Telemetry
from poolscope.monitor.folder import RATE_WINDOW, EventFolder

__all__ = ["IDLE_TELEMETRY_FACTOR", "TELEMETRY_INTERVAL", "LocalSampler", "ThreadCpuSampler"]

#: How often the monitor samples CPU, worker processes and throughput (seconds).
TELEMETRY_INTERVAL = 0.25
#: ... times this while no job runs nor ended less than RATE_WINDOW ago (once a second by default):
#: at rest the window costs little (bench/bench_window_cost.py).
IDLE_TELEMETRY_FACTOR = 4


class ThreadCpuSampler:
    """CPU % of threads of this process by native id, measured between two calls.

    A thread slot's id is not a process: ``psutil.Process(tid)`` would report the whole process.
    Each thread's own user + system time is in ``/proc/self/task/<tid>/stat`` (psutil's
    ``threads()``), so this shows what the GIL does: CPU-bound thread slots share about one core.
    """

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._last: dict[int, tuple[float, float]] = {}  # tid -> (monotonic time, cpu seconds) at the last call

    def sample(self, tids: Iterable[int]) -> dict[int, float]:
        wanted = set(tids)
        if not wanted:
            self._last.clear()
            return {}
        now = time.monotonic()
        try:
            times = {thread.id: thread.user_time + thread.system_time for thread in self._process.threads()}
        except (psutil.Error, OSError):
            return {}
        percents: dict[int, float] = {}
        last: dict[int, tuple[float, float]] = {}
        for tid in wanted:
            if tid not in times:
                continue
            previous = self._last.get(tid)
            if previous is not None and now > previous[0]:
                percents[tid] = max(0.0, 100.0 * (times[tid] - previous[1]) / (now - previous[0]))
            last[tid] = (now, times[tid])
        self._last = last
        return percents


class LocalSampler:
    """Samples this machine for an EventFolder: one telemetry reading (cores, throughput, worker
    processes) and the thread slots' CPU, folded in. Made and used by one thread."""

    def __init__(self, interval: float = TELEMETRY_INTERVAL) -> None:
        self.interval = interval  # seconds between readings while a job runs
        self.telemetry = Telemetry(window=RATE_WINDOW)
        self.thread_cpu = ThreadCpuSampler()

    def next_interval(self, folder: EventFolder) -> float:
        """``interval`` while a job's throughput is rated (it is not final, or ended less than
        RATE_WINDOW ago: its curve comes down at the sample rate), IDLE_TELEMETRY_FACTOR times it
        at rest."""
        if folder.rated_counts(time.monotonic()):
            return self.interval
        return self.interval * IDLE_TELEMETRY_FACTOR

    def sample_into(self, folder: EventFolder) -> None:
        alive = [(pid, backend_info(view.backend).sampled_as) for pid, view in folder.workers.items() if view.alive]
        pids = [pid for pid, kind in alive if kind == "process"]
        tids = [pid for pid, kind in alive if kind == "thread"]
        now = time.monotonic()
        sample = self.telemetry.sample(pids, folder.rated_counts(now), total_count=folder.tasks_finished, now=now)
        folder.add_sample(sample)
        folder.add_thread_cpu(self.thread_cpu.sample(tids))
