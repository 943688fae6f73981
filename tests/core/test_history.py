"""The job history (core/history/): recorded from an engine's events, read back across a restart;
results written through before their tasks count; an old, corrupt, locked, read-only or full
database never costs a job."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from poolscope.core.engine import Engine
from poolscope.core.history import INTERRUPTED, SCHEMA_VERSION, History, Recorder, record_engine, spec_from_json
from poolscope.core.history import database as history_database
from poolscope.core.history import job_log as history_job_log
from poolscope.core.history import recorder as history_recorder
from poolscope.core.jobs import JobSpec
from poolscope.core.results import ResultStore, count_file_results, file_items
from poolscope.core.targets import parse_target
from tests.conftest import ROOT, sample


def run_recorded(directory: Path, *specs: JobSpec, source: str = "test", messages: list[str] | None = None,
                 workers: int = 2) -> list:
    """Run ``specs`` one after another on an engine whose jobs are recorded; their summaries."""
    summaries = []
    with Engine(workers) as engine:
        recorder = record_engine(engine, source, directory=str(directory),
                                 on_message=messages.append if messages is not None else None)
        try:
            for spec in specs:
                summaries.append(engine.submit(spec).wait(60))
        finally:
            engine.shutdown()
            recorder.close()
    return summaries


def test_jobs_are_read_back_after_a_restart(tmp_path):
    square = JobSpec.create(parse_target(sample("square")), "range:500", chunksize=7)
    failing = JobSpec.create(parse_target(sample("fail_on")), "json:[1, 2, 3, 4, 3]", kwargs={"bad": 3})
    run_recorded(tmp_path, square, failing)

    history = History(str(tmp_path))  # another process's view: a fresh open of the same files
    newest, oldest = history.jobs()
    assert (oldest.state, oldest.done, oldest.failed, oldest.total) == ("done", 500, 0, 500)
    assert (newest.state, newest.done, newest.failed) == ("failed", 3, 2)
    assert oldest.source == "test" and oldest.backend == "processes" and oldest.workers == 2
    assert oldest.spec["chunksize"] == 7 and oldest.spec["inputs"] == "range:500"
    assert newest.spec["kwargs"] == {"bad": 3}
    assert oldest.submitted <= oldest.first_task <= oldest.finished
    assert sum(oldest.throughput["counts"]) == 500  # the curve's area is the count
    assert dict(file_items(oldest.results_path)) == {i: i * i for i in range(500)}
    failures = history.failures(newest.id)
    assert [(f.index, f.type, f.input) for f in failures] == [(2, "ValueError", "3"), (4, "ValueError", "3")]
    assert "input 3 is bad" in failures[0].traceback
    assert history.failure_groups(newest.id) == [("ValueError", 2, "input 3 is bad")]
    slices = history.timeline(oldest.id)
    assert slices and all(s.start <= s.end and s.first_index <= s.last_index for s in slices)
    assert spec_from_json(newest.spec) == failing  # run again with the same settings
    assert [job.id for job in history.jobs(state="failed")] == [newest.id]
    assert [job.id for job in history.jobs(text="square")] == [oldest.id]


def test_the_throughput_curve_stays_bounded():
    curve = history_job_log.Throughput(start=0.0)
    for second in range(100_000):
        curve.add(second + 0.5, 3)
    assert len(curve.counts) <= history_database.THROUGHPUT_BINS and sum(curve.counts) == 300_000


def test_results_are_written_through_before_the_store_returns(tmp_path):
    store = ResultStore(memory_limit=100)
    store.write_through(str(tmp_path / "job.results"))
    for start in range(0, 10_000, 1_000):
        store.put(start, list(range(start, start + 1_000)))
        # on disk in full at once (no buffer to flush), readable by another process
        assert count_file_results(str(tmp_path / "job.results")) == start + 1_000
    assert store.memory_bytes == 0  # none kept in memory
    assert store.ordered(10_000) == list(range(10_000))
    store.finish_writing()
    assert dict(file_items(str(tmp_path / "job.results"))) == {i: i for i in range(10_000)}


def test_a_frame_cut_short_by_a_kill_is_not_read(tmp_path):
    path = tmp_path / "job.results"
    store = ResultStore()
    store.write_through(str(path))
    store.put(0, [1, 2, 3])
    store.put(3, [4, 5])
    store.finish_writing()
    whole = path.read_bytes()
    path.write_bytes(whole[:-3])  # the last frame's data cut short
    assert dict(file_items(str(path))) == {0: 1, 1: 2, 2: 3}


def test_a_results_file_that_cannot_be_written_keeps_the_results_in_memory(tmp_path):
    store = ResultStore()
    told: list[str] = []
    store.on_spill_error = told.append
    store.write_through("/dev/full")  # every write: ENOSPC, as on a full disk
    store.put(0, [1, 2, 3])
    assert store.ordered(3) == [1, 2, 3]
    assert told and "No space left" in told[0]


CHILD = textwrap.dedent("""
    import sys, time
    from poolscope.core.engine import Engine
    from poolscope.core.events import TasksFinished
    from poolscope.core.history import record_engine
    from poolscope.core.jobs import JobSpec
    from poolscope.core.targets import parse_target

    if __name__ == "__main__":
        engine = Engine(2)
        record_engine(engine, "test", directory=sys.argv[1])
        shown = [0]

        def show(batch):  # what a window would show: the done count the events say
            for event in batch:
                if isinstance(event, TasksFinished):
                    shown[0] += event.done
            print(shown[0], flush=True)

        engine.subscribe(show)
        engine.submit(JobSpec.create(parse_target(sys.argv[2]), "range:50000000", kwargs={"offset": 7}))
        time.sleep(600)
