"""Results of the user's own classes: built where they are asked for, never in the window's process.

The engine checks and stores pickled results without importing the user's code (its thread runs
in the window's process); ``Job.wait()`` and friends build them in the caller's process, and the
window's "Save results…" (``Job.save_results``) has a child process build them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from poolscope.core.jobs import JobSpec, JobState
from poolscope.core.targets import Target, file_module_name
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(90)

SHAPES = """
    import os
    from dataclasses import dataclass

    MARKERS = {markers!r}
    if MARKERS:  # say which process imported this module
        open(os.path.join(MARKERS, str(os.getpid())), "w").close()

    @dataclass
    class Point:
        x: int

    def f(n):
        return Point(n)
"""


def write_shapes(folder, name="shapes", markers=""):
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(SHAPES.format(markers=str(markers))))
    return path


def imported_here(markers) -> bool:
    return (markers / str(os.getpid())).exists()


def test_a_file_target_returning_its_own_class_gives_its_instances(engine, tmp_path):
    path = write_shapes(tmp_path)
    summary = engine.submit(JobSpec.create(f"{path}:f", "range:3")).wait(60)
    assert (summary.status, summary.failed) == (JobState.DONE, 0), summary.errors
    assert [(type(value).__name__, value.x) for value in summary.results] == [("Point", 0), ("Point", 1), ("Point", 2)]
    assert repr(summary.results) == "[Point(x=0), Point(x=1), Point(x=2)]"


def test_a_module_target_returning_its_own_class_gives_its_instances(engine, tmp_path):
    write_shapes(tmp_path, "userclass_shapes_mod")
    target = Target(text="userclass_shapes_mod:f", kind="module", module="userclass_shapes_mod", function="f",
                    root=str(tmp_path))
    try:
        summary = engine.submit(JobSpec.create(target, "range:3")).wait(60)
        assert summary.failed == 0, summary.errors
        assert [(type(value).__module__, value.x) for value in summary.results] == [
            ("userclass_shapes_mod", 0), ("userclass_shapes_mod", 1), ("userclass_shapes_mod", 2)]
    finally:
        sys.modules.pop("userclass_shapes_mod", None)
        if str(tmp_path) in sys.path:
            sys.path.remove(str(tmp_path))


def test_poolscope_run_json_lists_results_of_a_users_class(tmp_path):
    path = write_shapes(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    run = subprocess.run([sys.executable, "-m", "poolscope", "run", f"{path}:f", "--inputs", "range:3",
                          "--workers", "2", "--json"], check=False, capture_output=True, text=True, env=env, timeout=80,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["results"] == ["Point(x=0)", "Point(x=1)", "Point(x=2)"]


@pytest.mark.parametrize("kind", ["file", "module"])
def test_the_window_path_never_imports_the_users_classes(engine, tmp_path, monkeypatch, kind):
    """The engine's check and the window's Save results run no user code in this process,
    even where this process could import it (the module's folder on sys.path)."""
    markers = tmp_path / "markers"
    markers.mkdir()
    folder = tmp_path / "code"
    folder.mkdir()
    path = write_shapes(folder, "userclass_marked", markers)
    if kind == "file":
        target = Target(text=f"{path}:f", kind="file", module=str(path), function="f")
        module_name = file_module_name(str(path))
    else:
        target = Target(text="userclass_marked:f", kind="module", module="userclass_marked", function="f",
                        root=str(folder))
        module_name = "userclass_marked"
        monkeypatch.syspath_prepend(str(folder))
    job = engine.submit(JobSpec.create(target, "range:5"))
    assert job._record.finished.wait(60)  # as the window sees a job end: never Job.wait()
    summary = job.summary()
    assert (summary.done, summary.failed) == (5, 0), summary.errors
    assert any(markers.iterdir()), "the workers import the module: the marker works"
    saved = tmp_path / "results.jsonl"
    assert job.save_results(str(saved)) == 5
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    assert [line["result"] for line in lines] == [f"Point(x={n})" for n in range(5)]
    assert not imported_here(markers)
    assert module_name not in sys.modules


def test_a_truncated_pickle_fails_its_own_task_only(engine, tmp_path):
    path = tmp_path / "truncating.py"
    path.write_text(textwrap.dedent("""
        from dataclasses import dataclass

        import poolscope.core.outcomes as outcomes

        @dataclass
        class Point:
            x: int

        _encode = outcomes.encode_result

        def encode_truncating(result):  # the worker's encoder, cutting the pickle of Point(2) short
            status, value = _encode(result)
            if isinstance(result, Point) and result.x == 2:
                value = value[: len(value) // 2]
            return status, value

        outcomes.encode_result = encode_truncating

        def f(n):
            return Point(n)
    """))
    summary = engine.submit(JobSpec.create(f"{path}:f", "range:5", chunksize=5)).wait(60)
    assert (summary.done, summary.failed) == (4, 1)
    [error] = summary.errors
    assert (error.index, error.type) == (2, "UnpicklableResult")
    assert [getattr(value, "x", None) for value in summary.results] == [0, 1, None, 3, 4]


def test_an_on_result_callback_gets_instances_of_a_users_class(engine, tmp_path):
    path = write_shapes(tmp_path)
    seen = {}
    job = engine.submit(JobSpec.create(f"{path}:f", "range:3"),
                        on_result=lambda index, value_in, value_out: seen.__setitem__(index, value_out))
    assert job.wait(60).failed == 0
    assert {index: repr(value) for index, value in seen.items()} == {n: f"Point(x={n})" for n in range(3)}
