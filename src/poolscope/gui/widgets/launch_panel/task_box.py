"""The launch panel's Task box: what to run, a built-in task or a target of one's own (typed, or a
function of a Python file chosen), and the line that says how its check went."""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from poolscope.core.errors import SpecError
from poolscope.gui.widgets.launch_panel.fields import FormFields

__all__ = ["TaskBox", "functions_in_file"]


def functions_in_file(path: str) -> list[str]:
    """Names of the top-level functions a Python file defines, read without running it.

    Raises :class:`SpecError` (field ``target``) if the file cannot be read or parsed.
    """
    try:
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError as exc:
        raise SpecError("target", f"cannot read {path!r}: {exc.strerror}") from None
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise SpecError("target", f"syntax error in {os.path.basename(path)} line {exc.lineno}: {exc.msg}") from None
    return [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and not node.name.startswith("_")]


class TaskBox(QGroupBox):
    """The built-in tasks, the target's text, a file's functions, and the target's status line."""

    builtin_picked = Signal(object)  # Task: a built-in was picked (its name and description are shown)
    own_target_shown = Signal(str)  # the target's text: the box now shows a target of one's own

    def __init__(self, builtins: Mapping[str, Any], fields: FormFields) -> None:
        super().__init__("Task")
        self.builtins = builtins  # the built-in tasks, by name
        self._fields = fields
        task_layout = QVBoxLayout(self)
        self.builtin_list = QListWidget()
        self.builtin_list.setObjectName("builtin_list")
        for task in builtins.values():
            item = QListWidgetItem(task.name)
            item.setToolTip(task.description)
            item.setData(Qt.ItemDataRole.UserRole, task.name)
            self.builtin_list.addItem(item)
        self.builtin_list.setMaximumHeight(self.builtin_list.sizeHintForRow(0) * len(builtins) + 8)
        self.builtin_list.currentItemChanged.connect(self._builtin_chosen)
        task_layout.addWidget(self.builtin_list)
        self.description = QLabel()
        self.description.setObjectName("description")
        self.description.setWordWrap(True)
        self.description.setStyleSheet("font-style: italic;")  # the palette's text colour: legible on either palette
        task_layout.addWidget(self.description)

        target_row = QHBoxLayout()
        self.target_edit = QLineEdit()
        self.target_edit.setObjectName("target")
        self.target_edit.setPlaceholderText("built-in name, module:function or file.py:function")
        self.target_edit.textEdited.connect(self.target_typed)
        self.browse_target = QPushButton("File…")
        self.browse_target.setToolTip("Choose a Python file, then one of its functions")
        self.browse_target.clicked.connect(self._browse_target)
        target_row.addWidget(self.target_edit, 1)
        target_row.addWidget(self.browse_target)
        task_layout.addWidget(QLabel("Target"))
        task_layout.addLayout(target_row)
        self.function_combo = QComboBox()
        self.function_combo.setObjectName("function")
        self.function_combo.setToolTip("The function of the chosen file to run")
        self.function_combo.setVisible(False)
        self.function_combo.activated.connect(self._function_chosen)
        task_layout.addWidget(self.function_combo)
        self._target_file: str | None = None  # the file whose functions function_combo lists
        task_layout.addWidget(fields.error_label("target", self.target_edit))
        self.target_status = QLabel()  # a check under way, or the good verdict (the function's signature)
        self.target_status.setObjectName("target_status")
        self.target_status.setWordWrap(True)
        self.target_status.setStyleSheet("font-style: italic;")  # the text colour: readable on any palette
        self.target_status.setVisible(False)
        self.target_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        task_layout.addWidget(self.target_status)

    def set_builtin(self, name: str) -> None:
        """Pick a built-in task (its box then says :attr:`builtin_picked`)."""
        items = self.builtin_list.findItems(name, Qt.MatchFlag.MatchExactly)
        if items:
            self.builtin_list.setCurrentItem(items[0])
            self._builtin_chosen(items[0], None)

    def _builtin_chosen(self, item: QListWidgetItem | None, _previous: Any) -> None:
        if item is None:
            return
        task = self.builtins[item.data(Qt.ItemDataRole.UserRole)]
        self.description.setText(task.description)
        self.target_edit.setText(task.name)
        self.function_combo.setVisible(False)
        self._target_file = None
        self.builtin_picked.emit(task)

    def target_typed(self, text: str) -> None:
        """The target's text is now ``text`` (typed, or restored): describe it."""
        name = text.strip()
        if name in self.builtins:
            self.description.setText(self.builtins[name].description)
        else:
            self.builtin_list.blockSignals(True)
            self.builtin_list.clearSelection()
            self.builtin_list.setCurrentRow(-1)
            self.builtin_list.blockSignals(False)
            self.description.setText("Your own function: module:function or path/to/file.py:function")
            self.own_target_shown.emit(name)
        if self._target_file is not None and not text.startswith(self._target_file + ":"):
            self.function_combo.setVisible(False)
            self._target_file = None

    def _browse_target(self) -> None:
        start = os.path.dirname(self._target_file) if self._target_file else os.getcwd()
        path, _ = QFileDialog.getOpenFileName(self, "Choose a Python file", start, "Python files (*.py);;All files (*)")
        if path:
            self.choose_target_file(path)

    def choose_target_file(self, path: str) -> None:
        """Use a function of ``path``: list its functions and pick the first."""
        path = os.path.abspath(path)
        try:
            names = functions_in_file(path)
        except SpecError as exc:
            self.target_edit.setText(path + ":")
            self._fields.show_errors({exc.field: exc.message})
            return
        self._target_file = path
        self.function_combo.clear()
        self.function_combo.addItems(names)
        self.function_combo.setVisible(True)
        self.builtin_list.blockSignals(True)
        self.builtin_list.setCurrentRow(-1)
        self.builtin_list.blockSignals(False)
        self.description.setText(f"Functions of {os.path.basename(path)}" if names
                                 else f"{os.path.basename(path)} defines no top-level function")
        self.target_edit.setText(f"{path}:{names[0] if names else ''}")
        self.own_target_shown.emit(self.target_edit.text())
        self._fields.show_errors({})

    def _function_chosen(self, index: int) -> None:
        if self._target_file is not None and index >= 0:
            self.target_edit.setText(f"{self._target_file}:{self.function_combo.itemText(index)}")
            self.own_target_shown.emit(self.target_edit.text())
