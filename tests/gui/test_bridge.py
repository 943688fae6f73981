"""The event bridge: coalesced, bounded signals and exact counts, whatever the event rate."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time

import pytest

from poolscope.core.events import (
    JobFinished,
    JobNotice,
    JobStateChanged,
    JobSubmitted,
    TaskFailed,
    TasksFinished,
    WorkerActivity,
    WorkerExited,
    WorkerStarted,
)
from poolscope.core.jobs import JobState, JobSummary, TaskError
from poolscope.gui.bridge import FRAME_INTERVAL, STOP_BRIDGE, EventBridge
from poolscope.monitor.folder import RATE_WINDOW, EventFolder

JOBS = 4
FLOOD_EVENTS = 200_000
BATCH = 100


def flood_batches(jobs: int = JOBS, events: int = FLOOD_EVENTS, batch: int = BATCH) -> tuple[list[list], dict]:
    """Synthetic event lists as the engine would send them, and the counts they must add up to."""
    now = time.time()
    expected = {job: [0, 0, 0] for job in range(1, jobs + 1)}
    batches: list[list] = [[JobSubmitted(job, f"job{job}", "noop", "range:0:1000000", None, now)
                            for job in range(1, jobs + 1)]]
    current: list = []
    produced = jobs
    i = 0
    while produced < events - jobs:
        job = i % jobs + 1
        if i % 10 == 0:
            current.append(WorkerActivity(1000 + i % 2, job, i, 0.5, i, now))
        else:
            done, failed, cancelled = 1 + i % 3, (1 if i % 97 == 0 else 0), (1 if i % 89 == 0 else 0)
            expected[job][0] += done
            expected[job][1] += failed
            expected[job][2] += cancelled
            current.append(TasksFinished(job, done, failed, cancelled, now))
        produced += 1
        i += 1
        if len(current) == batch:
            batches.append(current)
            current = []
    tail = current
    for job in range(1, jobs + 1):
        done, failed, cancelled = expected[job]
        summary = JobSummary(job, f"job{job}", "noop", "range", JobState.DONE, done + failed + cancelled,
                             done, failed, cancelled, 1.0, 2)
        tail.append(JobFinished(job, summary, now))
    batches.append(tail)
    assert sum(len(b) for b in batches) == events
    return batches, expected


class Collector:
    """Takes every update on the GUI thread, as the window does, and keeps the latest job views."""

    def __init__(self, bridge: EventBridge) -> None:
        self.bridge = bridge
        self.jobs: dict = {}
        self.workers: dict = {}
        self.log: list = []
        self.samples: list = []
        self.updates = 0
        self.events = 0
        bridge.updates_ready.connect(self.take)

    def take(self) -> None:
        update = self.bridge.take_update()
        if update is None:
            return
        self.updates += 1
        self.events += update.events
        self.jobs.update(update.jobs)
        for pid, view in update.workers.items():
            if view.alive:
                self.workers[pid] = view
            else:
                self.workers.pop(pid, None)
        self.log.extend(update.log)
        self.samples.extend(update.samples)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["queue", "mp_queue"])
def test_flood_of_200000_events_gives_bounded_signals_and_exact_counts(qtbot, kind):
    source = queue.Queue() if kind == "queue" else multiprocessing.get_context("spawn").Queue()
    batches, expected = flood_batches()
    bridge = EventBridge(source, telemetry_interval=None)
    collector = Collector(bridge)
    start = time.monotonic()
    bridge.start()

    def produce() -> None:  # as fast as the queue takes them, from another thread, like the engine
        for batch in batches:
            source.put(batch)

    producer = threading.Thread(target=produce)
    producer.start()
    qtbot.waitUntil(lambda: collector.events == FLOOD_EVENTS, timeout=30_000)
    producer.join()
    elapsed = time.monotonic() - start
    assert bridge.stop()
    collector.take()

    # bounded: about one signal per frame, never one per event or per batch
    assert bridge.signals_emitted == collector.updates
    assert collector.updates <= elapsed / FRAME_INTERVAL + 3, (collector.updates, elapsed)
    assert collector.updates < len(batches) / 5
    # exact: the folded counts equal the events' sums
    for job, (done, failed, cancelled) in expected.items():
        view = collector.jobs[job]
        assert (view.done, view.failed, view.cancelled) == (done, failed, cancelled)
        assert view.state is JobState.DONE
        assert view.fraction == done / view.total  # tasks done: failed and cancelled ones are not progress
    assert not bridge.isRunning()
    if kind == "mp_queue":
        source.close()
        source.join_thread()


@pytest.mark.timeout(30)
def test_an_update_not_taken_absorbs_later_ones(qtbot):
    """While the GUI thread is busy, the bridge queues one signal and merges into that update."""
    source: queue.Queue = queue.Queue()
    bridge = EventBridge(source, telemetry_interval=None)
    emitted = []
    bridge.updates_ready.connect(lambda: emitted.append(1))
    bridge.start()
    source.put([JobSubmitted(1, "a", "noop", "range:10", 10, 0.0)])
    deadline = time.monotonic() + 5
    while bridge.signals_emitted == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # no event loop runs: the signal stays queued, the update untaken
    for _ in range(10):
        source.put([TasksFinished(1, 1, 0, 0, 0.0)])
        time.sleep(0.05)
    assert bridge.stop()
    assert bridge.signals_emitted == 1
    update = bridge.take_update()
    assert update is not None and update.jobs[1].done == 10 and update.events == 11
    qtbot.wait(10)  # deliver the queued signal
    assert len(emitted) == 1


class CountingQueue(queue.Queue):
    """A queue that counts the bridge's reads: each loop of the bridge calls get() once."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, block: bool = True, timeout: float | None = None):  # type: ignore[override]
        self.gets += 1
        return super().get(block, timeout)


