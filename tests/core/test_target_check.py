"""A target is checked in a child process with a time limit: the caller never runs user code."""

from __future__ import annotations

import os
import time

import pytest

from poolscope.core.jobs import JobSpec, SpecError
from poolscope.core.targets import parse_target
from tests.conftest import live_children

pytestmark = pytest.mark.timeout(60)


def test_importing_a_target_to_check_it_runs_nothing_here(tmp_path):
    marker = tmp_path / "ran_in.txt"
    task = tmp_path / "task.py"
    task.write_text(f"import os\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\ndef f(x):\n    return x\n")
    spec = JobSpec.create(f"{task}:f", "range:3")
    assert spec.target.function == "f"
    assert int(marker.read_text()) != os.getpid()  # imported, but in another process


def test_an_import_that_ends_its_process_ends_only_the_check(tmp_path):
    task = tmp_path / "die.py"
    task.write_text("import os\nos._exit(3)\ndef f(x):\n    return x\n")
    with pytest.raises(SpecError, match="ended the process that checked it \\(exit code 3\\)") as caught:
        JobSpec.create(f"{task}:f", "range:3")
    assert caught.value.field == "target"


def test_an_import_that_hangs_is_killed_at_the_time_limit_which_the_error_names(tmp_path):
    task = tmp_path / "slow.py"
    task.write_text("import time\ntime.sleep(60)\ndef f(x):\n    return x\n")
    from poolscope.core.target_check import TargetCheck

    began = time.monotonic()
    check = TargetCheck(parse_target(f"{task}:f"), timeout=1.5).start()
    assert check.poll() is None  # never blocks
    result = check.wait()
    assert 1.5 <= time.monotonic() - began < 10
    assert not result.ok and result.field == "target"
    assert "did not finish within the time limit of 1.5 s" in result.message
    assert not live_children()


def test_a_cancelled_check_leaves_no_process(tmp_path):
    task = tmp_path / "slow.py"
    task.write_text("import time\ntime.sleep(60)\ndef f(x):\n    return x\n")
    from poolscope.core.target_check import TargetCheck

    check = TargetCheck(parse_target(f"{task}:f")).start()
    check.cancel()
    assert check.result is None and not live_children()


def test_the_check_sees_the_file_as_it_is_now(tmp_path):
    task = tmp_path / "grow.py"
    task.write_text("def f(x):\n    return x\n")
    assert JobSpec.create(f"{task}:f", "range:2").target.function == "f"
    with pytest.raises(SpecError, match="has no function 'g'"):
        JobSpec.create(f"{task}:g", "range:2")
    task.write_text("def f(x):\n    return x\n\ndef g(x):\n    return -x\n")
    assert JobSpec.create(f"{task}:g", "range:2").target.function == "g"


def test_keyword_arguments_the_function_does_not_take_are_named(tmp_path):
    task = tmp_path / "task.py"
    task.write_text("def f(x, *, scale=1):\n    return x * scale\n")
    assert JobSpec.create(f"{task}:f", "range:3", kwargs={"scale": 2}).kwargs == {"scale": 2}
    with pytest.raises(SpecError, match="unexpected keyword argument 'size'") as caught:
        JobSpec.create(f"{task}:f", "range:3", kwargs={"size": 20000})
    assert caught.value.field == "kwargs"
