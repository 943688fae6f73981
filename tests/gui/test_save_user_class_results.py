"""The window's "Save results…" for a job whose results are of a class in the user's file.

The window's process never imports the user's code: the engine checks the results with
stand-ins, and the save has a child process build them (core/results.py ``JsonReadyBlocks``).
"""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

from poolscope.core.jobs import JobSpec, JobState
from poolscope.core.targets import file_module_name
from tests.gui.test_main_window import WAIT_MS, row_state

pytestmark = pytest.mark.timeout(90)


def test_save_results_of_a_users_class_never_imports_it_in_the_window(qtbot, window, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    path = tmp_path / "shapes.py"
    path.write_text(textwrap.dedent(f"""
        import os
        from dataclasses import dataclass

        open(os.path.join({str(markers)!r}, str(os.getpid())), "w").close()  # who imported this

        @dataclass
        class Point:
            x: int

        def f(n):
            return Point(n)
    """))
    job = window.submit(JobSpec.create(f"{path}:f", "range:4"))
    qtbot.waitUntil(lambda: row_state(window, job.id) is JobState.DONE, timeout=WAIT_MS)
    out = tmp_path / "out.jsonl"
    with qtbot.waitSignal(window.results_saved, timeout=30_000) as saved:
        assert window.save_results(job.id, str(out))
    assert saved.args == [job.id, str(out), 4]
    assert [json.loads(line)["result"] for line in out.read_text().splitlines()] == [f"Point(x={n})" for n in range(4)]
    assert any(markers.iterdir())  # the workers did import it
    assert not (markers / str(os.getpid())).exists()
    assert file_module_name(str(path)) not in sys.modules
