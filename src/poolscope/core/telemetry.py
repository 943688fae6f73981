"""Telemetry: per-core CPU load, per-worker CPU and memory, and task throughput, sampled a few
times a second and kept in numpy ring buffers.

Qt-free. The window's bridge thread owns a :class:`Telemetry` and calls :meth:`Telemetry.sample`
every few hundred milliseconds; each :class:`TelemetrySample` it returns is a small immutable
value that the graphs append to their own :class:`RingBuffer` on the GUI thread. The CLI can use
the same pieces headless.

- :class:`CpuSampler` reads the load of every logical core (``psutil.cpu_percent(percpu=True)``,
  one read of ``/proc/stat``).
- :class:`ProcessSampler` reads CPU % and RSS of given pids (a worker and its children), keeping
  each pid's recent CPU times so that CPU % is measured over the last second.
- :class:`ThroughputMeter` turns cumulative task counts into tasks per second, as curves whose
  area is the count.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

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
    cpu_percent: float  # of one core over the last ProcessSampler.window seconds, with its children
    rss: int  # bytes, the process and its children
    span: tuple[float, float] = (0.0, 0.0)  # time.monotonic() of the two readings of the process the CPU % is over


#: Seconds per tick of the kernel's CPU time accounting (/proc/PID/stat counts in these).
CLOCK_TICK = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


class _CpuClock:
    """One process's CPU seconds (user + system, as /proc/PID/stat has them) at its recent readings."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.readings: collections.deque[tuple[float, float]] = collections.deque()  # (monotonic, cpu seconds)
        self.span = (0.0, 0.0)  # the times of the readings the last percent is over

    def read(self, window: float) -> float | None:
        """Read now; the percent of one core over about the last ``window`` seconds (None: no earlier
        reading). ``span`` is then the two readings' times."""
        times = self.process.cpu_times()
        now = time.monotonic()
        cpu = times.user + times.system
        readings = self.readings
        readings.append((now, cpu))
        while len(readings) > 2 and readings[1][0] <= now - window:
            readings.popleft()  # keep one reading at or before the window's start
        if len(readings) < 2:
            return None
        t0, cpu0 = readings[0]
        span = now - t0
        if span <= 0:
            return None
        self.span = (t0, now)
        percent = max(0.0, 100.0 * (cpu - cpu0) / span)
        # The kernel counts in ticks: each of the two readings may be up to one tick late. Above
        # 100% by no more than that is the counting, not a second core (a task's one thread).
        if 100.0 < percent <= 100.0 * (1.0 + 2 * CLOCK_TICK / span):
            percent = 100.0
        return percent


