"""The log's words for engine events: what the window's log pane and ``poolscope run`` print.

:func:`log_line` is the one place an event becomes text; :func:`entry_matches` is what the log
pane's filters keep, and :func:`log_text` the text a log is exported as. A reader that follows one job on a
terminal (``one_job=True``: the CLI) gets its failures, notices and worker crashes, said without
the job's name (its progress line and summary say the rest); the window gets every event that
changes what the user should know, each naming its job.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from poolscope.core.backends import backend_info
from poolscope.core.events import (
    JobFinished,
    JobNotice,
    JobStateChanged,
    JobSubmitted,
    TaskFailed,
    WorkerExited,
    WorkerStarted,
)
from poolscope.core.jobs import JobState


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the log pane; ``detail`` is the full text (a remote traceback) when there is one.
    Here, with the words, so that ``poolscope run`` writes log lines without the window's views."""

    time: float  # time.time(), for display
    level: str  # "info", "warning" or "error"
    message: str
    detail: str = ""
    job_id: int | None = None


__all__ = ["LEVELS", "EventContext", "LogEntry", "entry_matches", "entry_text", "log_line", "log_text"]

#: Worker exits that are the engine's own doing: not logged.
QUIET_EXITS = ("shutdown", "recycled")
#: A log entry's levels, least severe first.
LEVELS = ("info", "warning", "error")


@dataclass(frozen=True, slots=True)
class EventContext:
    """What a reader knows around an event that the event itself does not say."""

    job_name: str | None = None  # the name of the event's job, when known
    worker_job: int | None = None  # an exiting worker: the job whose task it ran, None when idle
    worker_index: int | None = None  # ... and that task's input index
    replacement: bool = False  # a starting worker: its slot had a worker before
    forwarder: bool = False  # an exiting worker is a Dask forwarder thread (engine plumbing)


NO_CONTEXT = EventContext()


def log_line(event: object, context: EventContext = NO_CONTEXT, *, one_job: bool = False) -> LogEntry | None:
    """The log line an event makes, or None when it makes none (stamped now, ``time.time()``)."""
    if isinstance(event, TaskFailed):
        return _task_failed(event, context, one_job)
    if isinstance(event, JobNotice):
        if one_job:
            return _entry("warning", event.message, job_id=event.job_id)
        name = f" '{context.job_name}'" if context.job_name is not None else ""
        return _entry("warning", f"Job {event.job_id}{name}: {event.message}", job_id=event.job_id)
    if isinstance(event, WorkerExited):
        return _worker_exited(event, context, one_job)
    if one_job:
        return None
    if isinstance(event, JobSubmitted):
        size = f"{event.total} tasks" if event.total is not None else "unknown number of tasks"
        return _entry("info", f"Job {event.job_id} '{event.name}' submitted: {event.target} over {event.inputs} "
                              f"({size})", job_id=event.job_id)
    if isinstance(event, JobStateChanged):
        if event.state is JobState.RUNNING:
            return None
        return _entry("info", f"Job {event.job_id} {_name(event.job_id, context)} {event.state.value}",
                      job_id=event.job_id)
    if isinstance(event, WorkerStarted):
        if not context.replacement:
            return None
        noun = "Thread" if backend_info(event.backend).sampled_as == "thread" else "Worker"
        return _entry("info", f"{noun} {event.pid} started in slot {event.slot}")
    if isinstance(event, JobFinished):
        summary = event.summary
        level = "info" if summary.status is JobState.DONE else "warning"
        return _entry(level, f"Job {event.job_id} {_name(event.job_id, context)} {summary.status.value} in "
                             f"{summary.wall_seconds:.2f} s: {summary.done} done, {summary.failed} failed, "
                             f"{summary.cancelled} cancelled", job_id=event.job_id)
    return None


def _task_failed(event: TaskFailed, context: EventContext, one_job: bool) -> LogEntry:
    error = event.error
    if one_job:
        where = f"input {error.index}" if error.index >= 0 else "job"
        return _entry("error", f"{where} failed: {error.type}: {error.message}", job_id=event.job_id)
    where = f" (pid {error.pid})" if error.pid else ""
    what = f"task {error.index} failed" if error.index >= 0 else "the job could not run"  # -1: the whole job
    message = f"Job {event.job_id} {_name(event.job_id, context)}: {what}: {error.type}: {error.message}{where}"
    detail = message
    if error.input_repr:
        detail += f"\ninput: {error.input_repr}"
    if error.traceback:
        detail += "\n\n" + error.traceback.rstrip()
    return _entry("error", message, detail=detail, job_id=event.job_id)


def _worker_exited(event: WorkerExited, context: EventContext, one_job: bool) -> LogEntry | None:
    crashed = event.reason.startswith("crashed")
    if one_job:
        return _entry("warning", f"worker {event.pid} {event.reason}; a replacement is starting") if crashed else None
    if context.forwarder:
        return _entry("warning", f"Dask forwarder thread {event.pid} (slot {event.slot}) ended: {event.reason}") \
            if crashed else None
    if event.reason in QUIET_EXITS:
        return None
    code = f", exit code {event.exitcode}" if event.exitcode is not None else ""
    job = f" while running job {context.worker_job} task {context.worker_index}" \
        if context.worker_job is not None else ""
    return _entry("warning", f"Worker {event.pid} (slot {event.slot}) exited: {event.reason}{code}{job}",
                  job_id=context.worker_job)


def _name(job_id: int, context: EventContext) -> str:
    return f"'{context.job_name if context.job_name is not None else f'job {job_id}'}'"


def _entry(level: str, message: str, *, detail: str = "", job_id: int | None = None) -> LogEntry:
    return LogEntry(time=time.time(), level=level, message=message, detail=detail, job_id=job_id)


def entry_matches(entry: LogEntry, *, job_id: int | None = None, least_level: str = LEVELS[0],
                  text: str = "") -> bool:
    """Whether a filter keeps ``entry``: of job ``job_id`` (None: any), at least as severe as
    ``least_level``, and containing ``text`` (in its message or detail, any case; "": any)."""
    if job_id is not None and entry.job_id != job_id:
        return False
    if LEVELS.index(entry.level) < LEVELS.index(least_level) if entry.level in LEVELS else False:
        return False
    if text:
        folded = text.casefold()
        return folded in entry.message.casefold() or folded in entry.detail.casefold()
    return True


def entry_text(entry: LogEntry) -> str:
    """One entry as exported: its date and time, level and message, then its detail (a traceback)
    indented under it when it says more than the message."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.time))
    line = f"{stamp}  {entry.level:<7}  {entry.message}"
    detail = entry.detail.removeprefix(entry.message).strip("\n")
    if detail:
        line += "\n" + "\n".join("    " + text for text in detail.splitlines())
    return line


def log_text(entries: Iterable[LogEntry]) -> str:
    """A log as text, one entry after another (see :func:`entry_text`)."""
    return "".join(entry_text(entry) + "\n" for entry in entries)
