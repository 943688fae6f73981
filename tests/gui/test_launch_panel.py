"""The launch panel: every bad field shows the core's message next to it and no job is made."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from poolscope.core.jobs import JobSpec
from poolscope.gui.widgets.launch_panel import FIELDS, functions_in_file
from tests.conftest import SAMPLE_TASKS

CHECK_WAIT_MS = 15_000  # a check in a child process takes ~0.15 s; the machine may be busy


def _set(panel, **values):
    """Fill the form: keys are the panel's widget attribute names, or 'inputs' for a spec string."""
    for key, value in values.items():
        if key == "inputs":
            panel.set_inputs_text(value)
        elif key == "backend":
            panel.set_backend(value)
        else:
            getattr(panel, key).setText(value)


BAD_FIELDS = [
    # (field, form values, a piece of the message the core gives)
    ("target", {"target_edit": "no_such_builtin"}, "unknown built-in task"),
    ("target", {"target_edit": "no_such_module_xyz:run"}, "no module named"),
    ("target", {"target_edit": "poolscope.tasks.noop:missing"}, "has no function"),
    ("target", {"target_edit": "poolscope.tasks:BUILTIN_TASKS"}, "is not callable"),
    ("target", {"target_edit": "/no/such/file.py:main"}, "does not exist"),
    ("target", {"target_edit": ""}, "no target given"),
    ("inputs", {"range_stop": ""}, "needs a stop"),
    ("inputs", {"range_stop": "a"}, "is not a whole number"),
    ("inputs", {"range_start": "5", "range_stop": "1", "range_step": "1"}, "is empty"),
    ("inputs", {"range_step": "0"}, "must not be 0"),
    ("inputs", {"inputs": "json:[1, 2"}, "invalid JSON"),
    ("inputs", {"inputs": "json:{\"a\": 1}"}, "must be a JSON list"),
    ("inputs", {"inputs": "file:/no/such/inputs.txt"}, "does not exist"),
    ("kwargs", {"kwargs_edit": "{size: 1}"}, "invalid JSON"),
    ("kwargs", {"kwargs_edit": "[1, 2]"}, "must be a JSON object"),
    ("chunksize", {"chunksize_edit": "0"}, "at least 1"),
    ("chunksize", {"chunksize_edit": "-3"}, "at least 1"),
    ("chunksize", {"chunksize_edit": "ten"}, "whole number"),
    ("timeout", {"timeout_edit": "0"}, "positive number"),
    ("timeout", {"timeout_edit": "soon"}, "number of seconds"),
    ("retries", {"retries_edit": "-1"}, "0 or more"),
    ("retries", {"retries_edit": "x"}, "whole number"),
    ("max_tasks_per_worker", {"max_tasks_edit": "0"}, "at least 1"),
    ("initializer", {"initializer_edit": "no_such_module_xyz:setup"}, "no module named"),
    ("initializer", {"initializer_edit": f"{SAMPLE_TASKS}:load_state", "backend": "dask"},
     "not available on the dask backend"),
    ("scheduler", {"backend": "dask", "scheduler_edit": "http://10.0.0.5:8786"}, "unknown scheme 'http'"),
    ("scheduler", {"backend": "dask", "scheduler_edit": "tcp://10.0.0.5:99999"}, "from 1 to 65535"),
    ("scheduler", {"backend": "dask", "scheduler_edit": "tcp://:8786"}, "no host"),
    ("scheduler", {"backend": "dask", "scheduler_edit": "two words"}, "not a host name"),
    # a good address, but not the one this window's engine was made with (a local cluster)
]


@pytest.mark.parametrize(("field", "values", "message"), BAD_FIELDS,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD_FIELDS)])
def test_each_bad_field_shows_its_message_and_creates_no_job(qtbot, fake_window, field, values, message):
    panel = fake_window.launch_panel
    panel.set_builtin("sleep")
    _set(panel, **values)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.checking(), timeout=CHECK_WAIT_MS)  # user code is checked in a child process
    assert message in panel.error_text(field), panel.errors()
    assert set(panel.errors()) == {field}, panel.errors()
    assert fake_window.engine.submitted == []
    assert fake_window.jobs == {}
    label = panel.findChild(type(panel.description), f"error_{field}")
    assert label is not None and label.isVisibleTo(panel)


