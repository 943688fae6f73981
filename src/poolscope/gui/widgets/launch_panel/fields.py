"""The launch panel's fields, declared once: each text field by its settings key with its neutral
text, and the mark and message the core's verdict puts under each field."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QWidget

__all__ = ["FIELDS", "SETTING_ROWS", "FormFields"]

#: The rows of the Settings box: (field, label, placeholder, tooltip, neutral text). The field is
#: the name a SpecError gives, the key the settings are saved under, and the edit's object name.
SETTING_ROWS = (
    ("kwargs", "Keyword args", '{"size": 1000}', "Keyword arguments for every task, as a JSON object", ""),
    ("chunksize", "Chunk size", "auto", "Tasks sent to a worker at a time (blank: sized automatically)", ""),
    ("timeout", "Timeout (s)", "none", "Seconds a task may run before its worker is killed (blank: no limit)", ""),
    ("retries", "Retries", "", "How often a task whose worker crashed is run again", "0"),
    ("max_tasks_per_worker", "Max tasks/worker", "unlimited", "Replace a worker after it ran this many of the "
                                                              "job's tasks (blank: never)", ""),
    ("initializer", "Initializer", "none", "package.module:function or path/to/file.py:function, called once in "
                                           "each worker before the job's first task (e.g. to load a model)", ""),
)
#: The fields a SpecError can name, in the order they appear on the panel.
FIELDS = ("target", "inputs", "backend", "scheduler", *(row[0] for row in SETTING_ROWS))

_ERROR_STYLE = "QLineEdit { border: 1px solid #b91c1c; border-radius: 2px; padding: 1px; }"
_COMBO_ERROR_STYLE = "QComboBox { border: 1px solid #b91c1c; border-radius: 2px; padding: 1px 4px; }"


class FormFields:
    """The form's fields by name; the boxes of the panel register theirs here as they make them."""

    def __init__(self) -> None:
        self._errors: dict[str, QLabel] = {}  # field -> the label under it that shows its problem
        self._edits: dict[str, QWidget] = {}  # field -> the widget marked when it is bad
        # Every text field but the target, by its settings key, in the form's order, and the text
        # it has for a target of one's own (no built-in's defaults): what is saved, restored and
        # remembered is read from here, so a field is declared once.
        self.text_edits: dict[str, QLineEdit] = {}
        self.neutral: dict[str, Any] = {"input_kind": 0}

    def text_field(self, key: str, placeholder: str, tip: str, neutral: str = "") -> QLineEdit:
        """A text field of the form, registered under its settings key (also its object name)."""
        edit = QLineEdit(neutral)
        edit.setObjectName(key)
        edit.setPlaceholderText(placeholder)
        edit.setToolTip(tip)
        self.text_edits[key] = edit
        self.neutral[key] = neutral
        return edit

    def setting_edits(self) -> dict[str, QLineEdit]:
        """The text fields of the form's settings (not the target, backend or scheduler), by key."""
        return {key: edit for key, edit in self.text_edits.items() if key in self.neutral}

    def error_label(self, field_name: str, edit: QWidget) -> QLabel:
        """The label that shows ``field_name``'s problem; ``edit`` (a line edit, a combo box, or a
        box of line edits) is marked with it, and typing in it takes the mark away."""
        label = QLabel()
        label.setObjectName(f"error_{field_name}")
        label.setWordWrap(True)
        label.setStyleSheet("color: #b91c1c;")
        label.setVisible(False)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._errors[field_name] = label
        self._edits[field_name] = edit
        for line_edit in _line_edits(edit):
            line_edit.textEdited.connect(lambda _text, name=field_name: self._clear_error(name))
        return label

    def _clear_error(self, field_name: str) -> None:
        """The user is fixing ``field_name``: take its mark away until Start checks it again."""
        label = self._errors[field_name]
        if not label.isHidden():
            label.setVisible(False)
            label.setText("")
            for line_edit in _line_edits(self._edits[field_name]):
                line_edit.setStyleSheet("")

    def has_row(self, field_name: str) -> bool:
        return field_name in self._errors

    def error_text(self, field_name: str) -> str:
        """The problem shown under ``field_name`` ('' when none is shown)."""
        label = self._errors[field_name]
        return label.text() if not label.isHidden() else ""

    def errors(self) -> dict[str, str]:
        return {name: label.text() for name, label in self._errors.items() if not label.isHidden()}

    def show_errors(self, errors: dict[str, str]) -> None:
        for field_name in self._errors:
            self.set_error(field_name, errors.get(field_name, ""))

    def set_error(self, field_name: str, message: str) -> None:
        label = self._errors[field_name]
        label.setText(message)
        label.setVisible(bool(message))
        edit = self._edits[field_name]
        if isinstance(edit, QComboBox):
            edit.setStyleSheet(_COMBO_ERROR_STYLE if message else "")
        else:
            for line_edit in _line_edits(edit):
                line_edit.setStyleSheet(_ERROR_STYLE if message else "")


def _line_edits(edit: QWidget) -> list[QLineEdit]:
    """The line edits a field's mark goes on: the field itself, or those of a box of them."""
    return [edit] if isinstance(edit, QLineEdit) else edit.findChildren(QLineEdit)
