"""The user's own code in the window: checked apart from it, run fresh, with settings of its own."""

from __future__ import annotations

import os
import time

import pytest
from PySide6.QtCore import Qt

from poolscope.core.jobs import JobState
from tests.conftest import live_children

CHECK_WAIT_MS = 15_000
WAIT_MS = 30_000

pytestmark = pytest.mark.timeout(90)


def _type_target(qtbot, panel, text):
    panel.target_edit.selectAll()
    qtbot.keyClicks(panel.target_edit, text)  # as typed: textEdited, then the check after a pause


def _rewrite(path, text):
    before = path.stat().st_mtime_ns
    path.write_text(text)
    if path.stat().st_mtime_ns == before:  # a coarse clock: move the time on, as a later edit would
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def test_a_slow_import_is_checked_apart_and_the_form_says_so(qtbot, fake_window, tmp_path):
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(8)\ndef f(x):\n    return x\n")
    panel = fake_window.launch_panel
    panel.check_timeout = 2
    _type_target(qtbot, panel, f"{slow}:f")
    panel.set_inputs_text("range:3")
    began = time.monotonic()
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert time.monotonic() - began < 1.0  # the window did not wait for the import
    assert panel.checking()
    assert "Checking" in panel.target_status.text() and panel.target_status.isVisibleTo(panel)
    assert "the job starts when it passes" in panel.target_status.text()
    qtbot.waitUntil(lambda: not panel.checking(), timeout=CHECK_WAIT_MS)
    assert "did not finish within the time limit of 2 s" in panel.error_text("target")
    assert fake_window.engine.submitted == []
    assert not live_children()  # the check was killed at its limit


def test_an_import_that_ends_its_process_ends_only_the_check(qtbot, fake_window, tmp_path):
    deadly = tmp_path / "deadly.py"
    deadly.write_text("import os\nos._exit(3)\ndef f(x):\n    return x\n")
    panel = fake_window.launch_panel
    _type_target(qtbot, panel, f"{deadly}:f")
    panel.set_inputs_text("range:3")
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.checking(), timeout=CHECK_WAIT_MS)
    assert "ended the process that checked it (exit code 3)" in panel.error_text("target")
    assert fake_window.engine.submitted == []


def test_a_function_just_added_to_the_file_is_found(qtbot, fake_window, tmp_path):
    task = tmp_path / "grow.py"
    task.write_text("def f(x):\n    return x\n")
    panel = fake_window.launch_panel
    _type_target(qtbot, panel, f"{task}:f")
    panel.set_inputs_text("range:3")
    with qtbot.waitSignal(panel.launch_requested, timeout=CHECK_WAIT_MS):
        panel.start()
    _rewrite(task, "def f(x):\n    return x\n\ndef g(x, *, scale=2):\n    return x * scale\n")
    _type_target(qtbot, panel, f"{task}:g")
    panel.set_inputs_text("range:3")
    with qtbot.waitSignal(panel.launch_requested, timeout=CHECK_WAIT_MS) as launched:
        panel.start()
    assert launched.args[0].target.function == "g" and panel.errors() == {}
    assert panel.target_status.text().startswith("✓ g(x, *, scale=2)")


def test_a_newer_check_and_closing_the_window_kill_the_checks_under_way(qtbot, fake_window, tmp_path):
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(60)\ndef f(x):\n    return x\n")
    panel = fake_window.launch_panel
    panel.target_edit.setText(f"{slow}:f")
    panel.check_targets()
    [first] = [check for _, check in panel._checks.values()]
    qtbot.waitUntil(lambda: len(live_children()) == 1, timeout=CHECK_WAIT_MS)
    panel.target_edit.setText(f"{slow}:f2")
    panel.check_targets()
    assert first.result is None and len(panel._checks) == 1
    qtbot.waitUntil(lambda: len(live_children()) == 1, timeout=CHECK_WAIT_MS)  # the first one is gone
    fake_window.show()
    qtbot.waitExposed(fake_window)
    fake_window.close()  # as the user closes it: the check still running is killed with it
    assert not panel.checking()
    assert not live_children()


