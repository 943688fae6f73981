"""The CPU readings a graph draws, Qt-free: this machine's load per core and each Dask worker's
CPU %, each kept in a numpy :class:`RingBuffer` for the longest history, and the part of them in
view at a time ("Smooth": the mean over the last :data:`SMOOTH_SECONDS` at each reading).

The window's CPU graph (``gui/widgets/cpu_graph.py``) appends to a :class:`CpuHistory` as samples
come and draws what :meth:`CpuHistory.visible_loads` and :meth:`CpuHistory.cluster_in_view` give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poolscope.core.telemetry import RingBuffer
from poolscope.monitor.views import ClusterSample

__all__ = [
    "MIN_CLUSTER_INTERVAL",
    "MIN_SAMPLE_INTERVAL",
    "REPORTING_SECONDS",
    "SMOOTH_SECONDS",
    "ClusterInView",
    "CpuHistory",
    "trailing_mean",
]

#: Fastest sampling the per-core ring buffer is sized for (seconds between samples).
MIN_SAMPLE_INTERVAL = 0.2
#: Fastest cluster polling a Dask worker's ring buffer is sized for (seconds between readings).
MIN_CLUSTER_INTERVAL = 0.25
#: "Smooth" draws, at each reading, the mean load over this many seconds up to it.
SMOOTH_SECONDS = 1.0
#: A Dask worker read within this many seconds is still reporting (it counts in "now").
REPORTING_SECONDS = 5.0


def trailing_mean(times: np.ndarray, values: np.ndarray, window: float) -> np.ndarray:
    """At each row, the mean of the rows whose time is within ``window`` seconds up to it."""
    if len(times) == 0:
        return values
    sums = np.concatenate((np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)))
    first = np.searchsorted(times, times - window, side="right")
    rows = np.arange(1, len(times) + 1)
    return (sums[rows] - sums[first]) / (rows - first)[:, None]


@dataclass(frozen=True)
class ClusterInView:
    """The Dask workers' readings in view at one time (what the cluster's curves show)."""

    #: address -> (seconds before the time, CPU %) of its readings in view (empty arrays: none)
    lines: dict[str, tuple[np.ndarray, np.ndarray]]
    #: the workers forgotten now: gone, and their last reading scrolled out of view
    gone: list[str]
    #: the latest CPU % of each worker still reporting (read within REPORTING_SECONDS)
    latest: list[float]


class CpuHistory:
    """This machine's per-core loads and the cluster's per-worker CPU %, for ``longest`` seconds.

    Written and read on one thread (the window's): ``loads`` by :meth:`add_sample`, ``cluster``
    by :meth:`add_cluster_sample`.
    """

    def __init__(self, cores: int, longest: float) -> None:
        self.longest = longest  # seconds of history kept (the longest a graph offers)
        self.cores = cores
        self.loads = RingBuffer(self._capacity(), width=cores)  # time.monotonic() -> load per core, percent
        self.cluster: dict[str, RingBuffer] = {}  # Dask worker address -> its CPU %, oldest first
        self.cluster_now: set[str] = set()  # the addresses of the latest reading: the workers there are now

    def _capacity(self) -> int:
        return int(self.longest / MIN_SAMPLE_INTERVAL) + 1

    def set_cores(self, cores: int) -> None:
        """Keep ``cores`` loads a reading from now on: the per-core history restarts."""
        self.cores = cores
        self.loads = RingBuffer(self._capacity(), width=cores)

    def add_sample(self, t: float, loads: np.ndarray) -> None:
        """Append one reading of this machine: a load per core (as many as :attr:`cores`)."""
        self.loads.append(t, loads)

    def add_cluster_sample(self, sample: ClusterSample) -> tuple[list[str], bool]:
        """Append a reading of the cluster's workers: (the addresses new to the history, in the
        reading's order; whether the workers there now are others than the last reading's)."""
        new: list[str] = []
        for address, cpu in sample.cpu.items():
            buffer = self.cluster.get(address)
            if buffer is None:
                buffer = self.cluster[address] = RingBuffer(int(self.longest / MIN_CLUSTER_INTERVAL) + 1)
                new.append(address)
            buffer.append(sample.time, cpu)
        changed = set(sample.cpu) != self.cluster_now
        if changed:
            self.cluster_now = set(sample.cpu)
        return new, changed

    def visible_loads(self, now: float, history: float, smooth: bool) -> tuple[np.ndarray, np.ndarray]:
        """(seconds before ``now``, load per core) of the last ``history`` seconds (and one more),
        each row the mean over SMOOTH_SECONDS up to it when ``smooth``."""
        start = now - history - 1.0
        if not smooth:
            times, values = self.loads.since(start)
            return times - now, values
        times, values = self.loads.since(start - SMOOTH_SECONDS)
        values = trailing_mean(times, values, SMOOTH_SECONDS)
        keep = int(np.searchsorted(times, start, side="left"))
        return times[keep:] - now, values[keep:]

    def cluster_in_view(self, now: float, history: float) -> ClusterInView:
        """Each worker's readings of the last ``history`` seconds (and one more) before ``now``;
        a worker with none left (gone, its line scrolled out of view) is forgotten here."""
        start = now - history - 1.0
        lines: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        gone: list[str] = []
        latest: list[float] = []
        for address in list(self.cluster):
            buffer = self.cluster[address]
            last = buffer.last_time()
            if last is None or last < start:
                del self.cluster[address]
                gone.append(address)
                continue
            times, values = buffer.since(start)
            lines[address] = (times - now, values[:, 0])
            if times.size and last >= now - REPORTING_SECONDS:
                latest.append(float(values[-1, 0]))
        return ClusterInView(lines, gone, latest)
