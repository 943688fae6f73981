"""Where ``module:function`` is looked up: the project folder, then sys.path; file targets add nothing."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from poolscope.core.jobs import JobSpec, JobState, SpecError
from poolscope.core.targets import parse_target

pytestmark = pytest.mark.timeout(90)


def _project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "mytask.py").write_text("def myfunc(x):\n    return x + 100\n")
    (folder / "runner.py").write_text("import mytask\ndef f(x):\n    return mytask.myfunc(x)\n")
    return folder


def test_running_a_file_target_does_not_change_where_modules_are_found(engine, tmp_path):
    folder = _project(tmp_path)
    assert str(folder) != os.getcwd()
    with pytest.raises(SpecError, match="no module named 'mytask'"):
        JobSpec.create("mytask:myfunc", "range:2")
    path_before = list(sys.path)
    # The file imports its sibling: that works while the file is loaded.
    assert engine.submit(JobSpec.create(f"{folder}/runner.py:f", "range:4", chunksize=1)).wait(60).results == \
        [100, 101, 102, 103]
    assert sys.path == path_before
    with pytest.raises(SpecError, match="no module named 'mytask'"):  # the same answer as before the file job
        JobSpec.create("mytask:myfunc", "range:2")
    # In the workers too, even those that loaded the file: the rule, not the history, decides.
    summary = engine.submit(JobSpec.create(parse_target("mytask:myfunc"), "range:4", chunksize=1)).wait(60)
    assert summary.status is JobState.FAILED and summary.done == 0
    assert "no module named 'mytask'" in summary.errors[0].message
    # The project folder is searched first: with it, the module is found in the check and the workers.
    target = dataclasses.replace(parse_target("mytask:myfunc"), root=str(folder))
    assert engine.submit(JobSpec.create(target, "range:3")).wait(60).results == [100, 101, 102]


def test_the_cli_finds_a_module_of_the_folder_it_was_started_in(tmp_path):
    folder = _project(tmp_path)
    import poolscope

    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(poolscope.__file__)))  # this poolscope
    entry = tmp_path / "bin" / "poolscope"  # as an installed console script: its folder is sys.path[0]
    entry.parent.mkdir()
    entry.write_text("import sys\nfrom poolscope.cli import main\nif __name__ == \"__main__\":\n    sys.exit(main())\n")
    result = subprocess.run([sys.executable, str(entry), "run", "mytask:myfunc", "--inputs", "range:3",
                             "--workers", "1", "--json"], cwd=folder, env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert '"results": [100, 101, 102]' in result.stdout
