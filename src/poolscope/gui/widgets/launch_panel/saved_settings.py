"""The launch form's settings: saved to and restored from QSettings, and the ones each target of
one's own was last started with, shown again when it is."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QSettings

from poolscope.core.backends import REGISTRY
from poolscope.gui.widgets.launch_panel.backend_box import BackendBox
from poolscope.gui.widgets.launch_panel.fields import SETTING_ROWS, FormFields
from poolscope.gui.widgets.launch_panel.inputs_box import InputsBox
from poolscope.gui.widgets.launch_panel.task_box import TaskBox

__all__ = ["MAX_REMEMBERED_TARGETS", "SavedSettings"]

MAX_REMEMBERED_TARGETS = 50  # own targets whose last settings are kept


class SavedSettings:
    """The whole form by settings key, read from the fields the boxes registered (FormFields)."""

    def __init__(self, task: TaskBox, inputs: InputsBox, backend: BackendBox, fields: FormFields) -> None:
        self._task = task
        self._inputs = inputs
        self._backend = backend
        self._fields = fields
        # The form's settings came from this target (a built-in's defaults, or an own target's
        # last ones); None: typed by hand. Own targets' last settings, by target text.
        self.settings_from: str | None = None
        self.remembered: dict[str, dict[str, Any]] = {}

    def values(self) -> dict[str, Any]:
        """The whole form, by settings key."""
        return {"target": self._task.target_edit.text(), "input_kind": self._inputs.input_kind.currentIndex(),
                "backend": self._backend.backend(),
                **{key: edit.text() for key, edit in self._fields.text_edits.items()}}

    def remember(self, target: str) -> None:
        """Keep the settings a job of an own target was started with, for the next time it is typed."""
        values = self.values()
        self.remembered.pop(target, None)
        self.remembered[target] = {key: values[key] for key in self._fields.neutral}
        while len(self.remembered) > MAX_REMEMBERED_TARGETS:
            del self.remembered[next(iter(self.remembered))]
        self.settings_from = target

    def own_target_shown(self, target: str) -> None:
        """The form shows a target of one's own: its last settings, or neutral ones instead of a
        built-in's (a built-in's inputs and keyword arguments are not for another function)."""
        if target in self.remembered and self.settings_from != target:
            self._apply(self.remembered[target])
            self.settings_from = target
        elif self.settings_from in self._task.builtins:
            self._apply(self._fields.neutral)
            self.settings_from = None

    def _apply(self, values: dict[str, Any]) -> None:
        for key, edit in self._fields.setting_edits().items():
            if key in values and values[key] is not None:
                edit.setText(str(values[key]))
        self._inputs.set_kind(values.get("input_kind", 0))
        for name in ("inputs", *(row[0] for row in SETTING_ROWS)):
            self._fields.set_error(name, "")

    def save(self, settings: QSettings) -> None:
        settings.beginGroup("launch")
        for key, value in self.values().items():
            settings.setValue(key, value)
        settings.setValue("own_targets", json.dumps(self.remembered))
        settings.endGroup()

    def restore(self, settings: QSettings) -> None:
        settings.beginGroup("launch")
        stored = {key: settings.value(key) for key in self.values() if settings.contains(key)}
        remembered = settings.value("own_targets")
        settings.endGroup()
        try:
            loaded = json.loads(str(remembered)) if remembered else {}
        except ValueError:
            loaded = {}
        if isinstance(loaded, dict):
            self.remembered = {str(key): value for key, value in loaded.items() if isinstance(value, dict)}
        if not stored:
            return
        target = str(stored.get("target", ""))
        if target in self._task.builtins:
            self._task.set_builtin(target)
        else:
            self._task.target_edit.setText(target)
            self._task.target_typed(target)
        for key, edit in self._fields.text_edits.items():
            if key in stored and stored[key] is not None:
                edit.setText(str(stored[key]))
        self._inputs.set_kind(stored.get("input_kind", 0))
        self.settings_from = target
        if stored.get("backend") in REGISTRY:
            self._backend.set_backend(str(stored["backend"]))