def test_a_target_of_ones_own_does_not_inherit_a_builtins_settings(qtbot, fake_window, tmp_path):
    task = tmp_path / "mine.py"
    task.write_text("def f(x):\n    return x\n")
    panel = fake_window.launch_panel
    panel.set_builtin("primes")
    assert panel.kwargs_edit.text() == '{"size": 20000}' and panel.range_stop.text() == "200"
    _type_target(qtbot, panel, f"{task}:f")
    assert (panel.kwargs_edit.text(), panel.range_start.text(), panel.range_stop.text()) == ("", "0", "")
    panel.range_stop.setText("7")
    panel.kwargs_edit.setText("")
    with qtbot.waitSignal(panel.launch_requested, timeout=CHECK_WAIT_MS) as launched:
        panel.start()
    assert launched.args[0].inputs.text == "range:0:7:1" and dict(launched.args[0].kwargs) == {}
    # Back to a built-in and then to the own target again: the settings last started with it.
    panel.set_builtin("primes")
    _type_target(qtbot, panel, f"{task}:f")
    assert (panel.kwargs_edit.text(), panel.range_stop.text()) == ("", "7")


def test_kwargs_the_function_does_not_take_are_refused_before_anything_runs(qtbot, fake_window, tmp_path):
    task = tmp_path / "mine.py"
    task.write_text("def f(x):\n    return x\n")
    panel = fake_window.launch_panel
    _type_target(qtbot, panel, f"{task}:f")
    panel.set_inputs_text("range:5")
    panel.kwargs_edit.setText('{"size": 20000}')
    panel.start()
    qtbot.waitUntil(lambda: bool(panel.error_text("kwargs") or fake_window.engine.submitted), timeout=CHECK_WAIT_MS)
    assert "unexpected keyword argument 'size'" in panel.error_text("kwargs")
    assert fake_window.engine.submitted == []


def test_start_and_run_again_in_the_window_run_the_file_as_it_is_now(qtbot, window, tmp_path):
    task = tmp_path / "edit.py"
    task.write_text("import time\ndef f(x):\n    time.sleep(0.05)\n    return 'v1'\n")
    panel = window.launch_panel
    _type_target(qtbot, panel, f"{task}:f")
    panel.set_inputs_text("range:4")
    panel.chunksize_edit.setText("1")
    with qtbot.waitSignal(window.job_submitted, timeout=CHECK_WAIT_MS) as submitted:
        panel.start()
    first = submitted.args[0]
    assert first.wait(60).results == ["v1"] * 4
    _rewrite(task, "import time\ndef f(x):\n    time.sleep(0.05)\n    return 'v2'\n")
    with qtbot.waitSignal(window.job_submitted, timeout=CHECK_WAIT_MS) as again:
        window.run_again([first.id])
    assert again.args[0].wait(60).results == ["v2"] * 4
    _rewrite(task, "import time\ndef f(x):\n    time.sleep(0.05)\n    return 'v3'\n")
    with qtbot.waitSignal(window.job_submitted, timeout=CHECK_WAIT_MS) as started:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert started.args[0].wait(60).results == ["v3"] * 4
    assert started.args[0].state is JobState.DONE


def test_a_refused_target_is_checked_again_on_start(qtbot, fake_window, tmp_path):
    task = tmp_path / "later.py"
    task.write_text("def f(x):\n    return x\n")
    panel = fake_window.launch_panel
    _type_target(qtbot, panel, f"{task}:g")
    panel.set_inputs_text("range:3")
    panel.start()
    qtbot.waitUntil(lambda: "has no function 'g'" in panel.error_text("target"), timeout=CHECK_WAIT_MS)
    _rewrite(task, "def f(x):\n    return x\n\ndef g(x):\n    return -x\n")  # fixed, the field untouched
    with qtbot.waitSignal(panel.launch_requested, timeout=CHECK_WAIT_MS) as launched:
        panel.start()
    assert launched.args[0].target.function == "g" and panel.errors() == {}
