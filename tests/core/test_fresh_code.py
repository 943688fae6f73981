"""A job runs the user's code as it is on disk when the job starts, in every worker."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from poolscope.core.jobs import JobSpec, JobState
from poolscope.core.targets import parse_target

pytestmark = pytest.mark.timeout(90)


def _write(path, text):
    """Write a source file so that its stamp (mtime_ns, size) surely differs from the last one."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns == before:  # a coarse clock: move the time on, as a later edit would
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def _all_ready(engine, workers=2):
    """Wait until every worker is ready, so that the first job reaches each of them."""
    deadline = time.monotonic() + 30
    while len(engine.worker_pids()) < workers and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(engine.worker_pids()) == workers


def _run(engine, target, inputs="range:4"):
    summary = engine.submit(JobSpec.create(target, inputs, chunksize=1)).wait(60)
    assert summary.status is JobState.DONE, summary.errors
    return summary.results


def test_an_edited_file_target_runs_its_new_code_in_every_worker(engine, tmp_path):
    task = tmp_path / "edit.py"
    _write(task, "import time\ndef f(x):\n    time.sleep(0.05)\n    return 'v1'\n")
    _all_ready(engine)
    assert _run(engine, f"{task}:f") == ["v1"] * 4
    pids = set(engine.worker_pids())

    assert _run(engine, f"{task}:f") == ["v1"] * 4
    assert set(engine.worker_pids()) == pids  # nothing changed: no worker is replaced

    _write(task, "import time\ndef f(x):\n    time.sleep(0.05)\n    return 'v2'\n")
    assert _run(engine, f"{task}:f") == ["v2"] * 4
    assert not pids & set(engine.worker_pids())  # both had loaded the old code


def test_a_project_module_and_what_it_imports_run_fresh(engine, tmp_path):
    (tmp_path / "helper.py").write_text("def word():\n    return 'old'\n")
    _write(tmp_path / "mytask.py", "import time\nimport helper\ndef f(x):\n    time.sleep(0.05)\n"
                                   "    return helper.word()\n")
    target = dataclasses.replace(parse_target("mytask:f"), root=str(tmp_path))  # the project folder
    assert _run(engine, target) == ["old"] * 4
    _write(tmp_path / "helper.py", "def word():\n    return 'new!'\n")  # only the imported module changes
    assert _run(engine, target) == ["new!"] * 4


def test_a_worker_that_never_loaded_the_changed_file_is_kept(engine, tmp_path):
    task = tmp_path / "one.py"
    _write(task, "import os\ndef f(x):\n    return os.getpid()\n")
    _all_ready(engine)
    [pid] = _run(engine, f"{task}:f", "json:[0]")  # one task: only one worker loads the file
    other = next(p for p in engine.worker_pids() if p != pid)
    _write(task, "import os\ndef f(x):\n    return -os.getpid()\n")
    deadline = time.monotonic() + 30
    results = _run(engine, f"{task}:f", "range:2")
    while time.monotonic() < deadline and len(engine.worker_pids()) < 2:
        time.sleep(0.05)
    assert other in engine.worker_pids() and pid not in engine.worker_pids()
    assert all(result < 0 for result in results)


def test_a_file_targets_sibling_module_runs_fresh(engine, tmp_path):
    _write(tmp_path / "words.py", "WORD = 'old'\n")
    (tmp_path / "task.py").write_text("import time\nimport words\ndef f(x):\n    time.sleep(0.05)\n"
                                      "    return words.WORD\n")
    assert _run(engine, f"{tmp_path}/task.py:f") == ["old"] * 4
    _write(tmp_path / "words.py", "WORD = 'new!'\n")
    assert _run(engine, f"{tmp_path}/task.py:f") == ["new!"] * 4


def _setup(target: str) -> bytes:
    """A SetUpJob's setup payload, as the engine pickles it: (target, kwargs, initializer)."""
    import pickle

    return pickle.dumps((parse_target(target), {}, None))


def test_a_worker_whose_code_changed_unknown_to_the_engine_steps_aside(tmp_path):
    """The engine can learn of a worker's files too late (its LOADED still in the pipe while the
    next job is registered): the worker then finds the change itself and lets a fresh one run."""
    import multiprocessing

    from poolscope.core import worker
    from poolscope.core.protocol import Loaded, Stale, from_worker

    task = tmp_path / "race.py"
    _write(task, "def f(x):\n    return 'v1'\n")
    engine_end, worker_end = multiprocessing.Pipe()
    loop = worker._Worker(worker_end, lambda: None, report_loaded=True)
    assert loop.set_up_job(1, _setup(f"{task}:f"))
    loaded = from_worker(engine_end.recv_bytes())
    assert isinstance(loaded, Loaded) and os.path.realpath(task) in loaded.files
    _write(task, "def f(x):\n    return 'v2'\n")
    assert not loop.set_up_job(2, _setup(f"{task}:f"))
    assert from_worker(engine_end.recv_bytes()) == Stale(2)


def test_the_engine_reruns_a_stale_workers_tasks_on_a_fresh_one(engine, tmp_path):
    task = tmp_path / "late.py"
    _write(task, "import time\ndef f(x):\n    time.sleep(0.05)\n    return 'v1'\n")
    assert _run(engine, f"{task}:f") == ["v1"] * 4
    for slot in engine._workers:  # as if their LOADED had not arrived yet (the engine is idle now)
        slot.loaded_files.clear()
    _write(task, "import time\ndef f(x):\n    time.sleep(0.05)\n    return 'v2'\n")
    assert _run(engine, f"{task}:f") == ["v2"] * 4