@pytest.mark.timeout(30)
def test_the_bridge_does_not_spin_while_the_gui_has_not_taken_the_last_update(qtbot):
    """With an update waiting and more changes folded, the bridge waits about a frame between
    attempts to hand over; it used to call get(timeout=0) in a loop (about 100,000 times a second)."""
    source = CountingQueue()
    bridge = EventBridge(source, telemetry_interval=None)  # nothing takes its updates
    bridge.start()
    source.put([JobSubmitted(1, "a", "noop", "range:10", 10, 0.0)])
    deadline = time.monotonic() + 5
    while bridge.signals_emitted == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert bridge.signals_emitted == 1
    source.put([TasksFinished(1, 1, 0, 0, 0.0)])  # folded, and held: the GUI has not taken update 1
    while source.qsize() and time.monotonic() < deadline:
        time.sleep(0.01)
    gets_before, start = source.gets, time.monotonic()
    time.sleep(0.5)
    gets, elapsed = source.gets - gets_before, time.monotonic() - start
    assert bridge.stop()
    assert bridge.signals_emitted == 1
    # about one read per frame (plus the 0.1 s idle wake-ups); a spin gives thousands
    frames = elapsed / FRAME_INTERVAL
    assert gets < 10 * frames + 20, (gets, elapsed)
    update = bridge.take_update()
    assert update is not None and update.jobs[1].done == 1


@pytest.mark.timeout(30)
def test_stop_folds_what_came_before_the_sentinel_and_ends_the_thread(qtbot):
    source: queue.Queue = queue.Queue()
    bridge = EventBridge(source, telemetry_interval=None)
    collector = Collector(bridge)
    with qtbot.waitSignal(bridge.started, timeout=5000):
        bridge.start()
    source.put([JobSubmitted(7, "seven", "noop", "range:3", 3, 0.0), TasksFinished(7, 3, 0, 0, 0.0)])
    with qtbot.waitSignal(bridge.stopped, timeout=5000):
        assert bridge.stop()
    collector.take()
    assert collector.jobs[7].done == 3
    assert bridge.isFinished()
    # the sentinel is a named constant that survives pickling (it crosses a multiprocessing queue)
    import pickle

    assert pickle.loads(pickle.dumps(STOP_BRIDGE)) == STOP_BRIDGE


