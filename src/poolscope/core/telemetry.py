"""Telemetry: per-core CPU load, per-worker CPU and memory, and task throughput, sampled a few
times a second and kept in numpy ring buffers.

Qt-free. The window's bridge thread owns a :class:`Telemetry` and calls :meth:`Telemetry.sample`
every few hundred milliseconds; each :class:`TelemetrySample` it returns is a small immutable
value that the graphs append to their own :class:`RingBuffer` on the GUI thread. The CLI can use
the same pieces headless.

- :class:`CpuSampler` reads the load of every logical core (``psutil.cpu_percent(percpu=True)``,
  one read of ``/proc/stat``).
- :class:`ProcessSampler` reads CPU % and RSS of given pids (a worker and its children), keeping
  one ``psutil.Process`` per pid so that CPU % is measured between two calls.
- :class:`ThroughputMeter` turns cumulative task counts into tasks per second.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Hashable

import numpy as np
import psutil

__all__ = [
    "CpuSampler",
    "ProcessSampler",
    "ProcessStats",
    "RingBuffer",
    "Telemetry",
    "TelemetrySample",
    "ThroughputMeter",
    "logical_cores",
]


class RingBuffer:
    """A fixed-capacity history of ``(time, values)`` rows in preallocated numpy arrays.

    ``append`` overwrites the oldest row once full; ``times()``/``values()`` return the rows
    oldest first (a copy only when the buffer has wrapped). ``width`` is the number of values per
    row (1 for a single series, the number of cores for per-core load).
    """

    def __init__(self, capacity: int, width: int = 1, dtype: type = np.float64) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, not {capacity}")
        self.capacity = capacity
        self.width = width
        self._times = np.zeros(capacity, dtype=np.float64)
        self._values: np.ndarray = np.zeros((capacity, width), dtype=dtype)
        self._next = 0  # the row the next append writes
        self._count = 0  # rows held, up to capacity

    def __len__(self) -> int:
        return self._count

    def append(self, t: float, values: float | Iterable[float] | np.ndarray) -> None:
        row = self._next
        self._times[row] = t
        self._values[row] = values
        self._next = (row + 1) % self.capacity
        if self._count < self.capacity:
            self._count += 1

    def clear(self) -> None:
        self._next = 0
        self._count = 0

    def times(self) -> np.ndarray:
        return self._ordered(self._times)

    def values(self) -> np.ndarray:
        """The rows oldest first, shape ``(len(self), width)``."""
        return self._ordered(self._values)

    def last_time(self) -> float | None:
        return float(self._times[self._next - 1]) if self._count else None

    def last(self) -> np.ndarray | None:
        return self._values[self._next - 1] if self._count else None

    def since(self, t0: float) -> tuple[np.ndarray, np.ndarray]:
        """The rows with time >= ``t0``, oldest first (times, values).

        Once the buffer has wrapped, only those rows of the values are copied (the graphs ask for
        a short tail of a long per-core history every frame), never the whole ring.
        """
        times = self.times()
        start = int(np.searchsorted(times, t0, side="left"))
        if self._count < self.capacity:
            return times[start:], self._values[start: self._count]
        wanted = self._count - start  # the newest rows, ending just before self._next
        if wanted <= self._next:
            values = self._values[self._next - wanted: self._next].copy()
        else:
            values = np.concatenate((self._values[self.capacity - (wanted - self._next):], self._values[: self._next]))
        return times[start:], values

    def _ordered(self, array: np.ndarray) -> np.ndarray:
        if self._count < self.capacity:
            return array[: self._count]
        if self._next == 0:
            return array
        return np.concatenate((array[self._next:], array[: self._next]))


def logical_cores() -> int:
    """The number of logical cores: the width of every per-core load reading."""
    return psutil.cpu_count(logical=True) or 1


class CpuSampler:
    """Per-logical-core CPU load in percent since the previous call (the first call primes it).

    Every reading has :func:`logical_cores` values, even if a core goes off- or online later.
    """

    def __init__(self) -> None:
        self.cores = logical_cores()
        psutil.cpu_percent(percpu=True)  # prime: the next call measures from here

    def sample(self) -> np.ndarray:
        loads = psutil.cpu_percent(percpu=True)
        array = np.asarray(loads, dtype=np.float64)
        if array.shape[0] != self.cores:  # a core went off- or online: keep the width fixed
            fixed = np.zeros(self.cores)
            n = min(self.cores, array.shape[0])
            fixed[:n] = array[:n]
            array = fixed
        return array


@dataclass(frozen=True, slots=True)
class ProcessStats:
    pid: int
    cpu_percent: float  # of one core, summed over the process and its children (can exceed 100)
    rss: int  # bytes, the process and its children


class ProcessSampler:
    """CPU % and RSS of processes by pid, each including its child processes.

    Keeps a ``psutil.Process`` per pid between calls (CPU % is measured from the previous call);
    pids that are gone are dropped silently.
    """

    def __init__(self) -> None:
        self._processes: dict[int, psutil.Process] = {}  # pid -> handle, cached across samples
        self._children: dict[int, dict[int, psutil.Process]] = {}  # pid -> its children's handles

    def sample(self, pids: Iterable[int]) -> dict[int, ProcessStats]:
        wanted = set(pids)
        for pid in list(self._processes):
            if pid not in wanted:
                del self._processes[pid]
                self._children.pop(pid, None)
        stats: dict[int, ProcessStats] = {}
        for pid in wanted:
            process = self._processes.get(pid)
            try:
                if process is None:
                    process = psutil.Process(pid)
                    self._processes[pid] = process
                    process.cpu_percent(None)  # prime
                with process.oneshot():
                    cpu = process.cpu_percent(None)
                    rss = process.memory_info().rss
                cpu_children, rss_children = self._sample_children(pid, process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                self._processes.pop(pid, None)
                self._children.pop(pid, None)
                continue
            stats[pid] = ProcessStats(pid=pid, cpu_percent=cpu + cpu_children, rss=rss + rss_children)
        return stats

    def _sample_children(self, pid: int, process: psutil.Process) -> tuple[float, int]:
        known = self._children.setdefault(pid, {})
        try:
            children = _descendants(pid, process, known)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return 0.0, 0
        if not children and not known:
            return 0.0, 0
        cpu, rss = 0.0, 0
        current: dict[int, psutil.Process] = {}
        for child in children:
            handle = known.get(child.pid)
            try:
                if handle is None:  # new child: prime its CPU %, count it from the next sample
                    handle = child
                    handle.cpu_percent(None)
                else:
                    cpu += handle.cpu_percent(None)
                rss += handle.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            current[child.pid] = handle
        self._children[pid] = current
        return cpu, rss


def _descendants(pid: int, process: psutil.Process, known: dict[int, psutil.Process]) -> list[psutil.Process]:
    """The processes below ``pid`` (handles from ``known`` where there are some).

    Read from ``/proc/PID/task/TID/children`` (Linux), a few small files per worker. psutil's
    ``children()`` reads the stat file of every process on the machine to find them: with two
    idle workers sampled once a second that alone was 1% of a core of the window's process.
    Where those files do not exist, psutil's way.
    """
    pids: list[int] = []
    stack = [pid]
    try:
        while stack:
            parent = stack.pop()
            try:
                threads = os.listdir(f"/proc/{parent}/task")
            except FileNotFoundError:
                if parent == pid:
                    raise psutil.NoSuchProcess(pid) from None
                continue  # a child that has just exited
            for tid in threads:
                try:
                    with open(f"/proc/{parent}/task/{tid}/children", "rb") as f:
                        found = [int(child) for child in f.read().split()]
                except FileNotFoundError:
                    if not os.path.exists(f"/proc/{parent}/task/{tid}"):
                        continue  # the thread ended
                    raise  # no children files on this kernel
                pids.extend(found)
                stack.extend(found)
    except OSError:
        return process.children(recursive=True)
    handles: list[psutil.Process] = []
    for child in pids:
        handle = known.get(child)
        if handle is None:
            try:
                handle = psutil.Process(child)
            except psutil.Error:
                continue
        handles.append(handle)
    return handles


class ThroughputMeter:
    """Tasks per second from cumulative counts, per key, smoothed over a short window.

    ``update(t, counts)`` takes the cumulative count of every key at time ``t`` and returns each
    key's rate: the increase over the last ``window`` seconds divided by the time it spans. A key
    missing from ``counts`` is forgotten. Every key is rated over the same span: a new key counts
    as having had its first count at the earlier updates still in the window (a job that just
    started is not rated over a fraction of the window, which would put it above the total).
    """

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self._times: list[float] = []  # the updates' times still in the window, oldest first
        self._history: dict[Hashable, list[tuple[float, float]]] = {}  # key -> [(t, count)], as _times

    def update(self, t: float, counts: Mapping[Hashable, float]) -> dict[Hashable, float]:
        for key in list(self._history):
            if key not in counts:
                del self._history[key]
        self._times.append(t)
        # keep one time at or before the window's start, so the window is fully covered
        while len(self._times) > 2 and self._times[1] <= t - self.window:
            self._times.pop(0)
        rates: dict[Hashable, float] = {}
        for key, count in counts.items():
            history = self._history.get(key)
            if history is None:
                history = self._history[key] = [(old, float(count)) for old in self._times[:-1]]
            history.append((t, float(count)))
            del history[: len(history) - len(self._times)]
            t0, c0 = history[0]
            rates[key] = (count - c0) / (t - t0) if t > t0 else 0.0
        return rates


@dataclass(frozen=True)
class TelemetrySample:
    """One telemetry reading: what the graphs and the workers table append or show."""

    time: float  # time.monotonic() of the reading
    cpu: np.ndarray  # load per logical core, percent
    total_rate: float  # tasks/s over all jobs
    job_rates: dict[int, float] = field(default_factory=dict)  # job id -> tasks/s, jobs with counts given
    processes: dict[int, ProcessStats] = field(default_factory=dict)  # worker pid -> CPU % and RSS


# The key under which ThroughputMeter tracks the count over all jobs.
_TOTAL = "total"


class Telemetry:
    """The pieces above behind one call, for a consumer that samples on its own clock."""

    def __init__(self, window: float = 1.0) -> None:
        self.cpu = CpuSampler()
        self.processes = ProcessSampler()
        self.throughput = ThroughputMeter(window)

    @property
    def cores(self) -> int:
        return self.cpu.cores

    def sample(self, worker_pids: Iterable[int], job_counts: Mapping[int, int], *,
               total_count: int | None = None, now: float | None = None) -> TelemetrySample:
        """Read the cores and the workers, and rate the jobs from their cumulative task counts.

        ``job_counts`` maps the jobs to rate (usually the running ones) to how many of their
        tasks have finished; ``total_count`` is the count over every job (by default the sum of
        ``job_counts``).
        """
        t = time.monotonic() if now is None else now
        counts: dict[Hashable, float] = {job_id: float(count) for job_id, count in job_counts.items()}
        counts[_TOTAL] = sum(job_counts.values()) if total_count is None else total_count
        rates = self.throughput.update(t, counts)
        total_rate = max(0.0, rates.pop(_TOTAL))
        return TelemetrySample(
            time=t,
            cpu=self.cpu.sample(),
            total_rate=total_rate,
            job_rates={key: max(0.0, rate) for key, rate in rates.items() if isinstance(key, int)},
            processes=self.processes.sample(worker_pids),
        )
