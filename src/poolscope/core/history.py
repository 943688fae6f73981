"""The job history: every job an engine runs, kept in SQLite in the user's data directory.

One more reader of the engine's events (``Engine.subscribe``): its callback only puts the batch on
a queue (the engine thread never waits for the disk); one writer thread per recorded engine folds
the events into per-job rows and writes them, in WAL mode, a transaction at most every
``FLUSH_SECONDS`` (at once when a job ends). Several processes may record into one database at
once (the window, ``poolscope run``, a script's pool): each row names its owner process, and a job
whose owner is gone before it ended is marked ``interrupted`` by the next one to open the history.

Results are not in the database: each job writes its results through to a file of its own in the
data directory (``results/<job key>.results``, see core/results.py ``ResultStore.write_through``),
before its tasks count as done, so a process killed mid-job leaves on disk every result it had
counted. The row says where.

The database is never silently wiped: one written by another version (``PRAGMA user_version``),
or one that is not a database, is moved aside (``history.db.old-<time>``) and a fresh one started,
with a message naming both; one locked by another process past ``LOCK_SECONDS`` is left alone and
this process records into a fresh one beside it; a read-only one is read but not written (jobs run
unrecorded, with a message). A write that fails (a full disk, a lock held too long) says so once,
keeps what it held and is tried again a second later; it never touches the job, whose engine does
not wait for the history.

Layout of the data directory (``$POOLSCOPE_DATA_DIR``, else ``$XDG_DATA_HOME/poolscope``, else
``~/.local/share/poolscope``)::

    history.db (+ -wal, -shm)   jobs, failures, timeline
    results/<key>.results       each job's results (core/results.py RESULTS_MAGIC, then frames)
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import queue
import re
import reprlib
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from poolscope.core.events import (
    ChunkRan,
    JobFinished,
    JobNotice,
    JobProgress,
    JobStateChanged,
    JobSubmitted,
    TaskFailed,
    TasksFinished,
)

if TYPE_CHECKING:
    from poolscope.core.jobs import JobSpec
    from poolscope.core.targets import Target

SCHEMA_VERSION = 1  # PRAGMA user_version of the database this module writes
DB_NAME = "history.db"
RESULTS_FOLDER = "results"
DATA_DIR_VARIABLE = "POOLSCOPE_DATA_DIR"  # overrides where the history and results are kept
SWITCH_VARIABLE = "POOLSCOPE_HISTORY"  # "off": the window and poolscope run record nothing (see recording_wanted)
LOCK_SECONDS = 2.0  # how long opening waits for a lock another process holds before starting a database beside it
WRITE_LOCK_SECONDS = 10.0  # how long a write waits for another process's lock before it fails
FLUSH_SECONDS = 1.0  # the writer commits at most this often (at once when a job ends)
THROUGHPUT_BINS = 600  # a job's throughput curve keeps at most this many bins; their width doubles to fit
THROUGHPUT_FIRST_BIN = 0.5  # seconds: the bins' width until the curve needs more than THROUGHPUT_BINS
TIMELINE_SLICES = 100_000  # a job keeps at most this many timeline slices (the rest are counted)
NOTICES_KEPT = 50  # a job's first notices kept
INTERRUPTED = "interrupted"  # the state of a job whose process ended before it did
FINAL_STATES = ("done", "failed", "cancelled", "terminated", INTERRUPTED)
DEFAULT_RETENTION_DAYS = 30.0

_STOP = object()  # the writer's queue: end of recording (after what was put before it)
# Jobs registered in this process, by every recorder: with the pid and the time, a job's unique key.
_job_serials = itertools.count(1)

_SCHEMA = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT UNIQUE NOT NULL,          -- names its results file
    name TEXT NOT NULL,
    target TEXT NOT NULL,
    inputs TEXT NOT NULL,
    spec TEXT NOT NULL,                -- JSON: every field of its JobSpec (see spec_to_json)
    source TEXT NOT NULL,              -- "window", "poolscope run", "script ...": who submitted it
    backend TEXT NOT NULL,
    workers INTEGER,
    owner_pid INTEGER NOT NULL,        -- the process that ran it, and that process's start time:
    owner_started REAL NOT NULL,       -- if it is gone and the job never ended, it was interrupted
    submitted REAL NOT NULL,           -- time.time() of each
    first_task REAL,
    finished REAL,
    updated REAL NOT NULL,
    state TEXT NOT NULL,
    total INTEGER,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    errors_omitted TEXT NOT NULL DEFAULT '{}',  -- JSON: failures past the kept ones, by type
    throughput TEXT NOT NULL DEFAULT '{}',      -- JSON: {"start", "bin" (seconds), "counts"}
    notices TEXT NOT NULL DEFAULT '[]',         -- JSON: the job's notices, as the log said them
    results_path TEXT,
    timeline_dropped INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_submitted ON jobs (submitted);
CREATE TABLE failures (
    job INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,              -- its input index (-1: the whole job's)
    type TEXT NOT NULL,
    message TEXT NOT NULL,
    traceback TEXT NOT NULL,
    pid INTEGER,
    input TEXT NOT NULL
);
CREATE INDEX failures_job ON failures (job);
CREATE TABLE timeline (               -- which worker ran which of a job's tasks, when
    job INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    pid INTEGER NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    first_index INTEGER,
    last_index INTEGER
);
CREATE INDEX timeline_job ON timeline (job);
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class HistoryError(Exception):
    """The history cannot do what was asked (no such job, a job without results)."""


def data_dir(override: str | None = None) -> str:
    """Where the history and the results files are kept (see the module's docstring)."""
    if override:
        return os.path.abspath(override)
    if os.environ.get(DATA_DIR_VARIABLE):
        return os.path.abspath(os.environ[DATA_DIR_VARIABLE])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "poolscope")