@pytest.mark.timeout(30)
def test_bridge_samples_telemetry(qtbot):
    source: queue.Queue = queue.Queue()
    bridge = EventBridge(source, telemetry_interval=0.05)
    collector = Collector(bridge)
    bridge.start()
    import os

    source.put([WorkerStarted(os.getpid(), 0, 0.0)])  # our own process stands in for a worker
    qtbot.waitUntil(lambda: len(collector.samples) >= 3 and os.getpid() in collector.workers, timeout=5000)
    assert bridge.stop()
    sample = collector.samples[-1]
    import psutil

    assert sample.cpu.shape == (psutil.cpu_count(logical=True),)
    qtbot.waitUntil(lambda: collector.workers[os.getpid()].rss > 0 or bool(collector.take()), timeout=2000)


def test_folder_tracks_jobs_workers_and_failures():
    folder = EventFolder()
    error = TaskError(index=5, type="ValueError", message="bad input 5",
                      traceback="Traceback...\nValueError: bad input 5", pid=42, input_repr="5")
    folder.fold([
        WorkerStarted(42, 0, 0.0),
        WorkerStarted(43, 1, 0.0),
        JobSubmitted(1, "primes", "primes", "range:0:10", 10, 0.0),
        JobStateChanged(1, JobState.RUNNING, 0.0),
        WorkerActivity(42, 1, 5, 0.25, 3, 0.0),
        TasksFinished(1, 4, 1, 0, 0.0),
        TaskFailed(1, error, 0.0),
        WorkerExited(43, 1, -9, "crashed: SIGKILL", 0.0),
        WorkerStarted(44, 1, 0.0),
    ])
    update = folder.take_changes()
    job = update.jobs[1]
    assert (job.state, job.done, job.failed, job.total) == (JobState.RUNNING, 4, 1, 10)
    assert job.fraction == 0.4  # done only: a failed task is not progress
    assert update.workers[42].busy and update.workers[42].index == 5
    assert update.workers[43].alive is False
    assert update.workers[44].slot == 1
    failure = [entry for entry in update.log if entry.level == "error"]
    assert len(failure) == 1 and failure[0].job_id == 1
    assert "ValueError: bad input 5" in failure[0].detail and "Traceback" in failure[0].detail
    assert any("SIGKILL" in entry.message for entry in update.log)
    assert any("started in slot 1" in entry.message for entry in update.log)
    assert not folder.has_changes
    assert folder.take_changes().jobs == {}


def test_a_job_that_could_not_run_is_logged_as_the_job_not_as_a_task():
    folder = EventFolder()
    error = TaskError(index=-1, type="WorkerStartError", message="worker could not start: RuntimeError: no model",
                      traceback="")
    folder.fold([JobSubmitted(1, "square", "square", "range:0:5", 5, 0.0), TaskFailed(1, error, 0.0)])
    [entry] = [entry for entry in folder.take_changes().log if entry.level == "error"]
    assert entry.message == ("Job 1 'square': the job could not run: WorkerStartError: worker could not start: "
                             "RuntimeError: no model")


def dask_worker(address: str, *, cpu: float = 50.0, memory: int = 80 << 20, executing: int = 1) -> dict:
    """A worker as engine.backend_workers() describes it (core/backends/dask.py describe_workers)."""
    return {"address": address, "name": address[-1], "host": "127.0.0.1", "pid": 1000 + int(address[-1]),
            "nthreads": 1, "cpu_percent": cpu, "memory_bytes": memory, "memory_limit": 4 << 30,
            "executing": executing, "ready": 0, "status": "running"}