class ProcessSampler:
    """CPU % and RSS of processes by pid, each including its child processes.

    CPU % is of one core, over the last ``window`` seconds: the CPU seconds the kernel counted
    for the process between a reading at or before the window's start and now, over the time
    between them. A pid is reported from its second reading on; pids that are gone are dropped.
    A process's own share above 100% by less than the kernel's tick is shown as 100%.
    """

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self._clocks: dict[int, _CpuClock] = {}  # pid -> its readings, kept across samples
        self._children: dict[int, dict[int, _CpuClock]] = {}  # pid -> its children's readings

    def sample(self, pids: Iterable[int]) -> dict[int, ProcessStats]:
        wanted = set(pids)
        for pid in list(self._clocks):
            if pid not in wanted:
                del self._clocks[pid]
                self._children.pop(pid, None)
        stats: dict[int, ProcessStats] = {}
        for pid in wanted:
            clock = self._clocks.get(pid)
            try:
                if clock is None:
                    clock = self._clocks[pid] = _CpuClock(psutil.Process(pid))
                with clock.process.oneshot():
                    cpu = clock.read(self.window)
                    rss = clock.process.memory_info().rss
                cpu_children, rss_children = self._sample_children(pid, clock.process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                self._clocks.pop(pid, None)
                self._children.pop(pid, None)
                continue
            if cpu is not None:
                stats[pid] = ProcessStats(pid=pid, cpu_percent=cpu + cpu_children, rss=rss + rss_children,
                                          span=clock.span)
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
        current: dict[int, _CpuClock] = {}
        for child in children:
            clock = known.get(child.pid) or _CpuClock(child)  # a new child counts from its second reading
            try:
                cpu += clock.read(self.window) or 0.0
                rss += clock.process.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            current[child.pid] = clock
        self._children[pid] = current
        return cpu, rss


def _descendants(pid: int, process: psutil.Process, known: dict[int, _CpuClock]) -> list[psutil.Process]:
    """The processes below ``pid`` (handles from ``known``'s clocks where there are some).

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
        clock = known.get(child)
        handle = clock.process if clock is not None else None
        if handle is None:
            try:
                handle = psutil.Process(child)
            except psutil.Error:
                continue
        handles.append(handle)
    return handles



Point = tuple[float, float]  # (time.monotonic(), tasks/s)


class ThroughputMeter:
    """Tasks per second from cumulative counts, per key, as a curve whose area is the count.

    A key's count C(t) is known at each update and taken as linear between updates (a key first
    seen with count c had 0 at the update before: it may have started and ended in between).
    Its rate is the moving average r(t) = (C(t) - C(t - window)) / window. The integral of r over
    all time is the key's count exactly; and r is linear between the update times and those
    times shifted by the window, so ``update`` returns r at every such time since the last update
    (most often two points), and those points joined by straight lines have exactly that area.

    A key left out of ``counts`` keeps its last count until its rate is back to 0 (one window
    later: the curve of a job that ended comes down to the axis), then it is forgotten.
    """

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self._last: float | None = None  # the previous update's time
        self._history: dict[Hashable, list[Point]] = {}  # key -> [(t, count)] at updates, back to a window ago

    def update(self, t: float, counts: Mapping[Hashable, float]) -> dict[Hashable, list[Point]]:
        """Take every key's cumulative count at ``t``; return each key's new points (t, tasks/s)."""
        previous, window = self._last, self.window
        if previous is not None and t <= previous:
            t = previous + 1e-6  # one clock, but keep the points in order if it stalls
        points: dict[Hashable, list[Point]] = {}
        for key in list(self._history.keys() | counts.keys()):
            history = self._history.get(key)
            new: list[Point] = []
            if history is None:
                if previous is None:  # the first update of all: counts so far are where we start
                    self._history[key] = [(t, float(counts[key]))]
                    points[key] = [(t, 0.0)]
                    continue
                history = self._history[key] = [(previous, 0.0)]
                new.append((previous, 0.0))
            history.append((t, float(counts.get(key, history[-1][1]))))
            assert previous is not None
            times = [time_ for time_, _ in history]
            kinks = sorted({shifted + window for shifted in times if previous < shifted + window < t})
            values = [count for _, count in history]
            for at in (*kinks, t):
                now_count = float(np.interp(at, times, values))
                then_count = float(np.interp(at - window, times, values))
                new.append((at, max(0.0, (now_count - then_count) / window)))
            # keep one update at or before t - window: the next update looks back to there
            while len(history) > 2 and history[1][0] <= t - window:
                history.pop(0)
            points[key] = new
            if key not in counts and all(count == history[-1][1] for _, count in history) \
                    and history[0][0] <= t - window:
                del self._history[key]  # its rate is 0 and stays 0
        self._last = t
        return points


@dataclass(frozen=True)
class TelemetrySample:
    """One telemetry reading: what the graphs and the workers table append or show."""

    time: float  # time.monotonic() of the reading
    cpu: np.ndarray  # load per logical core, percent
    total_rate: float  # tasks/s over all jobs, at ``time``
    job_rates: dict[int, float] = field(default_factory=dict)  # job id -> tasks/s at ``time``
    processes: dict[int, ProcessStats] = field(default_factory=dict)  # worker pid -> CPU % and RSS
    # The throughput curves' new points since the previous reading, oldest first (see ThroughputMeter):
    total_points: tuple[Point, ...] = ()
    job_points: dict[int, tuple[Point, ...]] = field(default_factory=dict)  # job id -> its new points


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
        points = self.throughput.update(t, counts)
        total_points = tuple(points.pop(_TOTAL))
        job_points = {key: tuple(value) for key, value in points.items() if isinstance(key, int) and value}
        return TelemetrySample(
            time=t,
            cpu=self.cpu.sample(),
            total_rate=total_points[-1][1] if total_points else 0.0,
            job_rates={key: value[-1][1] for key, value in job_points.items()},
            processes=self.processes.sample(worker_pids),
            total_points=total_points,
            job_points=job_points,
        )