""")


def test_sigkill_mid_job_leaves_every_result_shown_as_done_on_disk(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    child = subprocess.Popen([sys.executable, str(script), str(tmp_path / "data"), sample("add")],
                             stdout=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    shown = 0
    try:
        deadline = time.monotonic() + 60
        while shown < 200_000 and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, "the child ended before the job got going"
            shown = int(line)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
        child.stdout.close()
    assert shown >= 200_000

    history = History(str(tmp_path / "data"))  # the next start
    (job,) = history.jobs()
    assert job.state == INTERRUPTED
    on_disk = dict(file_items(job.results_path))
    assert len(on_disk) >= shown  # every task shown as done has its result on disk...
    assert all(value == index + 7 for index, value in on_disk.items())  # ...and it is the right one
    assert job.done == len(on_disk)  # the row counts what the file holds


def test_a_job_of_a_live_process_is_not_marked_interrupted(tmp_path):
    with Engine(1) as engine:
        recorder = record_engine(engine, "test", directory=str(tmp_path))
        job = engine.submit(JobSpec.create(parse_target(sample("spin")), "range:50", kwargs={"seconds": 0.05}))
        time.sleep(1.5)  # its row written at least once, while it runs
        assert History(str(tmp_path)).jobs()[0].state not in history_database.FINAL_STATES
        engine.cancel(job)
        job.wait(30)
        engine.shutdown()
        recorder.close()
    assert History(str(tmp_path)).jobs()[0].state == "cancelled"


# -- a database that cannot be used as it is ------------------------------------------------------

def history_files(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.startswith("history"))


def test_a_corrupt_database_is_kept_aside_and_a_new_one_started(tmp_path):
    (tmp_path / "history.db").write_bytes(b"this is not a database at all" * 100)
    messages: list[str] = []
    history = History(str(tmp_path), on_message=messages.append)
    assert history.writable and history.jobs() == []
    (kept,) = [name for name in history_files(tmp_path) if ".old-" in name]
    assert (tmp_path / kept).read_bytes().startswith(b"this is not a database")  # never wiped
    assert "could not be read" in messages[0] and kept in messages[0]
    run_recorded(tmp_path, JobSpec.create("noop", "range:10"))
    assert [job.done for job in History(str(tmp_path)).jobs()] == [10]


def test_a_database_of_another_version_is_kept_aside(tmp_path):
    conn = sqlite3.connect(tmp_path / "history.db")
    conn.execute("CREATE TABLE jobs (id INTEGER)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    messages: list[str] = []
    history = History(str(tmp_path), on_message=messages.append)
    assert history.writable and "another version" in messages[0] and f"schema {SCHEMA_VERSION + 1}" in messages[0]
    assert len([name for name in history_files(tmp_path) if ".old-" in name]) == 1


def test_a_locked_database_is_left_alone_and_one_beside_it_used(tmp_path):
    History(str(tmp_path)).close()
    holder = sqlite3.connect(tmp_path / "history.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, for ever
    try:
        messages: list[str] = []
        history = History(str(tmp_path), on_message=messages.append, lock_seconds=0.2)
        assert "locked by another process" in messages[0]
        assert history.writable and history.path != str(tmp_path / "history.db")
        summaries = []
        with Engine(1) as engine:
            recorder = Recorder(history, engine, "test")
            summaries.append(engine.submit(JobSpec.create("noop", "range:10")).wait(30))
            engine.shutdown()
            recorder.close()
        assert summaries[0].status.value == "done"
        assert [job.done for job in history.jobs()] == [10]
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def make_read_only(paths: list[Path], read_only: bool) -> None:
    """Files and folders no one may write, root included (root writes whatever the modes say)."""
    for path in paths:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i" if read_only else "-i", str(path)], check=True)
        else:
            path.chmod((0o555 if path.is_dir() else 0o444) if read_only else (0o755 if path.is_dir() else 0o644))


def test_a_read_only_database_is_read_and_jobs_run_unrecorded(tmp_path):
    data = tmp_path / "data"
    run_recorded(data, JobSpec.create("noop", "range:5"))
    paths = [data, data / "results", *data.iterdir()]
    make_read_only(paths, True)
    try:
        messages: list[str] = []
        history = History(str(data), on_message=messages.append)
        assert not history.writable and "cannot be written" in messages[0]
        assert [job.done for job in history.jobs()] == [5]  # still shown
        with Engine(1) as engine:
            recorder = Recorder(history, engine, "test")
            summary = engine.submit(JobSpec.create("noop", "range:10")).wait(30)
            engine.shutdown()
            recorder.close()
        assert summary.status.value == "done" and summary.done == 10
        assert len(history.jobs()) == 1
        history.close()
    finally:
        make_read_only(paths, False)


class FullDisk:
    """sqlite3 as the writer sees it, on a disk that is full: the database cannot grow a page."""

    def __getattr__(self, name):
        return getattr(sqlite3, name)

    @staticmethod
    def connect(*args, **kwargs):
        conn = sqlite3.connect(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn


def test_a_full_disk_fails_the_history_write_with_a_message_never_the_job(tmp_path, monkeypatch):
    History(str(tmp_path)).close()
    monkeypatch.setattr(history_recorder, "sqlite3", FullDisk())  # the writer is the recorder
    messages: list[str] = []
    big = JobSpec.create(parse_target(sample("fail_on")), "range:3000", kwargs={"bad": -1}, name="x" * 3000)
    failing = JobSpec.create(parse_target(sample("fail_on")), "json:[3, 3, 3]", kwargs={"bad": 3})
    summaries = run_recorded(tmp_path, big, failing, messages=messages)
    assert [summary.status.value for summary in summaries] == ["done", "failed"]
    assert len(messages) == 1 and "database or disk is full" in messages[0]


def test_two_engines_of_one_process_record_into_one_history(tmp_path):
    with Engine(1) as first, Engine(1) as second:
        recorders = [record_engine(engine, name, directory=str(tmp_path))
                     for engine, name in ((first, "first"), (second, "second"))]
        jobs = [engine.submit(JobSpec.create("noop", "range:5")) for engine in (first, second)]  # the same second
        for job in jobs:
            job.wait(30)
        for engine, recorder in zip((first, second), recorders, strict=True):
            engine.shutdown()
            recorder.close()
    recorded = History(str(tmp_path)).jobs()
    assert sorted((job.source, job.done) for job in recorded) == [("first", 5), ("second", 5)]
    assert len({job.results_path for job in recorded}) == 2


def test_a_history_locked_while_a_job_runs_costs_the_job_nothing_and_is_written_later(tmp_path, monkeypatch):
    monkeypatch.setattr(history_recorder, "WRITE_LOCK_SECONDS", 0.3)
    messages: list[str] = []
    history = History(str(tmp_path), on_message=messages.append)
    holder = sqlite3.connect(tmp_path / "history.db", isolation_level=None)
    with Engine(1) as engine:
        recorder = Recorder(history, engine, "test")
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the history for a while
        try:
            started = time.monotonic()
            summary = engine.submit(JobSpec.create("noop", "range:100")).wait(30)
            assert summary.status.value == "done" and time.monotonic() - started < 5  # not held up
            deadline = time.monotonic() + 10
            while not messages and time.monotonic() < deadline:
                time.sleep(0.05)
            assert messages and "database is locked" in messages[0]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        engine.shutdown()
        recorder.close()
    assert "works again" in messages[-1]
    assert [(job.state, job.done) for job in history.jobs()] == [("done", 100)]  # kept, and written once it could be


def test_a_process_start_time_is_read_as_psutil_reads_it_and_none_for_a_gone_process():
    """An owner's liveness is its pid and start time, compared with what an older record (or
    psutil) said; read from /proc, so poolscope run does not import psutil to record."""
    import subprocess
    import sys

    import psutil

    from poolscope.core.history.database import _process_started

    for pid in (os.getpid(), os.getppid()):
        assert abs(_process_started(pid) - psutil.Process(pid).create_time()) < 0.01
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert _process_started(child.pid) is None
