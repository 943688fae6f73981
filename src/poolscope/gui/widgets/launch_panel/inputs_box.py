"""The launch panel's Inputs box: a range, a JSON list or a file of inputs, to and from the input
spec string the core parses (``range:...``, ``json:...``, ``file:...``)."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from poolscope.core.errors import SpecError
from poolscope.core.inputs import KINDS
from poolscope.gui.widgets.launch_panel.fields import FormFields

__all__ = ["InputsBox"]

_INPUT_KIND_LABELS = ("Range", "JSON list", "File of inputs")  # the pages of the inputs stack: KINDS, in order


class InputsBox(QGroupBox):
    """The kind of inputs, and a page of fields for each kind."""

    def __init__(self, fields: FormFields) -> None:
        super().__init__("Inputs")
        inputs_layout = QVBoxLayout(self)
        self.input_kind = QComboBox()
        self.input_kind.setObjectName("input_kind")
        self.input_kind.addItems(_INPUT_KIND_LABELS)
        inputs_layout.addWidget(self.input_kind)
        self.input_stack = QStackedWidget()
        self.input_stack.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.input_kind.currentIndexChanged.connect(self.input_stack.setCurrentIndex)

        range_page = QWidget()
        range_layout = QHBoxLayout(range_page)
        range_layout.setContentsMargins(0, 0, 0, 0)
        for part, neutral in (("start", "0"), ("stop", ""), ("step", "1")):
            range_layout.addWidget(QLabel(part))
            range_layout.addWidget(fields.text_field(f"range_{part}", part, f"range {part}", neutral), 1)
        self.range_start, self.range_stop, self.range_step = (
            fields.text_edits[f"range_{part}"] for part in ("start", "stop", "step"))
        self.input_stack.addWidget(range_page)

        self.json_edit = fields.text_field("json_inputs", "[1, 2, 3]", "A JSON list: one input per item")
        self.input_stack.addWidget(self.json_edit)

        file_page = QWidget()
        file_layout = QHBoxLayout(file_page)
        file_layout.setContentsMargins(0, 0, 0, 0)
        self.inputs_file_edit = fields.text_field("inputs_file", "one input per line (JSON or text)",
                                                  "A file of inputs, one per line (JSON or text)")
        browse_inputs = QPushButton("File…")
        browse_inputs.clicked.connect(self._browse_inputs)
        file_layout.addWidget(self.inputs_file_edit, 1)
        file_layout.addWidget(browse_inputs)
        self.input_stack.addWidget(file_page)
        inputs_layout.addWidget(self.input_stack)
        inputs_layout.addWidget(fields.error_label("inputs", self.input_stack))

    def _browse_inputs(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a file of inputs", os.getcwd(), "All files (*)")
        if path:
            self.inputs_file_edit.setText(path)

    def set_kind(self, value: Any) -> None:
        """Show the page of a saved kind (its index), if it is one."""
        try:
            self.input_kind.setCurrentIndex(max(0, min(2, int(value))))
        except (TypeError, ValueError):
            pass

    def set_inputs_text(self, text: str) -> None:
        """Show an input spec string (``range:...``, ``json:...``, ``file:...``) in the form."""
        kind, _, rest = text.partition(":")
        if kind == "range":
            parts = rest.split(":")
            start, stop, step = ("0", parts[0], "1") if len(parts) == 1 else (parts + ["1"])[:3]
            self.range_start.setText(start)
            self.range_stop.setText(stop)
            self.range_step.setText(step)
            self.input_kind.setCurrentIndex(0)
        elif kind == "json":
            self.json_edit.setText(rest)
            self.input_kind.setCurrentIndex(1)
        elif kind == "file":
            self.inputs_file_edit.setText(rest)
            self.input_kind.setCurrentIndex(2)

    def inputs_text(self) -> str:
        """The input spec the form describes (raises SpecError for a range with no stop)."""
        kind = KINDS[self.input_kind.currentIndex()]
        if kind == "range":
            start = self.range_start.text().strip() or "0"
            stop = self.range_stop.text().strip()
            step = self.range_step.text().strip() or "1"
            if not stop:
                raise SpecError("inputs", "the range needs a stop (the first number not included)")
            return f"range:{start}:{stop}:{step}"
        if kind == "json":
            return "json:" + self.json_edit.text().strip()
        path = self.inputs_file_edit.text().strip()
        return "file:" + path