def test_folder_tells_thread_slots_and_dask_forwarders_from_processes_and_shows_notices():
    folder = EventFolder()
    folder.fold([
        JobSubmitted(1, "spin", "spin", "range:0:9", 9, 0.0),
        WorkerStarted(42, 0, 0.0, "processes"), WorkerStarted(50, 0, 0.0, "threads"), WorkerStarted(60, 0, 0.0, "dask"),
        WorkerActivity(50, 1, 3, None, 2, 0.0), WorkerActivity(60, 1, 4, None, 1, 0.0),
        JobNotice(1, "threads cannot be killed: the job is cancelled instead", 0.0),
    ])
    folder.add_thread_cpu({50: 97.0})
    update = folder.take_changes()
    assert {pid: view.backend for pid, view in update.workers.items()} == {42: "processes", 50: "threads"}
    assert update.workers[50].busy and update.workers[50].cpu_percent == 97.0
    [notice] = update.notices
    assert notice.job_id == 1
    assert notice.message == "Job 1 'spin': threads cannot be killed: the job is cancelled instead"
    assert any(entry.message == notice.message and entry.level == "warning" for entry in update.log)
    folder.fold([WorkerExited(60, 0, 0, "shutdown", 0.0), WorkerExited(50, 0, 0, "shutdown", 0.0)])
    update = folder.take_changes()
    assert list(update.workers) == [50] and update.workers[50].alive is False  # the forwarder was never shown


def test_folder_turns_backend_readings_into_dask_worker_rows_and_cluster_samples():
    folder = EventFolder()
    folder.fold_backend_workers({"processes": []}, 1.0)  # no cluster: nothing to show
    assert not folder.has_changes
    folder.fold_backend_workers({"processes": [], "dask": [dask_worker("tcp://127.0.0.1:1"),
                                                           dask_worker("tcp://127.0.0.1:2", cpu=99.0)]}, 2.0)
    update = folder.take_changes()
    assert set(update.workers) == {"tcp://127.0.0.1:1", "tcp://127.0.0.1:2"}
    view = update.workers["tcp://127.0.0.1:2"]
    assert (view.backend, view.pid, view.cpu_percent, view.rss, view.executing, view.busy) == \
           ("dask", 1002, 99.0, 80 << 20, 1, True)
    [sample] = update.cluster
    assert sample.time == 2.0 and sample.cpu == {"tcp://127.0.0.1:1": 50.0, "tcp://127.0.0.1:2": 99.0}
    assert sample.labels["tcp://127.0.0.1:1"] == "127.0.0.1:1"
    # a worker that went away leaves the table
    folder.fold_backend_workers({"dask": [dask_worker("tcp://127.0.0.1:2", executing=0)]}, 3.0)
    update = folder.take_changes()
    assert update.workers["tcp://127.0.0.1:1"].alive is False
    assert update.workers["tcp://127.0.0.1:2"].alive and not update.workers["tcp://127.0.0.1:2"].busy


@pytest.mark.timeout(30)
def test_backend_workers_are_polled_off_the_gui_and_bridge_threads(qtbot):
    source: queue.Queue = queue.Queue()
    callers: list[str] = []

    def backend_workers() -> dict:
        callers.append(threading.current_thread().name)
        time.sleep(0.3)  # a slow scheduler must not hold up the events
        return {"dask": [dask_worker("tcp://127.0.0.1:7")]}

    bridge = EventBridge(source, telemetry_interval=None, backend_workers=backend_workers, backend_interval=0.05)
    collector = Collector(bridge)
    bridge.start()
    source.put([JobSubmitted(1, "a", "noop", "range:3", 3, 0.0)])
    qtbot.waitUntil(lambda: 1 in collector.jobs, timeout=250)  # folded while the poller waits on the scheduler
    qtbot.waitUntil(lambda: "tcp://127.0.0.1:7" in collector.workers, timeout=5000)
    assert bridge.stop()
    assert set(callers) == {"poolscope-backend-poller"}
    assert not any(thread.name == "poolscope-backend-poller" for thread in threading.enumerate())


def test_a_finished_jobs_rate_is_followed_for_one_rate_window_so_its_curve_falls_to_zero():
    folder = EventFolder()
    summary = JobSummary(job_id=1, name="noop", target="noop", inputs="range:0:10", status=JobState.DONE, total=10,
                         done=10, failed=0, cancelled=0, wall_seconds=0.5, workers=2)
    folder.fold([JobSubmitted(1, "noop", "noop", "range:0:10", 10, 0.0), TasksFinished(1, 4, 0, 0, 0.0)])
    assert folder.rated_counts(time.monotonic()) == {1: 4}
    folder.fold([JobFinished(1, summary, 0.0)])
    ended = folder.jobs[1].finished_at
    assert folder.rated_counts(ended + RATE_WINDOW / 2) == {1: 10}
    assert folder.rated_counts(ended + RATE_WINDOW) == {}


