"""``poolscope history`` and ``poolscope results``: past jobs listed, pruned, and their results and
timeline exported, read back and compared with what the job returned."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time

import pytest

from poolscope import cli
from poolscope.core.history import History
from poolscope.core.jobs import JobSpec
from poolscope.core.targets import parse_target
from tests.conftest import ROOT, sample
from tests.core.test_history import run_recorded

pytestmark = pytest.mark.timeout(120)

RECORDS = '''
from dataclasses import dataclass


@dataclass
class Point:
    x: int
    y: int


def record(x):
    return {"x": x, "square": x * x, "name": f"n{x}"} if x != 2 else {"x": x, "extra": [1, 2]}


def point(x):
    return Point(x, -x)
'''


@pytest.fixture
def data(tmp_path, monkeypatch):
    """A history of three jobs: plain results, dict results, results of a user's class."""
    (tmp_path / "records.py").write_text(RECORDS)
    directory = tmp_path / "data"
    monkeypatch.setenv("POOLSCOPE_DATA_DIR", str(directory))
    summaries = run_recorded(
        directory,
        JobSpec.create(parse_target(sample("square")), "range:300"),
        JobSpec.create(parse_target(f"{tmp_path / 'records.py'}:record"), "json:[1, 2, 3]"),
        JobSpec.create(parse_target(f"{tmp_path / 'records.py'}:point"), "range:4"))
    return directory, summaries


def test_history_lists_past_jobs_newest_first(data, capsys):
    assert cli.main(["history", "--json"]) == 0
    jobs = json.loads(capsys.readouterr().out)
    shown = [(job["id"], job["state"], job["done"]) for job in jobs]
    assert shown == [(3, "done", 4), (2, "done", 3), (1, "done", 300)]
    assert cli.main(["history", "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].split()[:2] == ["3", "done"] and "point over range:4" in lines[1]


def test_results_as_json_lines_read_back_equal_the_results(data, tmp_path, capsys):
    assert cli.main(["results", "1", "--format", "jsonl", "--output", str(tmp_path / "out.jsonl")]) == 0
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert lines == [{"index": i, "input": i, "result": i * i} for i in range(300)]
    assert cli.main(["results", "3"]) == 0  # a user's class, built in this process: as its repr
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["result"] for line in lines] == [f"Point(x={i}, y={-i})" for i in range(4)]


def test_results_as_csv_have_a_column_per_field_of_dict_results(data, tmp_path):
    assert cli.main(["results", "2", "--format", "csv", "--output", str(tmp_path / "out.csv")]) == 0
    rows = list(csv.reader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert rows == [["index", "input", "x", "square", "name", "extra"],
                    ["0", "1", "1", "1", "n1", ""],
                    ["1", "2", "2", "", "", "[1, 2]"],
                    ["2", "3", "3", "9", "n3", ""]]
    assert cli.main(["results", "1", "--format", "csv", "--output", str(tmp_path / "plain.csv")]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "plain.csv").read_text())))
    assert [(int(row["input"]), int(row["result"])) for row in rows] == [(i, i * i) for i in range(300)]


def test_a_timeline_is_chrome_trace_json_with_every_chunk(data, tmp_path):
    assert cli.main(["results", "1", "--format", "trace", "--output", str(tmp_path / "trace.json")]) == 0
    trace = json.loads((tmp_path / "trace.json").read_text())
    chunks = [event for event in trace["traceEvents"] if event["ph"] == "X"]
    covered = sorted(i for chunk in chunks
                     for i in range(chunk["args"]["first_index"], chunk["args"]["last_index"] + 1))
    assert covered == list(range(300))  # every task in exactly one chunk
    assert all(chunk["ts"] >= 0 and chunk["dur"] >= 0 for chunk in chunks)
    workers = {event["tid"] for event in trace["traceEvents"] if event["name"] == "thread_name"}
    assert {chunk["tid"] for chunk in chunks} <= workers and len(workers) <= 2
    assert trace["otherData"]["job"] == 1


def test_prune_removes_old_jobs_and_their_files(data, capsys):
    directory, _ = data
    history = History(str(directory))
    paths = [job.results_path for job in history.jobs()]
    assert all(os.path.exists(path) for path in paths)
    with history._lock:  # job 1 was submitted 40 days ago
        history._conn.execute("UPDATE jobs SET submitted = ? WHERE id = 1", (time.time() - 40 * 86400,))
    history.close()
    orphan = directory / "results" / "no-job.results"  # a job whose row was never written (a full disk)
    orphan.write_bytes(b"")
    os.utime(orphan, (time.time() - 40 * 86400,) * 2)
    assert cli.main(["history", "--prune", "30"]) == 0
    assert "removed 1 job" in capsys.readouterr().err
    left = History(str(directory)).jobs()
    assert [job.id for job in left] == [3, 2]
    assert not os.path.exists(paths[-1]) and all(os.path.exists(path) for path in paths[:-1])
    assert not orphan.exists()


@pytest.mark.parametrize(("args", "fragment"), [
    (["history", "--limit", "0"], "limit: must be at least 1"),
    (["history", "--limit", "many"], "limit: must be a whole number"),
    (["history", "--prune", "soon"], "prune: must be a number of days"),
    (["history", "--prune", "-1"], "prune: must be 0 or more"),
    (["history", "--state", "happy"], "state: must be one of"),
    (["results", "first"], "job: must be a job number"),
    (["results", "99"], "job: no job 99 in the history"),
    (["results", "1", "--format", "xml"], "--format: invalid choice"),
    (["results", "1", "--output", "/no/such/folder/out.jsonl"], "output: cannot write"),
])
def test_bad_arguments_exit_2_naming_the_field(data, args, fragment, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(args)
    assert exited.value.code == 2
    assert fragment in capsys.readouterr().err


def test_poolscope_run_records_its_job(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), POOLSCOPE_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "poolscope", "run", "noop", "--inputs", "range:50", "--workers", "1"],
                          capture_output=True, text=True, timeout=90, env=env, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    (job,) = History(str(tmp_path)).jobs()
    assert (job.source, job.state, job.done, job.workers) == ("poolscope run", "done", 50, 1)
