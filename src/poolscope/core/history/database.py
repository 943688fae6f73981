"""The history's database: where it is, and History, which opens it (opening.py: old, corrupt,
locked, read-only), reads and prunes it. The picture is in ``poolscope.core.history``'s docstring."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from poolscope.core.history.opening import open_database
from poolscope.core.history.rows import _JOB_COLUMNS, Failure, JobRow, Slice, _job_row

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
    """When process ``pid`` started (as psutil's create_time says it), None if there is none.

    On Linux read from /proc as psutil reads it: importing psutil cost ``poolscope run`` 40 ms of
    CPU on the recorder's thread, beside its job.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            ticks = int(stream.read().rsplit(b")", 1)[1].split()[19])  # field 22, starttime
        with open("/proc/stat", "rb") as stream:
            boot = next(int(line.split()[1]) for line in stream if line.startswith(b"btime "))
        return ticks / os.sysconf("SC_CLK_TCK") + boot
    except (OSError, ValueError, IndexError, StopIteration):
        if os.path.isdir("/proc/self"):
            return None  # no such process
    import psutil  # elsewhere

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


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
        opened = open_database(self.directory, self.path, lock_seconds, self.say)
        self._conn, self.path, self.writable = opened.conn, opened.path, opened.writable
        if self.writable:
            self.mark_interrupted()

    # -- opening (core/history/opening.py: old, corrupt, locked, read-only) ---------------------
    def say(self, message: str) -> None:
        self.messages.append(message)
        if self.on_message is not None:
            self.on_message(message)

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
