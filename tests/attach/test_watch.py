"""``poolscope watch``: the standard library's pools replaced (and put back), an unmodified script
run as python runs it, and the command with its arguments checked and --headless progress."""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import json
import multiprocessing
import multiprocessing.pool
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from poolscope.watch import run_script, substituted

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("stdlib_pools_script.py")


class RecordingPool:
    """A pool that runs ``map`` in this process and records that it was made (no processes)."""

    made: ClassVar[list[Any]] = []

    def __init__(self, processes: int | None = None, *args: Any, **kwargs: Any) -> None:
        self.processes = processes
        RecordingPool.made.append(self)

    def map(self, function: Any, iterable: Any, chunksize: Any = None) -> list[Any]:
        return [function(x) for x in iterable]

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class RecordingExecutor(RecordingPool):
    def __init__(self, max_workers: int | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(max_workers)

    def map(self, function: Any, *iterables: Any, **kwargs: Any) -> Any:
        return iter([function(x) for x in iterables[0]])


def test_the_four_names_are_replaced_within_and_put_back_after():
    originals = (multiprocessing.Pool, multiprocessing.pool.Pool, concurrent.futures.ProcessPoolExecutor,
                 concurrent.futures.process.ProcessPoolExecutor)
    lazy = "ProcessPoolExecutor" in vars(concurrent.futures)
    with substituted(RecordingPool, RecordingExecutor):
        assert multiprocessing.Pool is RecordingPool and multiprocessing.pool.Pool is RecordingPool
        assert concurrent.futures.ProcessPoolExecutor is RecordingExecutor
        assert concurrent.futures.process.ProcessPoolExecutor is RecordingExecutor
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import Pool
        assert (Pool, ProcessPoolExecutor) == (RecordingPool, RecordingExecutor)
        assert multiprocessing.pool.ThreadPool.__mro__[1] is originals[1]  # thread pools stay the stdlib's
    assert (multiprocessing.Pool, multiprocessing.pool.Pool, concurrent.futures.ProcessPoolExecutor,
            concurrent.futures.process.ProcessPoolExecutor) == originals
    assert ("ProcessPoolExecutor" in vars(concurrent.futures)) == lazy


def test_an_unmodified_script_runs_as_main_with_its_argv_on_the_given_pools(tmp_path):
    RecordingPool.made.clear()
    out = tmp_path / "report.json"
    argv, path0 = list(sys.argv), sys.path[0]
    assert run_script(str(SCRIPT), ["5", str(out)], RecordingPool, RecordingExecutor) == 0
    report = json.loads(out.read_text())
    assert report["squares"] == [0, 1, 4, 9, 16] and report["cubes"] == [0, 1, 8, 27, 64]
    assert report["pool"].endswith("RecordingPool") and report["executor"].endswith("RecordingExecutor")
    assert report["argv"] == ["5", str(out)]
    assert [made.processes for made in RecordingPool.made] == [2, 2]
    assert (sys.argv, sys.path[0]) == (argv, path0)  # the runner's own are back
    assert multiprocessing.Pool is not RecordingPool


def test_the_scripts_exit_status_is_the_runners(tmp_path, capsys):
    script = tmp_path / "exits.py"
    script.write_text("import sys\nsys.exit(int(sys.argv[1]))\n")
    assert run_script(str(script), ["3"], RecordingPool, RecordingExecutor) == 3
    failing = tmp_path / "fails.py"
    failing.write_text("raise ValueError('bad input')\n")
    assert run_script(str(failing), [], RecordingPool, RecordingExecutor) == 1
    assert "ValueError: bad input" in capsys.readouterr().err


def watch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``poolscope watch ARGS`` with tests/attach/fake_pools.py standing for poolscope.pools."""
    driver = ("import sys, tests.attach.fake_pools as fake; sys.modules['poolscope.pools'] = fake; "
              "from poolscope.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    env.pop("POOLSCOPE_RUNTIME_DIR", None)
    return subprocess.run([sys.executable, "-c", driver, "watch", *args], capture_output=True, text=True, env=env,
                          timeout=100, cwd=cwd or ROOT, check=False)


def test_watch_headless_runs_the_script_and_shows_its_pools_progress_on_the_terminal(tmp_path):
    done = watch("--headless", str(SCRIPT), "6")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["squares"] == [x * x for x in range(6)] and report["cubes"] == [x ** 3 for x in range(6)]
    assert report["argv"] == ["6"]
    assert report["pool"] == "tests.attach.fake_pools.Pool"
    err = done.stderr
    assert "stdlib_pools_script.py (pid" in err and "attached" in err
    assert "'square' done" in err and "'cube' done" in err, err


@pytest.mark.parametrize(("args", "said"), [
    ((), "script: missing: poolscope watch [--headless] SCRIPT [ARGS ...]"),
    (("no_such_script.py",), "script: no such file: 'no_such_script.py'"),
    ((".",), "script: not a file: '.'"),
    (("--bogus", "x.py"), "unrecognized arguments: --bogus"),
])
def test_bad_arguments_exit_2_naming_what_was_wrong(args, said):
    done = watch(*args)
    assert done.returncode == 2 and said in done.stderr, done.stderr