def test_several_bad_fields_are_all_marked_and_fixing_them_clears_the_marks(qtbot, fake_window):
    panel = fake_window.launch_panel
    panel.set_builtin("primes")
    _set(panel, target_edit="nope:nope", range_stop="x", kwargs_edit="[]", chunksize_edit="0", timeout_edit="-1",
         retries_edit="r", max_tasks_edit="0", backend="dask", scheduler_edit="tcp://host:port",
         initializer_edit="nope:nope")
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.checking(), timeout=CHECK_WAIT_MS)
    assert set(panel.errors()) == set(FIELDS) - {"backend"}  # the backend is only wrong without Dask installed
    assert fake_window.engine.submitted == []

    panel.set_builtin("noop")
    _set(panel, range_stop="5", backend="processes")  # choosing another backend takes the scheduler's mark away
    for edit in (panel.chunksize_edit, panel.timeout_edit, panel.retries_edit, panel.max_tasks_edit,
                 panel.initializer_edit):
        qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(edit, Qt.Key.Key_Backspace)  # typing in a field takes its mark away
    assert panel.errors() == {}
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.errors() == {}
    [spec] = fake_window.engine.submitted
    assert isinstance(spec, JobSpec) and spec.inputs.total == 5 and spec.target.text == "noop"


def test_a_good_form_builds_the_spec_the_cli_would(qtbot, fake_window):
    panel = fake_window.launch_panel
    panel.set_builtin("primes")
    assert panel.description.text().startswith("Count primes")
    _set(panel, range_start="2", range_stop="12", range_step="2", kwargs_edit='{"size": 100}', chunksize_edit="3",
         timeout_edit="2.5", retries_edit="1", max_tasks_edit="7")
    with qtbot.waitSignal(panel.launch_requested, timeout=1000) as blocker:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    spec = blocker.args[0]
    expected = JobSpec.create("primes", "range:2:12:2", kwargs='{"size": 100}', chunksize="3", timeout="2.5",
                              retries="1", max_tasks_per_worker="7")
    assert (spec.target.text, spec.inputs.text, dict(spec.kwargs), spec.chunksize, spec.timeout, spec.retries,
            spec.max_tasks_per_worker) == (expected.target.text, expected.inputs.text, dict(expected.kwargs),
                                           3, 2.5, 1, 7)


def test_json_and_file_inputs(qtbot, fake_window, tmp_path: Path):
    panel = fake_window.launch_panel
    panel.set_builtin("noop")
    panel.input_kind.setCurrentIndex(1)
    panel.json_edit.setText("[1, 2, 3]")
    panel.start()
    assert fake_window.engine.submitted[-1].inputs.total == 3
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("1\n\n2\nhello\n")
    panel.input_kind.setCurrentIndex(2)
    panel.inputs_file_edit.setText(str(inputs))
    panel.start()
    assert fake_window.engine.submitted[-1].inputs.total == 3
    assert panel.errors() == {}


def test_custom_target_from_a_file_and_its_function_picker(qtbot, fake_window):
    panel = fake_window.launch_panel
    panel.choose_target_file(str(SAMPLE_TASKS))
    names = [panel.function_combo.itemText(i) for i in range(panel.function_combo.count())]
    assert names == functions_in_file(str(SAMPLE_TASKS)) and "square" in names
    assert panel.function_combo.isVisibleTo(panel)
    panel.function_combo.setCurrentIndex(names.index("square"))
    panel.function_combo.activated.emit(names.index("square"))
    assert panel.target_edit.text() == f"{SAMPLE_TASKS}:square"
    _set(panel, inputs="range:4", kwargs_edit="")
    with qtbot.waitSignal(panel.launch_requested, timeout=CHECK_WAIT_MS):
        panel.start()
    assert panel.errors() == {}
    assert fake_window.engine.submitted[-1].target.function == "square"


def test_a_file_with_a_syntax_error_is_reported_on_the_target(qtbot, fake_window, tmp_path: Path):
    broken = tmp_path / "broken.py"
    broken.write_text("def f(x):\n    return x +\n")
    panel = fake_window.launch_panel
    panel.choose_target_file(str(broken))
    assert "syntax error" in panel.error_text("target")
    panel.target_edit.setText(f"{broken}:f")
    panel.start()
    qtbot.waitUntil(lambda: not panel.checking(), timeout=CHECK_WAIT_MS)
    assert "syntax error" in panel.error_text("target")
    assert fake_window.engine.submitted == []


def test_last_launch_settings_persist(qtbot, settings):
    from poolscope.gui.widgets.launch_panel import LaunchPanel

    panel = LaunchPanel()
    qtbot.addWidget(panel)
    panel.set_builtin("collatz")
    _set(panel, range_stop="33", kwargs_edit='{"size": 10}', chunksize_edit="4", timeout_edit="9", retries_edit="2")
    panel.save_settings(settings)
    settings.sync()
    again = LaunchPanel()
    qtbot.addWidget(again)
    again.restore_settings(settings)
    assert again.target_edit.text() == "collatz"
    assert (again.range_stop.text(), again.kwargs_edit.text(), again.chunksize_edit.text(), again.timeout_edit.text(),
            again.retries_edit.text()) == ("33", '{"size": 10}', "4", "9", "2")
    assert again.backend() == "processes"