def recording_wanted() -> bool:
    """Whether the window and ``poolscope run`` record their jobs: unless $POOLSCOPE_HISTORY is "off"
    (then no results files either: results are kept as before, in memory and a temporary file)."""
    return os.environ.get(SWITCH_VARIABLE, "").strip().lower() not in ("off", "0", "no", "false")


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started (psutil's create_time), None if there is none."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _is_locked(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _is_read_only(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "readonly" in text or "read-only" in text or "unable to open" in text


# -- a job's settings as JSON, and back -----------------------------------------------------------

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 200


def _target_json(target: Target) -> dict[str, Any]:
    return {"text": target.text, "kind": target.kind, "module": target.module, "function": target.function,
            "root": target.root}


def spec_to_json(spec: JobSpec) -> dict[str, Any]:
    """Every field of ``spec`` as JSON-ready values: kwargs as JSON when they are (the window's and
    the CLI's always are), else null; their repr (cut short) either way."""
    try:
        kwargs: Any = json.loads(json.dumps(dict(spec.kwargs)))
    except (TypeError, ValueError):
        kwargs = None
    return {
        "name": spec.name, "target": _target_json(spec.target), "inputs": spec.inputs.text,
        "kwargs": kwargs, "kwargs_repr": _short.repr(dict(spec.kwargs)), "chunksize": spec.chunksize,
        "timeout": spec.timeout, "retries": spec.retries, "max_tasks_per_worker": spec.max_tasks_per_worker,
        "backend": spec.backend,
        "initializer": None if spec.initializer is None else _target_json(spec.initializer),
    }


def target_from_json(data: dict[str, Any]) -> Target:
    """The :class:`Target` a job ran (to build its results, or run it again); imports nothing."""
    from poolscope.core.targets import Target, parse_target

    if data["kind"] == "builtin":
        return parse_target(data["text"])  # with its description and defaults
    return Target(text=data["text"], kind=data["kind"], module=data["module"], function=data["function"],
                  root=data.get("root", ""))


def spec_from_json(data: dict[str, Any]) -> JobSpec:
    """A job's settings as a JobSpec again. Raises SpecError naming the field that cannot be had
    again (inputs given as Python values, keyword arguments that are not JSON). The target is taken
    as it was (not checked here: the launch panel or the workers check it)."""
    from poolscope.core.errors import SpecError
    from poolscope.core.inputs import parse_inputs
    from poolscope.core.jobs import JobSpec

    if data.get("kwargs") is None and data.get("kwargs_repr") not in (None, "{}"):
        raise SpecError("kwargs", f"were Python values, not JSON ({data.get('kwargs_repr')}): give them again")
    try:
        inputs = parse_inputs(data["inputs"])
    except SpecError:
        raise SpecError("inputs", f"were {data['inputs']}, Python values given by a script: give them again") from None
    initializer = data.get("initializer")
    return JobSpec(target=target_from_json(data["target"]), inputs=inputs, kwargs=data.get("kwargs") or {},
                   chunksize=data.get("chunksize"), timeout=data.get("timeout"), retries=data.get("retries", 0),
                   name=data.get("name", ""), max_tasks_per_worker=data.get("max_tasks_per_worker"),
                   backend=data.get("backend", "processes"),
                   initializer=None if initializer is None else target_from_json(initializer))


# -- what a reader gets ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class JobRow:
    """One past job as the history has it."""

    id: int
    key: str
    name: str
    target: str
    inputs: str
    spec: dict[str, Any]
    source: str
    backend: str
    workers: int | None
    submitted: float
    first_task: float | None
    finished: float | None
    updated: float
    state: str
    total: int | None
    done: int
    failed: int
    cancelled: int
    errors_omitted: dict[str, int]
    throughput: dict[str, Any]
    notices: list[str]
    results_path: str | None
    timeline_dropped: int

    @property
    def duration(self) -> float | None:
        """Seconds from its first task to its end (or to its last record, if interrupted)."""
        if self.first_task is None:
            return None
        end = self.finished if self.finished is not None else self.updated
        return max(0.0, end - self.first_task)

    @property
    def rate(self) -> float | None:
        """Tasks finished (done or failed) a second, over its duration."""
        duration = self.duration
        return (self.done + self.failed) / duration if duration else None

    def throughput_curve(self) -> tuple[list[float], list[float]]:
        """(edges, rates): tasks finished a second in each bin of its curve, between edges[i] and
        edges[i + 1] (seconds since it was submitted; one more edge than rates). The first and last
        bins are cut to when its tasks ran (its first task, its end), so a job shorter than a bin
        reads at its true rate."""
        counts = self.throughput.get("counts", [])
        if not counts:
            return [], []
        width = float(self.throughput.get("bin", 1.0))
        offset = float(self.throughput.get("start", self.submitted)) - self.submitted
        edges = [offset + i * width for i in range(len(counts) + 1)]
        if self.first_task is not None:
            edges[0] = min(max(edges[0], self.first_task - self.submitted), edges[1])
        end = self.finished if self.finished is not None else self.updated
        edges[-1] = max(min(edges[-1], end - self.submitted), edges[-2])
        rates = [count / (right - left) if right > left else 0.0
                 for count, (left, right) in zip(counts, itertools.pairwise(edges), strict=False)]
        return edges, rates

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["duration"] = self.duration
        return data


_JOB_COLUMNS = ", ".join(field.name for field in dataclasses.fields(JobRow))


def _job_row(values: tuple[Any, ...]) -> JobRow:
    fields = dict(zip((field.name for field in dataclasses.fields(JobRow)), values, strict=True))
    for name in ("spec", "errors_omitted", "throughput", "notices"):
        fields[name] = json.loads(fields[name])
    return JobRow(**fields)


@dataclasses.dataclass(frozen=True)
class Failure:
    index: int
    type: str
    message: str
    traceback: str
    pid: int | None
    input: str


@dataclasses.dataclass(frozen=True)
class Slice:
    """A worker ran tasks first_index..last_index of a job from start to end (time.time())."""

    pid: int
    start: float
    end: float
    first_index: int | None
    last_index: int | None


# -- the database ---------------------------------------------------------------------------------

class History:
    """The job history in ``directory`` (see :func:`data_dir`): opened, checked, and read.

    ``messages`` says what went wrong opening it (and ``on_message`` is told as it happens);
    ``writable`` whether jobs can be recorded. Reads go through one connection under a lock, so
    any thread may read. Opening marks as interrupted the jobs whose process is gone.
    """

    def __init__(self, directory: str | None = None, *, on_message: Callable[[str], None] | None = None,
                 lock_seconds: float = LOCK_SECONDS) -> None:
        self.directory = data_dir(directory)
        self.results_dir = os.path.join(self.directory, RESULTS_FOLDER)
        self.path = os.path.join(self.directory, DB_NAME)
        self.on_message = on_message
        self.messages: list[str] = []
        self.writable = True
        self.lock_seconds = lock_seconds
        self._lock = threading.Lock()  # serialises use of _conn
        self._conn = self._open()
        if self.writable:
            self.mark_interrupted()

    # -- opening: old, corrupt, locked, read-only ---------------------------------------------
    def say(self, message: str) -> None:
        self.messages.append(message)
        if self.on_message is not None:
            self.on_message(message)

    def _open(self) -> sqlite3.Connection:
        try:
            os.makedirs(self.directory, exist_ok=True)
        except OSError as exc:
            self.writable = False
            self.say(f"job history: cannot create {self.directory} ({exc.strerror}): jobs are not recorded")
            return sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        try:
            return self._connect(self.path)
        except _OtherVersion as exc:
            return self._start_afresh(f"was written by another version of poolscope (schema {exc.version}, "
                                      f"this one has {SCHEMA_VERSION})")
        except sqlite3.DatabaseError as exc:
            if _is_locked(exc):
                return self._beside_locked()
            if _is_read_only(exc):
                return self._read_only(exc)
            return self._start_afresh(f"could not be read ({exc})")

    def _connect(self, path: str) -> sqlite3.Connection:
        """Open ``path``, make it WAL, create or check its schema, take a write lock once."""
        conn = sqlite3.connect(path, timeout=self.lock_seconds, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version != SCHEMA_VERSION and (version or tables):
                raise _OtherVersion(version)
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise sqlite3.OperationalError("database is locked (could not switch to WAL)")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")  # a write lock, as the writer will need: locked or read-only says so now
            if not conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:  # another may have made it
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("SELECT count(*) FROM jobs").fetchone()
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    def _start_afresh(self, why: str) -> sqlite3.Connection:
        kept = f"{self.path}.old-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.path + suffix):
                    os.replace(self.path + suffix, kept + suffix)
            conn = self._connect(self.path)
        except (OSError, sqlite3.Error) as exc:
            self.writable = False
            self.say(f"job history: {self.path} {why}, and a new one could not be started ({exc}): "
                     "jobs are not recorded")
            return sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.say(f"job history: {self.path} {why}; it was kept as {kept} and a new history started")
        return conn

    def _beside_locked(self) -> sqlite3.Connection:
        locked = self.path
        self.path = os.path.join(self.directory, f"history-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.db")
        try:
            conn = self._connect(self.path)
        except (OSError, sqlite3.Error) as exc:
            self.writable = False
            self.say(f"job history: {locked} is locked by another process and no history could be started "
                     f"beside it ({exc}): jobs are not recorded")
            return sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.say(f"job history: {locked} is locked by another process (waited {self.lock_seconds:g} s); "
                 f"this session records into {self.path}")
        return conn

    def _read_only(self, exc: sqlite3.Error) -> sqlite3.Connection:
        self.writable = False
        self.say(f"job history: {self.path} cannot be written ({exc}): it is shown, but jobs are not recorded")
        for mode in ("mode=ro", "mode=ro&immutable=1"):  # immutable: WAL's index file cannot be made either
            try:
                conn = sqlite3.connect(f"file:{self.path}?{mode}", uri=True, check_same_thread=False,
                                       isolation_level=None)
                conn.execute("SELECT count(*) FROM jobs").fetchone()
                return conn
            except sqlite3.Error:
                continue
        return sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- reading ------------------------------------------------------------------------------
    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, parameters).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):  # an unreadable history, shown as empty
                    return []
                raise

    def jobs(self, *, limit: int | None = None, state: str | None = None, text: str | None = None) -> list[JobRow]:
        """Past jobs, newest first; ``state`` and ``text`` (in name, target or inputs) filter."""
        where, parameters = [], []
        if state:
            where.append("state = ?")
            parameters.append(state)
        if text:
            where.append("(name LIKE ? OR target LIKE ? OR inputs LIKE ? OR source LIKE ?)")
            parameters.extend([f"%{text}%"] * 4)
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_job_row(values) for values in self._query(sql, tuple(parameters))]

    def job(self, job_id: int) -> JobRow:
        """The job ``job_id``; HistoryError if there is none."""
        found = self._query(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        if not found:
            raise HistoryError(f"no job {job_id} in the history ({self.path})")
        return _job_row(found[0])

    def failures(self, job_id: int) -> list[Failure]:
        return [Failure(*values) for values in self._query(
            "SELECT idx, type, message, traceback, pid, input FROM failures WHERE job = ? ORDER BY rowid", (job_id,))]

    def failure_groups(self, job_id: int) -> list[tuple[str, int, str]]:
        """(exception type, count, first message) of a job's failures, the most frequent first;
        those past the kept ones (errors_omitted) counted in."""
        groups: dict[str, list[Any]] = {}
        for type_name, count, message in self._query(
                "SELECT type, count(*), min(message) FROM failures WHERE job = ? GROUP BY type", (job_id,)):
            groups[type_name] = [count, message]
        for type_name, count in self.job(job_id).errors_omitted.items():
            groups.setdefault(type_name, [0, ""])[0] += count
        return sorted(((name, count, message) for name, (count, message) in groups.items()),
                      key=lambda group: (-group[1], group[0]))

    def timeline(self, job_id: int) -> list[Slice]:
        return [Slice(*values) for values in self._query(
            "SELECT pid, start, end, first_index, last_index FROM timeline WHERE job = ? ORDER BY start", (job_id,))]

    def space_used(self) -> int:
        """Bytes the history and its results files take on disk."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                total += os.path.getsize(self.path + suffix)
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.results_dir):
                with contextlib.suppress(OSError):
                    total += entry.stat().st_size
        return total

    # -- settings and housekeeping ------------------------------------------------------------
    @property
    def retention_days(self) -> float | None:
        """Days a finished job is kept (pruned when a window opens); None: for ever."""
        found = self._query("SELECT value FROM settings WHERE name = 'retention_days'")
        if not found:
            return DEFAULT_RETENTION_DAYS
        value = json.loads(found[0][0])
        return None if value is None else float(value)

    def set_retention_days(self, days: float | None) -> None:
        if days is not None and not (days >= 0):
            raise ValueError(f"retention days must be 0 or more, not {days}")
        self._write("INSERT OR REPLACE INTO settings (name, value) VALUES ('retention_days', ?)",
                    (json.dumps(days),))

    def _write(self, sql: str, parameters: tuple[Any, ...] = ()) -> None:
        if not self.writable:
            raise HistoryError(f"the history at {self.path} cannot be written")
        with self._lock:
            self._conn.execute(sql, parameters)

    def prune(self, days: float) -> tuple[int, int]:
        """Remove the ended jobs submitted more than ``days`` ago, and their results files.
        Returns (jobs removed, bytes of results files removed)."""
        if not self.writable:
            raise HistoryError(f"the history at {self.path} cannot be written")
        cutoff = time.time() - days * 86400.0
        marks = ",".join("?" * len(FINAL_STATES))
        with self._lock:
            old = self._conn.execute(f"SELECT id, results_path FROM jobs WHERE submitted < ? AND state IN ({marks})",
                                     (cutoff, *FINAL_STATES)).fetchall()
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("DELETE FROM jobs WHERE id = ?", [(job_id,) for job_id, _ in old])
            self._conn.execute("COMMIT")
        paths = [path for _, path in old if path]
        # results files no job names (their job's row was never written: a full disk), as old
        known = {path for (path,) in self._query("SELECT results_path FROM jobs")}
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.results_dir):
                if entry.path not in known and entry.name.endswith(".results") and entry.stat().st_mtime < cutoff:
                    paths.append(entry.path)
        freed = 0
        for path in paths:
            with contextlib.suppress(OSError):
                size = os.path.getsize(path)
                os.remove(path)
                freed += size
        return len(old), freed

    def mark_interrupted(self) -> int:
        """Mark as interrupted every unended job whose process is gone; return how many. Its done
        count becomes what its results file holds, if that is more than the last record said."""
        from poolscope.core.results import count_file_results

        marks = ",".join("?" * len(FINAL_STATES))
        found = self._query(f"SELECT id, owner_pid, owner_started, results_path, done FROM jobs "
                            f"WHERE state NOT IN ({marks})", FINAL_STATES)
        changed = 0
        for job_id, pid, started, path, _done in found:
            alive = _process_started(pid)
            if alive is not None and abs(alive - started) < 1.0:
                continue  # its process still runs it
            on_file = 0
            if path:
                with contextlib.suppress(Exception):  # an unreadable file: the last record stands
                    on_file = count_file_results(path)
            with contextlib.suppress(sqlite3.Error, HistoryError):
                self._write("UPDATE jobs SET state = ?, done = max(done, ?) WHERE id = ?",
                            (INTERRUPTED, on_file, job_id))
                changed += 1
        return changed


class _OtherVersion(Exception):
    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


# -- recording an engine's jobs -------------------------------------------------------------------

class _Throughput:
    """A job's finished tasks per time bin, at most THROUGHPUT_BINS bins: when a task would fall
    past the last, bins are merged in pairs (their width doubles)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.width = THROUGHPUT_FIRST_BIN
        self.counts: list[int] = []

    def add(self, at: float, count: int) -> None:
        position = max(0, int((at - self.start) / self.width))
        while position >= THROUGHPUT_BINS:
            self.counts = [sum(self.counts[i:i + 2]) for i in range(0, len(self.counts), 2)]
            self.width *= 2
            position = max(0, int((at - self.start) / self.width))
        if position >= len(self.counts):
            self.counts.extend([0] * (position + 1 - len(self.counts)))
        self.counts[position] += count

    def to_json(self) -> str:
        return json.dumps({"start": self.start, "bin": self.width, "counts": self.counts})


class _JobLog:
    """What the writer knows of one recorded job between writes."""

    def __init__(self, row: int, submitted: float) -> None:
        self.row = row
        self.state = "pending"
        self.total: int | None = None
        self.done = self.failed = self.cancelled = 0
        self.first_task: float | None = None
        self.finished: float | None = None
        self.workers: int | None = None
        self.errors_omitted: dict[str, int] = {}
        self.throughput = _Throughput(submitted)
        self.notices: list[str] = []
        self.failures: list[tuple[Any, ...]] = []  # rows to insert
        self.slices: list[tuple[Any, ...]] = []  # rows to insert
        self.slice_count = 0
        self.slices_dropped = 0
        self.dirty = True


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
        jobs: dict[int, _JobLog] = {}  # engine job id -> its log
        pending: list[tuple[Any, ...]] = []  # registrations not yet inserted
        ended: list[_JobLog] = []  # jobs whose end is not yet written
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
                    jobs[item[1]] = _JobLog(-1, item[5])
                else:
                    self._fold(item, jobs, offset, ended)
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

    def _fold(self, batch: list[Any], jobs: dict[int, _JobLog], offset: float, ended: list[_JobLog]) -> None:
        for event in batch:
            log = jobs.get(getattr(event, "job_id", None))  # type: ignore[arg-type]
            if isinstance(event, TasksFinished) and log is not None:
                log.done += event.done
                log.failed += event.failed
                log.cancelled += event.cancelled
                if event.done or event.failed:
                    log.throughput.add(event.time, event.done + event.failed)
                log.dirty = True
            elif log is None:
                continue
            elif isinstance(event, ChunkRan):
                if log.slice_count >= TIMELINE_SLICES:
                    log.slices_dropped += 1
                else:
                    log.slice_count += 1
                    log.slices.append((event.pid, event.started_at + offset, event.ended_at + offset, event.start,
                                       event.start + event.size - 1))
            elif isinstance(event, JobProgress):
                if log.first_task is None:
                    log.first_task = event.started_at + offset
                    log.dirty = True
            elif isinstance(event, JobSubmitted):
                log.total = event.total
                log.dirty = True
            elif isinstance(event, JobStateChanged):
                log.state = event.state.value
                log.dirty = True
            elif isinstance(event, TaskFailed):
                error = event.error
                log.failures.append((error.index, error.type, error.message, error.traceback, error.pid,
                                     error.input_repr))
            elif isinstance(event, JobNotice):
                if len(log.notices) < NOTICES_KEPT:
                    log.notices.append(event.message)
                    log.dirty = True
            elif isinstance(event, JobFinished):
                summary = event.summary
                log.state = summary.status.value
                log.done, log.failed, log.cancelled = summary.done, summary.failed, summary.cancelled
                log.total = summary.total
                log.workers = summary.workers
                log.errors_omitted = dict(summary.errors_omitted)
                log.finished = event.time
                if log.first_task is None and summary.done + summary.failed:
                    log.first_task = event.time - summary.wall_seconds
                log.dirty = True
                ended.append(log)

    def _flush(self, conn: sqlite3.Connection, pending: list[tuple[Any, ...]], jobs: dict[int, _JobLog]) -> bool:
        """One transaction: new jobs inserted, changed ones updated, their failures and slices added.
        If it fails, it is rolled back and said once; what it held is kept and written at the next
        try when the cause may pass (a lock held too long, a full disk: an OperationalError), and
        dropped when it cannot (a constraint). Returns whether it was written."""
        now = time.time()
        inserted: list[tuple[_JobLog, int]] = []  # rows are the jobs' once the transaction commits
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
