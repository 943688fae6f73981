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
from tests.helpers.support import wait_until, worker_processes

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
        (["run", sample("square"), "--inputs", "range:3", "--kwargs", '{"scale": 2}'],
         "kwargs: square(x: 'int') -> 'int' cannot be called with one input and these keyword arguments"),
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
    from poolscope import cli
    from poolscope.cli import options, window

    calls = []

    def fake_gui_command(args, parser):
        calls.append(options.engine_options(args))
        return 0

    monkeypatch.setattr(window, "gui_command", fake_gui_command)
    assert cli.main([]) == 0
    assert cli.main(["--workers", "3"]) == 0
    assert calls == [{"nice": 10, "dask_scheduler": None, "workers": None},
                     {"nice": 10, "dask_scheduler": None, "workers": 3}]


def factorial_digits(n: int) -> str:
    """The decimal digits of n!, whatever the int-to-string limit (decimal has none)."""
    import decimal
    import math

    return str(decimal.Decimal(math.factorial(n)))


def test_json_and_results_hold_an_integer_too_long_for_python_to_print(tmp_path):
    """``math:factorial`` of 2000 has 5,736 digits, past Python's int-to-string limit (4,300):
    --json crashed with ValueError and printed nothing. Now its digits are given as a string."""
    result = poolscope("run", "math:factorial", "--inputs", "json:[2000, 5]", "--json")
    assert result.returncode == 0, result.stderr
    big, small = json.loads(result.stdout)["results"]
    assert (big, small) == (factorial_digits(2000), 120)
    out = tmp_path / "results.jsonl"
    result = poolscope("run", "math:factorial", "--inputs", "json:[2000, 5]", "--results", str(out))
    assert result.returncode == 0, result.stderr
    rows = sorted((json.loads(line) for line in out.read_text().splitlines()), key=lambda row: row["index"])
    assert [row["result"] for row in rows] == [big, 120]


def test_save_results_writes_what_json_cannot_hold_and_never_raises(engine, tmp_path):
    """The window's Save results shares write_results with --results."""
    from poolscope.core.jobs import JobSpec

    job = engine.submit(JobSpec.create("math:factorial", "json:[2000, 3]"))
    job.wait(30)
    path = tmp_path / "saved.jsonl"
    assert job.save_results(str(path)) == 2
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows == [{"index": 0, "input": 2000, "result": factorial_digits(2000)},
                    {"index": 1, "input": 3, "result": 6}]


@pytest.mark.parametrize("limit", [4, 5])
def test_json_holds_results_inline_only_up_to_the_limit(engine, monkeypatch, limit):
    from poolscope.cli import run as cli
    from poolscope.core.jobs import JobSpec

    monkeypatch.setattr(cli, "JSON_RESULTS_LIMIT", limit)
    job = engine.submit(JobSpec.create(sample("square"), "range:5"))
    job.wait(30)
    data = json.loads(cli.summary_json(job.summary(), job, with_results=True))
    if limit >= 5:
        assert data["results"] == [0, 1, 4, 9, 16] and "results_omitted" not in data
    else:
        assert "results" not in data and data["results_omitted"] == 5
    assert (data["status"], data["done"], data["total"]) == ("done", 5, 5)
    assert "results" not in json.loads(cli.summary_json(job.summary(), job, with_results=False))


def test_ctrl_c_ends_a_huge_job_within_2_s_in_bounded_memory(tmp_path):
    """range:100000000 then Ctrl-C: it took 24 to 42 s, grew to 3.4 GB and wrote 635 MB of JSON."""
    import psutil

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "poolscope", "run", "noop", "--inputs", "range:100000000",
                                    "--workers", "2", "--json"], stdout=stdout, stderr=stderr, env=env, cwd=ROOT)
    try:
        me = psutil.Process(process.pid)
        workers = worker_processes(process.pid, 2)
        # Tasks have run (and been reported) once the workers have worked a while: at least a
        # second's worth between them, a million results or more, however busy the machine is.
        wait_until(lambda: sum(worker.cpu_times().user for worker in workers) >= 1.0, timeout=60,
                   what="a second of the workers' time")
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        peak = 0
        while process.poll() is None and time.monotonic() - interrupted < 2.0:
            try:
                peak = max(peak, me.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.02)
        assert process.poll() is not None, "still running 2 s after Ctrl-C"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert process.returncode == 130
    assert peak < 300 * 1024 * 1024
    summary = json.loads((tmp_path / "stdout").read_text())
    assert summary["status"] == "cancelled" and "results" not in summary
    assert summary["results_omitted"] == summary["done"] > 0
    assert summary["done"] + summary["failed"] + summary["cancelled"] == summary["total"] == 100_000_000


def test_run_imports_the_target_only_in_the_jobs_workers_and_refuses_a_bad_one_with_exit_2(tmp_path):
    """No check process of its own (about 0.15 s of start-up): the workers import the target
    anyway, and one that does not load is still a usage error naming the field."""
    log = tmp_path / "imported_by.txt"
    probe = tmp_path / "probe.py"
    probe.write_text("import multiprocessing\n"
                     f"with open({str(log)!r}, 'a') as f:\n"
                     "    f.write(multiprocessing.current_process().name + '\\n')\n\n\n"
                     "def f(x):\n    return x\n")
    result = poolscope("run", f"{probe}:f", "--inputs", "range:4", "--workers", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"] == [0, 1, 2, 3]
    importers = log.read_text().split()
    assert importers and all(name.startswith("poolscope-worker-") for name in importers), importers

    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('no model file')\n\n\ndef f(x):\n    return x\n")
    result = poolscope("run", f"{broken}:f", "--inputs", "range:1000", "--workers", "2", "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (f"poolscope run: error: target: '{broken}:f': running broken.py failed: "
                             "RuntimeError: no model file (broken.py line 1)\n")


def test_run_names_every_bad_field_at_once_with_exit_2():
    result = poolscope("run", "noop", "--inputs", "range:0", "--chunksize", "0", "--timeout", "-1")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "poolscope run: error: inputs: 'range:0' is empty: it has no inputs",
        "poolscope run: error: chunksize: must be at least 1, not 0",
        "poolscope run: error: timeout: must be a positive number of seconds, not -1.0",
    ]
