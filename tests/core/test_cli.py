"""``poolscope run`` and ``poolscope tasks`` as a user runs them: a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, sample

pytestmark = pytest.mark.timeout(120)


def poolscope(*args: str, timeout: float = 90, **kwargs) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "poolscope", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT, **kwargs)


def test_run_prints_a_json_summary_with_ordered_results():
    result = poolscope("run", sample("square"), "--inputs", "range:1:6", "--workers", "2", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "done"
    assert summary["results"] == [1, 4, 9, 16, 25]
    assert (summary["total"], summary["done"], summary["failed"], summary["cancelled"]) == (5, 5, 0, 0)
    assert summary["workers"] == 2 and summary["wall_seconds"] > 0 and summary["errors"] == []
    assert "done: 5 done" in result.stderr


def test_run_calls_the_initializer_in_each_worker_first():
    result = poolscope("run", sample("initialized"), "--inputs", "range:4", "--workers", "2", "--json",
                       "--initializer", sample("load_state"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"] == [[x, 1] for x in range(4)]


def test_run_reports_failures_with_tracebacks_and_exit_status_1():
    result = poolscope("run", sample("fail_on"), "--inputs", "range:6", "--kwargs", '{"bad": 2}', "--json")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["status"] == "failed"
    assert summary["results"] == [0, 1, None, 3, 4, 5]
    [error] = summary["errors"]
    assert (error["index"], error["type"], error["message"]) == (2, "ValueError", "input 2 is bad")
    assert "Traceback" in error["traceback"]
    assert "input 2 failed: ValueError: input 2 is bad" in result.stderr


def test_run_writes_json_lines_results_and_reprs_what_json_cannot_hold(tmp_path):
    out = tmp_path / "results.jsonl"
    result = poolscope("run", "builtins:frozenset", "--inputs", 'json:[[1], [2, 2]]', "--results", str(out), "--json")
    assert result.returncode == 0, result.stderr
    assert "results" not in json.loads(result.stdout)
    lines = sorted((json.loads(line) for line in out.read_text().splitlines()), key=lambda row: row["index"])
    assert lines == [{"index": 0, "input": [1], "result": "frozenset({1})"},
                     {"index": 1, "input": [2, 2], "result": "frozenset({2})"}]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "no_such_task"], "target: unknown built-in task 'no_such_task'"),
        (["run", "no_such_module_xyz:f"], "target: 'no_such_module_xyz:f': no module named"),
        (["run", "os:sep", "--inputs", "range:3"], "is not callable"),
        (["run", "math:sqrt", "--inputs", "range:"], "inputs: 'range:'"),
        (["run", "math:sqrt", "--inputs", "range:5:1:0"], "step must not be 0"),
        (["run", "math:sqrt", "--inputs", "json:{}"], "must be a JSON list"),
        (["run", "math:sqrt", "--inputs", "file:/no/such.txt"], "does not exist"),
        (["run", "math:sqrt", "--inputs", "range:3", "--kwargs", "[]"], "kwargs: must be a JSON object"),
        (["run", "math:sqrt", "--inputs", "range:3", "--workers", "0"], "workers: must be at least 1"),
        (["run", "math:sqrt", "--inputs", "range:3", "--workers", "two"], "workers: must be a whole number"),
        (["run", "math:sqrt", "--inputs", "range:3", "--chunksize", "-1"], "chunksize: must be at least 1"),
        (["run", "math:sqrt", "--inputs", "range:3", "--timeout", "0"], "timeout: must be a positive"),
        (["run", "math:sqrt", "--inputs", "range:3", "--retries", "-2"], "retries: must be 0 or more"),
        (["run", "math:sqrt", "--inputs", "range:3", "--initializer", "no_such_module_xyz:setup"],
         "initializer: 'no_such_module_xyz:setup': no module named"),
        (["run", "math:sqrt", "--inputs", "range:3", "--nice", "40"], "nice: must be a whole number from 0 to 19"),
        (["run"], "the following arguments are required: TARGET"),
    ],
)
def test_bad_usage_exits_2_naming_the_field_and_runs_nothing(args, fragment):
    result = poolscope(*args, "--json") if args != ["run"] else poolscope(*args)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert result.stdout == ""


def test_tasks_lists_every_builtin_with_description_and_default():
    from poolscope.tasks import BUILTIN_TASKS

    result = poolscope("tasks")
    assert result.returncode == 0
    for task in BUILTIN_TASKS.values():
        assert task.name in result.stdout and task.description in result.stdout
        assert f"--inputs {task.default_inputs}" in result.stdout


def test_ctrl_c_cancels_then_terminates_and_exits_130(tmp_path):
    paths = [str(tmp_path / name) for name in "abcd"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    process = subprocess.Popen(
        [sys.executable, "-m", "poolscope", "run", sample("ignore_sigterm_and_spin"), "--inputs",
         "json:" + json.dumps(paths), "--chunksize", "1", "--workers", "2", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while sum(os.path.exists(path) for path in paths) < 2:  # both workers are inside a task
            assert time.monotonic() < deadline and process.poll() is None, "tasks did not start"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert process.poll() is None  # cancel is cooperative: these tasks ignore it
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert "cancelling" in stderr and "terminating" in stderr
    summary = json.loads(stdout)
    assert (summary["status"], summary["done"], summary["cancelled"]) == ("terminated", 0, 4)


def test_poolscope_alone_opens_the_window_with_the_gui_defaults(monkeypatch):
    import poolscope.cli as cli

    calls = []

    def fake_gui_command(args, parser):
        calls.append(cli.engine_options(args))
        return 0

    monkeypatch.setattr(cli, "gui_command", fake_gui_command)
    assert cli.main([]) == 0
    assert cli.main(["--workers", "3"]) == 0
    assert calls == [{"nice": 10, "dask_scheduler": None, "workers": None},
                     {"nice": 10, "dask_scheduler": None, "workers": 3}]
