"""The event vocabulary: what the engine tells its consumers (the window's bridge, the CLI).

The engine puts *lists* of these on one ``multiprocessing.Queue`` (a batch every few tens of
milliseconds, never one put per event). A consumer drains the queue and folds the events into
its own view; counts are incremental (``TasksFinished`` carries how many tasks finished since the
last one for that job), so summing them gives the engine's counts exactly. Every event is a
small frozen dataclass of plain values, cheap to pickle.
"""

from __future__ import annotations

from dataclasses import dataclass

from poolscope.core.jobs import JobState, JobSummary, TaskError


@dataclass(frozen=True, slots=True)
class JobSubmitted:
    job_id: int
    name: str
    target: str
    inputs: str
    total: int | None  # None when the inputs' number is not known in advance
    time: float
    backend: str = "processes"  # where its tasks run: "processes", "threads" or "dask"


@dataclass(frozen=True, slots=True)
class JobStateChanged:
    """A job moved to a non-final state (running, cancelling, terminating)."""

    job_id: int
    state: JobState
    time: float


@dataclass(frozen=True, slots=True)
class TasksFinished:
    """Tasks of a job that finished since the last such event for it (an increment)."""

    job_id: int
    done: int
    failed: int
    cancelled: int
    time: float


@dataclass(frozen=True, slots=True)
class RunningChunk:
    """A chunk of a job's tasks that a worker runs now (part of :class:`JobProgress`)."""

    started_at: float  # time.monotonic() when the worker began it (one clock for every process of a machine)
    size: int  # tasks in the chunk
    reported: int  # of them finished and already counted in the job's TasksFinished
    task_progress: float | None  # 0..1 of the task it runs, from the task's progress() calls, if it gave a total


@dataclass(frozen=True, slots=True)
class JobProgress:
    """How a started job's work goes: what its rate and time left are estimated from
    (core/estimate.py). Sent when one of its chunks starts, reports or ends, after the
    TasksFinished that counts what those reports finished."""

    job_id: int
    started_at: float  # time.monotonic() when its first task started (not when it was submitted)
    timed_seconds: float  # worker-seconds its finished chunks took, as the workers measured them
    timed_tasks: int  # tasks in those chunks
    running: tuple[RunningChunk, ...]  # its chunks running now
    time: float  # time.monotonic() of this reading


@dataclass(frozen=True, slots=True)
class ChunkRan:
    """A worker finished a chunk of a job's tasks: inputs start..start+size-1, run from started_at
    to ended_at (time.monotonic()). One a chunk: a job's timeline (core/history/)."""

    job_id: int
    pid: int
    start: int
    size: int
    started_at: float
    ended_at: float


@dataclass(frozen=True, slots=True)
class TaskFailed:
    job_id: int
    error: TaskError  # index, exception type, message, remote traceback, pid
    time: float


@dataclass(frozen=True, slots=True)
class WorkerActivity:
    """What a worker is doing now: its job and task, or idle (job_id None)."""

    pid: int
    job_id: int | None
    index: int | None  # the input index of the task it runs
    task_progress: float | None  # 0..1 from the task's own progress() calls, when it gave a total
    tasks_done: int  # tasks this worker finished since it started
    time: float


@dataclass(frozen=True, slots=True)
class WorkerStarted:
    """A worker is up and ready to take tasks."""

    pid: int
    slot: int  # 0..workers-1: a replacement takes the slot of the worker it replaces
    time: float
    backend: str = "processes"  # "threads": pid is the slot thread's native id; "dask": a forwarder


@dataclass(frozen=True, slots=True)
class WorkerExited:
    pid: int
    slot: int
    exitcode: int | None  # negative: killed by that signal
    reason: str  # "terminated", "crashed: SIGSEGV", "timeout", "recycled", "shutdown", ...
    time: float


@dataclass(frozen=True, slots=True)
class JobNotice:
    """Something about a job the user should read (e.g. that threads cannot be killed)."""

    job_id: int
    message: str
    time: float


@dataclass(frozen=True, slots=True)
class JobFinished:
    job_id: int
    summary: JobSummary  # final counts and errors; results are not carried (see Job.results)
    time: float
    ended_at: float = 0.0  # time.monotonic() when it ended (JobProgress.started_at's clock)


Event = (
    JobSubmitted | JobStateChanged | TasksFinished | JobProgress | ChunkRan | TaskFailed | WorkerActivity
    | WorkerStarted | WorkerExited | JobNotice | JobFinished
)
