"""Opening the history's database whatever state it is in: its schema created or checked, one of
another version or unreadable moved aside for a new one, one locked by another process left for a
new one beside it, one read-only opened to read; each said through ``say``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from typing import NamedTuple

SCHEMA_VERSION = 1  # PRAGMA user_version of the database this module writes

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


class Opened(NamedTuple):
    """A history's database as opened."""

    conn: sqlite3.Connection
    path: str  # where it is: beside a locked one, a new file
    writable: bool  # whether jobs can be recorded in it


def open_database(directory: str, path: str, lock_seconds: float, say: Callable[[str], None]) -> Opened:
    """The database at ``path`` in ``directory``, opened whatever state it is in (see the module's
    docstring); waits up to ``lock_seconds`` for another process's lock."""
    opener = _Opener(directory, path, lock_seconds, say)
    conn = opener.open()
    return Opened(conn, opener.path, opener.writable)


class _Opener:
    """One opening: the path it settles on (beside a locked one, a new file), whether it can write."""

    def __init__(self, directory: str, path: str, lock_seconds: float, say: Callable[[str], None]) -> None:
        self.directory = directory
        self.path = path
        self.lock_seconds = lock_seconds
        self.say = say
        self.writable = True

    def open(self) -> sqlite3.Connection:
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


class _OtherVersion(Exception):
    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


def _is_locked(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _is_read_only(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "readonly" in text or "read-only" in text or "unable to open" in text
