"""The launch panel: its boxes put together as one form, checked as a whole on Start, which emits
the validated :class:`JobSpec` (see the package's docstring for how)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QPushButton, QVBoxLayout, QWidget

from poolscope.core.backends import backend_info
from poolscope.core.backends.address import parse_scheduler_address
from poolscope.core.errors import SpecError, SpecErrors
from poolscope.core.jobs import JobSpec, field_errors
from poolscope.core.targets import Target, parse_target
from poolscope.gui.shortcuts import key_sequence, key_text
from poolscope.gui.widgets.launch_panel.backend_box import BackendBox
from poolscope.gui.widgets.launch_panel.checks import CHECKED_FIELDS, TargetChecks
from poolscope.gui.widgets.launch_panel.fields import SETTING_ROWS, FormFields
from poolscope.gui.widgets.launch_panel.file_drop import PythonFileDrops
from poolscope.gui.widgets.launch_panel.inputs_box import InputsBox
from poolscope.gui.widgets.launch_panel.saved_settings import SavedSettings
from poolscope.gui.widgets.launch_panel.task_box import TaskBox

__all__ = ["LaunchPanel"]


class LaunchPanel(QWidget):
    """The form on the left of the window."""

    launch_requested = Signal(object)  # JobSpec: a validated job the user asked to start

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from poolscope.tasks import BUILTIN_TASKS

        self.fields = FormFields()  # every field by name: its text, its neutral text, its mark
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        # Each box makes its own widgets; the panel names the ones the window and its tests reach.
        self.task_box = TaskBox(BUILTIN_TASKS, self.fields)
        (self.builtin_list, self.description, self.target_edit, self.browse_target, self.function_combo,
         self.target_status) = (self.task_box.builtin_list, self.task_box.description, self.task_box.target_edit,
                                self.task_box.browse_target, self.task_box.function_combo,
                                self.task_box.target_status)
        layout.addWidget(self.task_box)

        self.inputs_box = InputsBox(self.fields)
        (self.input_kind, self.input_stack, self.range_start, self.range_stop, self.range_step, self.json_edit,
         self.inputs_file_edit) = (self.inputs_box.input_kind, self.inputs_box.input_stack,
                                   self.inputs_box.range_start, self.inputs_box.range_stop,
                                   self.inputs_box.range_step, self.inputs_box.json_edit,
                                   self.inputs_box.inputs_file_edit)
        layout.addWidget(self.inputs_box)

        self.backend_box = BackendBox(self.fields)
        self.backend_combo, self.backend_description, self.scheduler_row, self.scheduler_edit = (
            self.backend_box.backend_combo, self.backend_box.backend_description, self.backend_box.scheduler_row,
            self.backend_box.scheduler_edit)
        self._scheduler_check: Callable[[str | None], str | None] | None = None  # set by the window
        layout.addWidget(self.backend_box)

        settings_box = QGroupBox("Settings")
        form = QFormLayout(settings_box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for field_name, label, placeholder, tip, neutral in SETTING_ROWS:
            edit = self.fields.text_field(field_name, placeholder, tip, neutral)
            form.addRow(label, edit)
            form.addRow(self.fields.error_label(field_name, edit))
        (self.kwargs_edit, self.chunksize_edit, self.timeout_edit, self.retries_edit, self.max_tasks_edit,
         self.initializer_edit) = (self.fields.text_edits[row[0]] for row in SETTING_ROWS)
        layout.addWidget(settings_box)

        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("start")
        self.start_button.setDefault(True)
        self.start_button.setShortcut(key_sequence("start_job"))
        self.start_button.setToolTip(f"Start the job ({key_text('start_job')})")
        self.start_button.setMinimumHeight(32)
        self.start_button.clicked.connect(self.start)
        layout.addWidget(self.start_button)
        layout.addStretch(1)

        for edit in (self.target_edit, *self.fields.text_edits.values()):
            edit.returnPressed.connect(self.start)

        self.checks = TargetChecks(self.target_edit, self.initializer_edit, self.kwargs_edit, self.target_status,
                                   self.fields, self)
        self.checks.start_due.connect(lambda: self._launch(fresh_only=False))
        self.saved = SavedSettings(self.task_box, self.inputs_box, self.backend_box, self.fields)
        self.task_box.builtin_picked.connect(self._builtin_picked)
        self.task_box.own_target_shown.connect(self.saved.own_target_shown)

        if self.builtin_list.count():
            self.builtin_list.setCurrentRow(0)
        self.backend_box.show_chosen()
        self.file_drops = PythonFileDrops(self)

    # -- the form's fields -------------------------------------------------------------------------

    def error_text(self, field_name: str) -> str:
        """The problem shown under ``field_name`` ('' when none is shown)."""
        return self.fields.error_text(field_name)

    def errors(self) -> dict[str, str]:
        return self.fields.errors()

    def show_errors(self, errors: dict[str, str]) -> None:
        self.fields.show_errors(errors)

    def backend(self) -> str:
        """The chosen backend's core name (processes, threads or dask)."""
        return self.backend_box.backend()

    def set_backend(self, name: str) -> None:
        self.backend_box.set_backend(name)

    def scheduler_text(self) -> str:
        return self.backend_box.scheduler_text()

    def set_scheduler_address(self, address: str | None) -> None:
        self.backend_box.set_scheduler_address(address)

    def set_scheduler_check(self, check: Callable[[str | None], str | None] | None) -> None:
        """``check(address)`` (the full address, or None for a local cluster) returns why the
        window's engine cannot run Dask jobs there, or None when it can; asked on Start."""
        self._scheduler_check = check

    def set_builtin(self, name: str) -> None:
        """Pick a built-in task (and fill in its default inputs and keyword arguments)."""
        self.task_box.set_builtin(name)

    def _builtin_picked(self, task: Any) -> None:
        self.set_inputs_text(task.default_inputs)
        self.kwargs_edit.setText(json.dumps(task.default_kwargs) if task.default_kwargs else "")
        self.kwargs_edit.setCursorPosition(0)  # show the start of a long object
        self.saved.settings_from = task.name
        self.show_errors({})
        self.check_targets()  # a built-in needs no check: this ends one under way, and its status

    def choose_target_file(self, path: str) -> None:
        """Use a function of ``path``: list its functions and pick the first."""
        self.task_box.choose_target_file(path)

    def set_inputs_text(self, text: str) -> None:
        """Show an input spec string (``range:...``, ``json:...``, ``file:...``) in the form."""
        self.inputs_box.set_inputs_text(text)

    def inputs_text(self) -> str:
        """The input spec the form describes (raises SpecError for a range with no stop)."""
        return self.inputs_box.inputs_text()

    def show_spec(self, spec: JobSpec) -> None:
        """Fill the form with a job's settings (e.g. the job ``poolscope gui --run`` started)."""
        target = spec.target.text
        if target in self.task_box.builtins:
            self.set_builtin(target)
        else:
            self.target_edit.setText(target)
            self.task_box.target_typed(target)
        self.set_inputs_text(spec.inputs.text)
        self.kwargs_edit.setText(json.dumps(dict(spec.kwargs)) if spec.kwargs else "")
        for edit, value in ((self.chunksize_edit, spec.chunksize), (self.timeout_edit, spec.timeout),
                            (self.max_tasks_edit, spec.max_tasks_per_worker)):
            edit.setText("" if value is None else f"{value:g}" if isinstance(value, float) else str(value))
        self.retries_edit.setText(str(spec.retries))
        self.initializer_edit.setText(spec.initializer.text if spec.initializer is not None else "")
        self.set_backend(spec.backend)
        self.saved.settings_from = target
        self.check_targets()

    # -- starting --------------------------------------------------------------------------------

    def build_spec(self, *, fresh_only: bool = True) -> JobSpec | None:
        """Check every field; show each problem next to its field; the spec if all are good.

        A target of user code (or an initializer) is judged by its check's verdict, never by
        importing it here. Without a verdict for what the form says now (or, with ``fresh_only``,
        when a file it loaded has changed since), a check starts and the spec is None until it
        ends (:meth:`checking`).
        """
        errors: dict[str, str] = {}

        def check(call: Any, *args: Any) -> Any:
            try:
                return call(*args)
            except SpecError as exc:
                errors.setdefault(exc.field, exc.message)
                return None

        targets: dict[str, Target | None] = {}
        waiting = False
        for field_name in CHECKED_FIELDS:
            text = self.checks.checked_text(field_name)
            if field_name == "initializer" and not text:
                targets[field_name] = None
                continue
            try:
                target = parse_target(text)
            except SpecError as exc:
                errors.setdefault(field_name, exc.message)
                continue
            if not target.is_user_code:
                targets[field_name] = target
                continue
            verdict = self.checks.verdict(field_name, fresh_only=fresh_only)
            if verdict is None:
                waiting = True
            elif verdict.ok:
                targets[field_name] = target
            else:
                errors.setdefault(self.checks.verdict_field(field_name, verdict), verdict.message)
        inputs = check(self.inputs_text)
        backend = self.backend()
        if backend_info(backend).takes_scheduler:
            address = check(parse_scheduler_address, self.scheduler_edit.text())
            if "scheduler" not in errors and backend_info(backend).available() and self._scheduler_check is not None:
                problem = self._scheduler_check(address)
                if problem:
                    errors["scheduler"] = problem
        # Every other field is parsed once, by the core's own parsers, each problem under its field.
        fields: dict[str, Any] = {key: self.fields.text_edits[key].text() for key, *_ in SETTING_ROWS}
        fields.update(retries=fields["retries"].strip() or "0", backend=backend,
                      initializer=targets.get("initializer"))
        spec = None
        if waiting or errors:
            for field_name, message in field_errors(inputs if inputs is not None else "", **fields).items():
                errors.setdefault(field_name, message)
            if waiting:
                self.check_targets(fresh_only=fresh_only)
        else:
            chosen = targets["target"]
            assert chosen is not None  # parsed, and checked when it is user code (else an error above)
            try:
                spec = JobSpec.create(chosen, inputs, **fields)
            except SpecErrors as exc:
                errors.update(exc.errors)
        shown: dict[str, str] = {}
        for field_name, message in errors.items():
            if self.fields.has_row(field_name):
                shown[field_name] = message
            else:  # a field the panel has no row for: say so under the target
                shown.setdefault("target", f"{field_name}: {message}")
        self.show_errors(shown)
        return spec

    def start(self) -> None:
        """Start pressed: emit launch_requested with the job, or mark what is wrong.

        If a target has to be checked first, the job starts when its check passes.
        """
        self.checks.start_pending = False
        self._launch(fresh_only=True)

    def _launch(self, *, fresh_only: bool) -> None:
        spec = self.build_spec(fresh_only=fresh_only)
        if spec is not None:
            if spec.target.is_user_code:
                self.saved.remember(spec.target.text)
            self.launch_requested.emit(spec)
        elif self.checking() and not self.errors():
            self.checks.start_when_passed()

    # -- checking user code (in child processes) ----------------------------------------------

    def checking(self) -> bool:
        """Whether a check of the target or the initializer is under way."""
        return self.checks.checking()

    def check_targets(self, *, fresh_only: bool = False) -> None:
        """Start a check of each field naming user code that has no verdict for what it says now."""
        self.checks.check(fresh_only=fresh_only)

    def cancel_checks(self) -> None:
        """Kill every check under way (the window is closing); a pending Start is dropped."""
        self.checks.cancel_all()

    @property
    def check_timeout(self) -> float:
        """Seconds a check may take before it is killed and refused."""
        return self.checks.timeout

    @check_timeout.setter
    def check_timeout(self, seconds: float) -> None:
        self.checks.timeout = seconds

    @property
    def _checks(self) -> dict[str, Any]:
        """The checks under way, by field (what the tests of killing them look at)."""
        return self.checks.running

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        window = self.window()
        if window is not self:
            self.checks.watch_window(window)  # its closing ends our checks

    # -- persistence -----------------------------------------------------------------------------

    def save_settings(self, settings: QSettings) -> None:
        self.saved.save(settings)

    def restore_settings(self, settings: QSettings) -> None:
        self.saved.restore(settings)