def test_backend_and_scheduler_persist_and_reach_the_spec(qtbot, fake_window, settings):
    from poolscope.gui.widgets.launch_panel import LaunchPanel

    panel = fake_window.launch_panel
    panel.set_builtin("noop")
    assert panel.backend() == "processes" and not panel.scheduler_row.isVisibleTo(panel)
    panel.set_backend("threads")
    assert not panel.scheduler_row.isVisibleTo(panel)
    assert "GIL" in panel.backend_description.text()
    panel.start()
    assert fake_window.engine.submitted[-1].backend == "threads"
    panel.set_backend("dask")
    assert panel.scheduler_row.isVisibleTo(panel)
    panel.start()  # empty address: a local cluster, which is what this window's engine uses
    assert panel.errors() == {} and fake_window.engine.submitted[-1].backend == "dask"

    panel.scheduler_edit.setText("tcp://10.0.0.5:8786")
    panel.save_settings(settings)
    settings.sync()
    again = LaunchPanel()
    qtbot.addWidget(again)
    again.restore_settings(settings)
    assert again.backend() == "dask" and again.scheduler_text() == "tcp://10.0.0.5:8786"
    assert again.scheduler_row.isVisibleTo(again)


def test_any_scheduler_is_taken_until_dask_starts_then_only_that_one(qtbot, settings):
    from poolscope.gui.main_window import QUIT_TERMINATE, MainWindow
    from tests.gui.conftest import FakeEngine, close

    engine = FakeEngine(dask_scheduler="tcp://10.0.0.5:8786")
    window = MainWindow(engine, settings=settings, dask_scheduler="10.0.0.5:8786")
    try:
        panel = window.launch_panel
        assert panel.scheduler_text() == "10.0.0.5:8786"  # filled in from the command line
        panel.set_builtin("noop")
        panel.set_backend("dask")
        panel.scheduler_edit.setText("10.0.0.7:8786")  # Dask has not started: another one is fine
        panel.start()
        assert panel.errors() == {} and engine.dask_scheduler == "tcp://10.0.0.7:8786"
        engine.dask_started = True  # as the engine marks it when the first Dask job starts it
        panel.scheduler_edit.setText("tcp://10.0.0.7")  # the same address, written out differently
        panel.start()
        assert panel.errors() == {}
        assert [spec.backend for spec in engine.submitted] == ["dask", "dask"]
        for other in ("", "tcp://10.0.0.6:8786"):
            panel.scheduler_edit.setText(other)
            panel.start()
            message = panel.error_text("scheduler")
            assert "already runs Dask jobs on the scheduler at tcp://10.0.0.7:8786" in message, message
            assert "poolscope gui --backend dask" in message
        assert len(engine.submitted) == 2
    finally:
        close(window, QUIT_TERMINATE)


def test_choosing_dask_without_it_installed_shows_how_to_install_it(qtbot, fake_window, monkeypatch):
    import dataclasses

    from poolscope.core import backends

    # The one place availability is decided: the package the registry says Dask needs.
    missing = dataclasses.replace(backends.REGISTRY["dask"], requires="poolscope_test_no_such_package")
    monkeypatch.setitem(backends.REGISTRY, "dask", missing)
    panel = fake_window.launch_panel
    panel.set_builtin("noop")
    panel.set_backend("dask")
    assert backends.DASK_INSTALL_HINT in panel.error_text("backend")  # said at once, before Start
    panel.start()
    assert panel.errors() == {"backend": backends.DASK_INSTALL_HINT}
    assert fake_window.engine.submitted == []
    panel.set_backend("processes")
    assert panel.errors() == {}


@pytest.mark.parametrize("spec", [
    JobSpec.create("primes", "range:2:12:2", kwargs='{"size": 100}', chunksize="3", timeout="2.5", retries="1",
                   max_tasks_per_worker="7"),
    JobSpec.create(f"{SAMPLE_TASKS}:add", 'json:[1, 2, 3]', kwargs='{"offset": 5}', backend="threads",
                   initializer=f"{SAMPLE_TASKS}:load_state"),
])
def test_the_form_shows_a_jobs_settings_and_starts_the_same_job(qtbot, fake_window, spec):
    """What ``poolscope gui --run`` shows: the job it started, ready to change and start again."""
    panel = fake_window.launch_panel
    panel.set_builtin("sleep")  # something else first
    panel.show_spec(spec)
    with qtbot.waitSignal(panel.launch_requested, timeout=CHECK_WAIT_MS) as blocker:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    again = blocker.args[0]
    assert (again.target.text, again.inputs.text, dict(again.kwargs), again.chunksize, again.timeout, again.retries,
            again.max_tasks_per_worker, again.backend, again.initializer) == (
        spec.target.text, spec.inputs.text, dict(spec.kwargs), spec.chunksize, spec.timeout, spec.retries,
        spec.max_tasks_per_worker, spec.backend, spec.initializer)