def test_a_telemetry_reading_marks_a_worker_changed_only_when_its_cpu_or_memory_changed():
    import numpy as np

    from poolscope.core.telemetry import ProcessStats, TelemetrySample

    def reading(cpu: float, rss: int) -> TelemetrySample:
        return TelemetrySample(time=1.0, cpu=np.zeros(2), total_rate=0.0, processes={42: ProcessStats(42, cpu, rss)})

    folder = EventFolder()
    folder.fold([WorkerStarted(42, 0, 0.0), WorkerStarted(43, 1, 0.0, "threads")])
    folder.take_changes()
    folder.add_sample(reading(0.0, 0))  # the first reading of an idle worker: measured now
    folder.add_thread_cpu({43: 0.0})
    assert {pid: view.cpu_percent for pid, view in folder.take_changes().workers.items()} == {42: 0.0, 43: 0.0}
    folder.add_sample(reading(0.0, 0))  # as it was
    folder.add_thread_cpu({43: 0.0})
    assert folder.take_changes().workers == {}
    folder.add_sample(reading(0.0, 4096))
    folder.add_thread_cpu({43: 12.5})
    changed = folder.take_changes().workers
    assert set(changed) == {42, 43} and changed[42].rss == 4096 and changed[43].cpu_percent == 12.5
    folder.add_sample(reading(0.0, 4096))
    folder.add_thread_cpu({43: 12.5})
    assert folder.take_changes().workers == {}


def test_a_workers_figures_enter_its_view_as_worker_stats_keeping_what_a_reading_did_not_measure():
    """One route for every backend: a process sample, a thread's CPU and a scheduler's report all
    become WorkerStats; a reading without a figure (a thread has no RSS of its own) keeps the old one."""
    import numpy as np

    from poolscope.core.telemetry import ProcessStats, TelemetrySample
    from poolscope.monitor.worker_stats import WorkerStats, cluster_stats, process_stats, thread_stats

    assert process_stats({42: ProcessStats(42, 12.5, 4096)}) == [WorkerStats(42, cpu_percent=12.5, rss=4096)]
    assert thread_stats({43: 97.0}) == [WorkerStats(43, cpu_percent=97.0)]
    [remote] = cluster_stats({"dask": [dask_worker("tcp://127.0.0.1:9")], "processes": []})
    assert (remote.key, remote.rss, remote.queued, remote.pid) == ("tcp://127.0.0.1:9", 80 << 20, 0, 1009)
    folder = EventFolder()
    folder.fold([WorkerStarted(42, 0, 0.0)])
    folder.take_changes()
    folder.add_sample(TelemetrySample(time=1.0, cpu=np.zeros(2), total_rate=0.0,
                                      processes={42: ProcessStats(42, 30.0, 4096)}))
    folder.fold_worker_stats([WorkerStats(42, cpu_percent=55.0), WorkerStats(999, cpu_percent=1.0)])  # 999: unknown
    view = folder.take_changes().workers[42]
    assert (view.cpu_percent, view.rss) == (55.0, 4096)
    folder.fold_worker_stats([WorkerStats(42, cpu_percent=55.0)])  # nothing changed: no update
    assert not folder.take_changes().workers


@pytest.mark.timeout(30)
def test_the_bridge_samples_a_worker_that_has_children(qtbot):
    """A sampled process with a child ended the bridge thread at its second reading (the child's
    CPU clock was taken for its process: AttributeError), and no sample came after."""
    import os
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    source: queue.Queue = queue.Queue()
    bridge = EventBridge(source, telemetry_interval=0.05)
    collector = Collector(bridge)
    try:
        bridge.start()
        source.put([WorkerStarted(os.getpid(), 0, 0.0)])  # our own process, with its child, stands in for a worker
        qtbot.waitUntil(lambda: len(collector.samples) >= 4 and os.getpid() in collector.workers, timeout=5000)
        assert bridge.isRunning()
    finally:
        assert bridge.stop()
        child.kill()
        child.wait()
