"""Recording an engine's jobs: the Recorder, subscribed to an engine, folds its events into rows on a
writer thread of its own (each job's JobLog, job_log.py) and writes them; record_engine makes one."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from poolscope.core.history.database import (
    _STOP,
    FINAL_STATES,
    FLUSH_SECONDS,
    INTERRUPTED,
    WRITE_LOCK_SECONDS,
    History,
    _describe,
    _job_serials,
    _process_started,
)
from poolscope.core.history.job_log import JobLog, fold_events
from poolscope.core.history.rows import spec_to_json

if TYPE_CHECKING:
    from poolscope.core.jobs import JobSpec


class Recorder:
    """Records the jobs of ``engine`` in ``history``, from its events, on a writer thread.

    ``source`` says who submitted them ("window", "poolscope run", "script NAME"). Each job
    submitted from now on writes its results through to its file in the history's results folder.
    If the history cannot be written, nothing is recorded (and the history's message said why).
    A failed write is said once through ``on_message`` (the history's, by default) and the job is
    untouched. ``on_job_ended(history job id)`` is called on the writer thread after a job's end
    is committed. ``close()`` (after the engine shut down) writes what is left and joins.

    ``history`` may also be a function that opens it: then it is opened on the writer thread, so
    the caller does not wait for it (a drop-in pool's creation: opening takes about 20 ms); the
    recorder listens at once, and stops listening if the history turns out not writable.
    """

    def __init__(self, history: History | Callable[[], History], engine: Any, source: str, *,
                 on_message: Callable[[str], None] | None = None,
                 on_job_ended: Callable[[int], None] | None = None) -> None:
        self._open_history: Callable[[], History] | None = None
        if isinstance(history, History):
            self.history = history
            self._results_dir = history.results_dir
            writable = history.writable
        else:  # opened by the writer thread, first thing (before it reads self.history)
            self._open_history = history
            self._results_dir = ""  # known once it is open; a job registered before then keeps no file
            writable = True
        self.engine = engine
        self.source = source
        self.on_message = on_message if on_message is not None else (
            history.say if isinstance(history, History) else _to_stderr)
        self.on_job_ended = on_job_ended
        self.owns_history = False  # close() closes the history too (record_engine's)
        self.failed_writes = 0  # transactions that could not be written (each dropped)
        self.write_error: str | None = None  # why the last one could not
        # Batches of events and registrations ("job", engine job id, key, spec, results path,
        # submitted at): put by the engine thread (subscribe's callback, keep_results_in's
        # where), read by the writer thread only. Unbounded, so a put never waits.
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._owner = (os.getpid(), 0.0)  # (pid, its start time): the start time read by the writer thread
        self._closed = False
        self._unsubscribe: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        if not writable:
            return
        self._thread = threading.Thread(target=self._write_loop, name="poolscope-history", daemon=True)
        self._thread.start()
        engine.keep_results_in(self._register)
        self._unsubscribe = engine.subscribe(self._queue.put)
        self._atexit = _closer(weakref.ref(self))
        import atexit

        atexit.register(self._atexit)

    @property
    def recording(self) -> bool:
        return self._thread is not None

    def _register(self, job_id: int, spec: JobSpec) -> str | None:
        """Called by ``Engine.submit`` (under its lock): the path of the job's results file; None
        for a job that keeps no results (a drop-in pool's: they go to its caller as they come)."""
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec.name)[:40] or "job"
        key = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(_job_serials)}-{name}"
        folder = self._results_dir
        path = os.path.join(folder, f"{key}.results") if spec.keep_results and folder else None
        self._queue.put(("job", job_id, key, spec, path, time.time()))
        return path

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop recording: write what is queued, mark the jobs that never ended as interrupted."""
        if self._closed:
            return
        self._closed = True
        import atexit

        if self._thread is None:
            if self.owns_history:
                self.history.close()
            return
        atexit.unregister(self._atexit)
        self.engine.keep_results_in(None)
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._queue.put(_STOP)
        self._thread.join(timeout)
        opened: History | None = getattr(self, "history", None)  # None: the writer never got to open it
        if self.owns_history and opened is not None:
            opened.close()

    # -- the writer thread --------------------------------------------------------------------
    def _write_loop(self) -> None:
        # which process records: a job left unfinished by a process that is gone reads interrupted
        # (read here: it imports psutil, tens of ms a caller need not wait for)
        self._owner = (self._owner[0], _process_started(self._owner[0]) or time.time())
        if self._open_history is not None:
            self.history = self._open_history()
            if not self.history.writable:  # it said why: listen no more, and drop what came meanwhile
                self.engine.keep_results_in(None)
                if self._unsubscribe is not None:
                    self._unsubscribe()
                return
            self._results_dir = self.history.results_dir
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(self.history.path, timeout=WRITE_LOCK_SECONDS, isolation_level=None)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            self._failed(exc)
        jobs: dict[int, JobLog] = {}  # engine job id -> its log
        pending: list[tuple[Any, ...]] = []  # registrations not yet inserted
        ended: list[JobLog] = []  # jobs whose end is not yet written
        offset = time.time() - time.monotonic()  # to turn the engine's monotonic times into time.time()
        last_flush = time.monotonic()
        stopping = False
        failing = False  # the last write failed: the next is tried FLUSH_SECONDS later
        while not stopping:
            waiting = pending or any(log.dirty or log.failures or log.slices for log in jobs.values())
            try:  # with nothing to write, the thread sleeps until the next batch
                item = self._queue.get(timeout=FLUSH_SECONDS if waiting else None)
            except queue.Empty:
                item = None
            items = [] if item is None else [item]
            while True:  # everything queued now, then one transaction
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for item in items:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, tuple):
                    pending.append(item)
                    jobs[item[1]] = JobLog(-1, item[5])
                else:
                    fold_events(item, jobs, offset, ended)
            due = time.monotonic() - last_flush >= FLUSH_SECONDS
            if stopping or due or ((pending or ended) and not failing):  # after a failure, a retry a second
                if stopping:
                    for log in jobs.values():
                        if log.finished is None and log.state not in FINAL_STATES:
                            log.state, log.dirty = INTERRUPTED, True
                            ended.append(log)
                written = True
                if conn is not None and (pending or any(log.dirty or log.failures or log.slices
                                                        for log in jobs.values())):
                    written = self._flush(conn, pending, jobs)
                last_flush = time.monotonic()
                failing = not written
                if not written:
                    continue  # the ended jobs stay until their end is written
                for log in ended:
                    for job_id in [job_id for job_id, other in jobs.items() if other is log]:
                        del jobs[job_id]
                    if self.on_job_ended is not None and log.row > 0:
                        with contextlib.suppress(Exception):
                            self.on_job_ended(log.row)
                ended.clear()
        if conn is not None:
            conn.close()

    def _flush(self, conn: sqlite3.Connection, pending: list[tuple[Any, ...]], jobs: dict[int, JobLog]) -> bool:
        """One transaction: new jobs inserted, changed ones updated, their failures and slices added.
        If it fails, it is rolled back and said once; what it held is kept and written at the next
        try when the cause may pass (a lock held too long, a full disk: an OperationalError), and
        dropped when it cannot (a constraint). Returns whether it was written."""
        now = time.time()
        inserted: list[tuple[JobLog, int]] = []  # rows are the jobs' once the transaction commits
        try:
            conn.execute("BEGIN IMMEDIATE")
            for _, job_id, key, spec, path, submitted in pending:
                cursor = conn.execute(
                    "INSERT INTO jobs (key, name, target, inputs, spec, source, backend, owner_pid, owner_started,"
                    " submitted, updated, state, total, results_path) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (key, spec.name, spec.target.text, spec.inputs.text, json.dumps(spec_to_json(spec)),
                     self.source, spec.backend, self._owner[0], self._owner[1], submitted, now, "pending",
                     spec.inputs.total, path))
                inserted.append((jobs[job_id], int(cursor.lastrowid or 0)))
            rows = {id(log): row for log, row in inserted}
            for log in jobs.values():
                row = rows.get(id(log), log.row)
                if not (log.dirty or log.failures or log.slices) or row <= 0:
                    continue
                conn.execute(
                    "UPDATE jobs SET state=?, total=?, done=?, failed=?, cancelled=?, first_task=?, finished=?,"
                    " workers=coalesce(?, workers), errors_omitted=?, throughput=?, notices=?, updated=?,"
                    " timeline_dropped=? WHERE id=?",
                    (log.state, log.total, log.done, log.failed, log.cancelled, log.first_task, log.finished,
                     log.workers, json.dumps(log.errors_omitted), log.throughput.to_json(), json.dumps(log.notices),
                     now, log.slices_dropped, row))
                if log.failures:
                    conn.executemany("INSERT INTO failures (job, idx, type, message, traceback, pid, input) "
                                     "VALUES (?,?,?,?,?,?,?)", [(row, *failure) for failure in log.failures])
                if log.slices:
                    conn.executemany("INSERT INTO timeline (job, pid, start, end, first_index, last_index) "
                                     "VALUES (?,?,?,?,?,?)", [(row, *piece) for piece in log.slices])
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._failed(exc)
            if not isinstance(exc, sqlite3.OperationalError):  # it would fail again: dropped
                for log in jobs.values():
                    log.failures.clear()
                    log.slices.clear()
                pending.clear()  # those jobs go unrecorded (their results files stay)
            return False
        for log, row in inserted:
            log.row = row
        pending.clear()
        for log in jobs.values():
            log.failures.clear()
            log.slices.clear()
            log.dirty = False
        if self.write_error is not None:
            self.on_message(f"job history: writing to {self.history.path} works again")
            self.write_error = None
        return True

    def _failed(self, exc: BaseException) -> None:
        self.failed_writes += 1
        reason = _describe(exc)
        if self.write_error is None:  # said once: a full disk must not flood the log
            self.on_message(f"job history: could not write to {self.history.path} ({reason}); the jobs run on, "
                            "their history is incomplete")
        self.write_error = reason


def _closer(recorder: weakref.ref[Recorder]) -> Callable[[], None]:
    def close_at_exit() -> None:
        alive = recorder()
        if alive is not None:
            alive.close(timeout=5.0)

    return close_at_exit


#: How a drop-in pool's jobs are recorded: "script NAME (pid N)" (see script_source).
SCRIPT_SOURCE_PREFIX = "script "


def script_source(script: str, pid: int) -> str:
    """The source a script's pool records its jobs under."""
    return f"{SCRIPT_SOURCE_PREFIX}{script} (pid {pid})"


def record_engine(engine: Any, source: str, *, directory: str | None = None,
                  on_message: Callable[[str], None] | None = None, in_background: bool = False) -> Recorder:
    """Record ``engine``'s jobs in the history of ``directory`` (default :func:`data_dir`).
    Messages (a history moved aside, a failed write) go to ``on_message``, else to stderr.
    ``in_background``: open the history on the recorder's thread (see :class:`Recorder`)."""
    tell = on_message if on_message is not None else _to_stderr

    def open_history() -> History:
        return History(directory, on_message=tell)

    if in_background:
        recorder = Recorder(open_history, engine, source, on_message=tell)
    else:
        recorder = Recorder(open_history(), engine, source)  # its messages go through the history's say()
    recorder.owns_history = True
    return recorder


def _to_stderr(message: str) -> None:
    sys.stderr.write(f"poolscope: {message}\n")

