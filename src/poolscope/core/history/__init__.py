"""The job history: every job an engine runs, kept in SQLite in the user's data directory.

One more reader of the engine's events (``Engine.subscribe``): its callback only puts the batch on
a queue (the engine thread never waits for the disk); one writer thread per recorded engine folds
the events into per-job rows and writes them, in WAL mode, a transaction at most every
``FLUSH_SECONDS`` (at once when a job ends). Several processes may record into one database at
once (the window, ``poolscope run``, a script's pool): each row names its owner process, and a job
whose owner is gone before it ended is marked ``interrupted`` by the next one to open the history.

Results are not in the database: each job writes its results through to a file of its own in the
data directory (``results/<job key>.results``, see core/results/store.py ``ResultStore.write_through``),
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
    results/<key>.results       each job's results (core/results/store.py RESULTS_MAGIC, then frames)

Its parts: ``database.py`` (the database and History: where, read, prune), ``opening.py`` (opened
whatever state it is in: its schema, old, corrupt, locked, read-only), ``rows.py``
(a job's settings as JSON, and what a reader gets), ``recorder.py`` (an engine's jobs recorded:
the writer thread), ``job_log.py`` (what it knows of a job between writes, from the events).
"""

from __future__ import annotations

from poolscope.core.history.database import (
    DATA_DIR_VARIABLE,
    FINAL_STATES,
    INTERRUPTED,
    SWITCH_VARIABLE,
    History,
    HistoryError,
    data_dir,
    recording_wanted,
)
from poolscope.core.history.opening import SCHEMA_VERSION
from poolscope.core.history.recorder import (
    SCRIPT_SOURCE_PREFIX,
    Recorder,
    record_engine,
    script_source,
)
from poolscope.core.history.rows import Failure, JobRow, Slice, spec_from_json, spec_to_json, target_from_json

__all__ = [
    "DATA_DIR_VARIABLE",
    "FINAL_STATES",
    "INTERRUPTED",
    "SCHEMA_VERSION",
    "SCRIPT_SOURCE_PREFIX",
    "SWITCH_VARIABLE",
    "Failure",
    "History",
    "HistoryError",
    "JobRow",
    "Recorder",
    "Slice",
    "data_dir",
    "record_engine",
    "recording_wanted",
    "script_source",
    "spec_from_json",
    "spec_to_json",
    "target_from_json",
]
