"""The launch panel: what to run, over which inputs, with which settings; and a Start button.

Every field is checked with the core's own parsers (the ones the CLI uses) when Start is
pressed; each bad field gets the core's message right under it and no job is created. A good
form emits ``launch_requested`` with a validated :class:`JobSpec`.

A target of the user's own code (and an initializer) is never imported here: it is checked in a
child process with a time limit (core/target_check.py), polled from a timer, as it is typed and
again on Start if its files changed since; the line under the target says a check is under way,
then its verdict. Start waits for that verdict and then starts the job. A newer check kills the
one it supersedes; closing the window kills any still running.

A target of one's own starts from neutral settings, or from the ones last started with it; it
never inherits a built-in's inputs and keyword arguments.

A Python file dropped anywhere on the panel is chosen as "File…" chooses one: its functions are
listed and the first is picked (:class:`PythonFileDrops`).

Where a job runs is part of the form: local processes (default), threads, or a Dask cluster at
a scheduler address (empty: a local cluster). The window decides whether an address can be used
by its engine (:meth:`LaunchPanel.set_scheduler_check`); the panel shows its answer inline.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QMimeData,
    QObject,
    QSettings,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from poolscope.core.backends import REGISTRY, backend_info
from poolscope.core.errors import SpecError, SpecErrors
from poolscope.core.inputs import KINDS
from poolscope.core.jobs import JobSpec, field_errors, parse_kwargs
from poolscope.core.target_check import CHECK_TIMEOUT, CheckResult, TargetCheck
from poolscope.core.targets import Target, parse_target
from poolscope.gui.shortcuts import key_sequence, key_text

__all__ = ["BACKEND_CHOICES", "LaunchPanel", "PythonFileDrops", "dropped_python_file", "functions_in_file",
           "parse_scheduler_address"]

#: The backends the panel offers, in order: (core name, label, what it is for), from the registry.
BACKEND_CHOICES = tuple((info.name, info.label, info.description) for info in REGISTRY.values())

#: Address schemes a Dask scheduler listens on, and the port it listens on by default.
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
DEFAULT_SCHEDULER_PORT = 8786
_HOST = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.]+\]$")

_INPUT_KIND_LABELS = ("Range", "JSON list", "File of inputs")  # the pages of the inputs stack: KINDS, in order

CHECK_POLL_MS = 50  # how often a running check is asked for its verdict (never blocks)
CHECK_DELAY_MS = 400  # a check starts once typing has paused this long
CHECKED_FIELDS = ("target", "initializer")  # fields that may name user code, checked in a child process
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
MAX_REMEMBERED_TARGETS = 50  # own targets whose last settings are kept

_ERROR_STYLE = "QLineEdit { border: 1px solid #b91c1c; border-radius: 2px; padding: 1px; }"
_COMBO_ERROR_STYLE = "QComboBox { border: 1px solid #b91c1c; border-radius: 2px; padding: 1px 4px; }"


def parse_scheduler_address(text: str) -> str | None:
    """A Dask scheduler address in full (``tcp://host:8786``), or None for an empty field (start a
    local cluster). Checks the form only (nothing is contacted); raises :class:`SpecError`
    (field ``scheduler``) saying what is wrong.

    Accepts ``host``, ``host:port`` and ``scheme://host[:port]`` (scheme tcp, tls, ws, wss, ucx;
    an IPv6 host in brackets); the port defaults to 8786, as ``dask scheduler``'s does.
    """
    address = text.strip()
    if not address:
        return None
    def bad(reason: str) -> SpecError:
        return SpecError("scheduler", f"not a Dask scheduler address: {reason} (e.g. tcp://10.0.0.5:8786; "
                                      "empty: start a local cluster)")

    scheme, separator, rest = address.partition("://")
    if not separator:
        scheme, rest = "tcp", address
    scheme = scheme.lower()
    if scheme not in SCHEDULER_SCHEMES:
        raise bad(f"unknown scheme {scheme!r} (one of {', '.join(SCHEDULER_SCHEMES)})")
    if rest.startswith("["):
        end = rest.find("]")
        host, after = (rest[: end + 1], rest[end + 1:]) if end > 0 else (rest, "")
        if after and not after.startswith(":"):
            raise bad(f"unexpected {after!r} after the host")
        port = after[1:] if after else None
    elif rest.count(":") > 1:
        raise bad("an IPv6 host goes in brackets, as in tcp://[::1]:8786")
    else:
        host, colon, port_text = rest.partition(":")
        port = port_text if colon else None
    if not host:
        raise bad("no host")
    if not (_HOST.match(host) or _IPV6.match(host)):
        raise bad(f"{host!r} is not a host name or IP address")
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise bad(f"the port must be a whole number from 1 to 65535, not {port!r}")
    return f"{scheme}://{host}:{int(port) if port else DEFAULT_SCHEDULER_PORT}"


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


def dropped_python_file(mime: QMimeData) -> str | None:
    """The path of the one local ``.py`` file a drag carries, or None."""
    paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []
    return paths[0] if len(paths) == 1 and paths[0].endswith(".py") and os.path.isfile(paths[0]) else None


class PythonFileDrops(QObject):
    """Takes a Python file dropped on the launch panel, on its free space or on any of its fields
    (a line edit would otherwise paste the file's URL into itself), and chooses it as the target
    file (:meth:`LaunchPanel.choose_target_file`). Other drops go where they went before."""

    def __init__(self, panel: LaunchPanel) -> None:
        super().__init__(panel)
        self.panel = panel
        panel.setAcceptDrops(True)
        for widget in [panel, *panel.findChildren(QLineEdit)]:
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            return False
        assert isinstance(event, QDropEvent)  # QDragEnterEvent and QDragMoveEvent are QDropEvents
        path = dropped_python_file(event.mimeData())
        if path is None:
            return False
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        if kind == QEvent.Type.Drop:
            self.panel.choose_target_file(path)
        return True


class LaunchPanel(QWidget):
    """The form on the left of the window."""

    launch_requested = Signal(object)  # JobSpec: a validated job the user asked to start

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from poolscope.tasks import BUILTIN_TASKS

        self._builtins = BUILTIN_TASKS
        self._errors: dict[str, QLabel] = {}  # field -> the label under it that shows its problem
        self._edits: dict[str, QWidget] = {}  # field -> the widget marked when it is bad
        # Every text field but the target, by its settings key, in the form's order, and the text
        # it has for a target of one's own (no built-in's defaults): what is saved, restored and
        # remembered is read from here, so a field is declared once.
        self._text_edits: dict[str, QLineEdit] = {}
        self._neutral: dict[str, Any] = {"input_kind": 0}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        # -- what to run ----------------------------------------------------------------------
        task_box = QGroupBox("Task")
        task_layout = QVBoxLayout(task_box)
        self.builtin_list = QListWidget()
        self.builtin_list.setObjectName("builtin_list")
        for task in BUILTIN_TASKS.values():
            item = QListWidgetItem(task.name)
            item.setToolTip(task.description)
            item.setData(Qt.ItemDataRole.UserRole, task.name)
            self.builtin_list.addItem(item)
        self.builtin_list.setMaximumHeight(self.builtin_list.sizeHintForRow(0) * len(BUILTIN_TASKS) + 8)
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
        self.target_edit.textEdited.connect(self._target_typed)
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
        task_layout.addWidget(self._error_label("target", self.target_edit))
        self.target_status = QLabel()  # a check under way, or the good verdict (the function's signature)
        self.target_status.setObjectName("target_status")
        self.target_status.setWordWrap(True)
        self.target_status.setStyleSheet("font-style: italic;")  # the text colour: readable on any palette
        self.target_status.setVisible(False)
        self.target_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        task_layout.addWidget(self.target_status)
        layout.addWidget(task_box)

        # -- inputs ---------------------------------------------------------------------------
        inputs_box = QGroupBox("Inputs")
        inputs_layout = QVBoxLayout(inputs_box)
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
            range_layout.addWidget(self._text_field(f"range_{part}", part, f"range {part}", neutral), 1)
        self.range_start, self.range_stop, self.range_step = (
            self._text_edits[f"range_{part}"] for part in ("start", "stop", "step"))
        self.input_stack.addWidget(range_page)

        self.json_edit = self._text_field("json_inputs", "[1, 2, 3]", "A JSON list: one input per item")
        self.input_stack.addWidget(self.json_edit)

        file_page = QWidget()
        file_layout = QHBoxLayout(file_page)
        file_layout.setContentsMargins(0, 0, 0, 0)
        self.inputs_file_edit = self._text_field("inputs_file", "one input per line (JSON or text)",
                                                 "A file of inputs, one per line (JSON or text)")
        browse_inputs = QPushButton("File…")
        browse_inputs.clicked.connect(self._browse_inputs)
        file_layout.addWidget(self.inputs_file_edit, 1)
        file_layout.addWidget(browse_inputs)
        self.input_stack.addWidget(file_page)
        inputs_layout.addWidget(self.input_stack)
        inputs_layout.addWidget(self._error_label("inputs", self.input_stack))
        layout.addWidget(inputs_box)

        # -- where it runs --------------------------------------------------------------------
        backend_box = QGroupBox("Run on")
        backend_layout = QVBoxLayout(backend_box)
        self.backend_combo = QComboBox()
        self.backend_combo.setObjectName("backend")
        for name, label, description in BACKEND_CHOICES:
            self.backend_combo.addItem(label, name)
            self.backend_combo.setItemData(self.backend_combo.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        backend_layout.addWidget(self.backend_combo)
        self.backend_description = QLabel()
        self.backend_description.setObjectName("backend_description")
        self.backend_description.setWordWrap(True)
        self.backend_description.setStyleSheet("font-style: italic;")
        backend_layout.addWidget(self.backend_description)
        backend_layout.addWidget(self._error_label("backend", self.backend_combo))
        self.scheduler_row = QWidget()
        scheduler_layout = QHBoxLayout(self.scheduler_row)
        scheduler_layout.setContentsMargins(0, 0, 0, 0)
        self.scheduler_edit = self._text_field("scheduler", "empty: start a local cluster", "The address of a "
                                               "running Dask scheduler, e.g. tcp://10.0.0.5:8786 (the address "
                                               "'dask scheduler' prints); empty: start a local cluster")
        del self._neutral["scheduler"]  # where jobs run is kept when the target changes
        scheduler_layout.addWidget(QLabel("Scheduler"))
        scheduler_layout.addWidget(self.scheduler_edit, 1)
        backend_layout.addWidget(self.scheduler_row)
        backend_layout.addWidget(self._error_label("scheduler", self.scheduler_edit))
        self.backend_combo.currentIndexChanged.connect(self._backend_chosen)
        self._scheduler_check: Callable[[str | None], str | None] | None = None  # set by the window
        layout.addWidget(backend_box)

        # -- settings -------------------------------------------------------------------------
        settings_box = QGroupBox("Settings")
        form = QFormLayout(settings_box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for field_name, label, placeholder, tip, neutral in SETTING_ROWS:
            edit = self._text_field(field_name, placeholder, tip, neutral)
            form.addRow(label, edit)
            form.addRow(self._error_label(field_name, edit))
        (self.kwargs_edit, self.chunksize_edit, self.timeout_edit, self.retries_edit, self.max_tasks_edit,
         self.initializer_edit) = (self._text_edits[row[0]] for row in SETTING_ROWS)
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

        for edit in (self.target_edit, *self._text_edits.values()):
            edit.returnPressed.connect(self.start)

        # -- checks of user code, in child processes -------------------------------------------
        self._checks: dict[str, tuple[tuple[Any, ...], TargetCheck]] = {}  # field -> (its key, the check under way)
        self._verdicts: dict[str, tuple[tuple[Any, ...], CheckResult]] = {}  # field -> (key, the latest verdict)
        self._start_pending = False  # Start was pressed while a check ran: start when it passes
        self.check_timeout = CHECK_TIMEOUT  # seconds a check may take before it is killed and refused
        self._check_poll = QTimer(self)
        self._check_poll.setInterval(CHECK_POLL_MS)
        self._check_poll.timeout.connect(self._poll_checks)
        self._check_delay = QTimer(self)
        self._check_delay.setSingleShot(True)
        self._check_delay.setInterval(CHECK_DELAY_MS)
        self._check_delay.timeout.connect(self.check_targets)
        for edit in (self.target_edit, self.kwargs_edit, self.initializer_edit):
            edit.textEdited.connect(self._checked_field_edited)
        self.target_edit.textChanged.connect(lambda _text: self._check_delay.start())
        self.kwargs_edit.textChanged.connect(lambda _text: self._check_delay.start())
        self.initializer_edit.textChanged.connect(lambda _text: self._check_delay.start())
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.cancel_checks)
        self._watched_window: QObject | None = None  # the top-level window whose closing ends our checks
        # The form's settings came from this target (a built-in's defaults, or an own target's
        # last ones); None: typed by hand. Own targets' last settings, by target text.
        self._settings_from: str | None = None
        self._remembered: dict[str, dict[str, Any]] = {}

        if self.builtin_list.count():
            self.builtin_list.setCurrentRow(0)
        self._backend_chosen(self.backend_combo.currentIndex())
        self.file_drops = PythonFileDrops(self)

    # -- form state ------------------------------------------------------------------------------

    def _text_field(self, key: str, placeholder: str, tip: str, neutral: str = "") -> QLineEdit:
        """A text field of the form, registered under its settings key (also its object name)."""
        edit = QLineEdit(neutral)
        edit.setObjectName(key)
        edit.setPlaceholderText(placeholder)
        edit.setToolTip(tip)
        self._text_edits[key] = edit
        self._neutral[key] = neutral
        return edit

    def _error_label(self, field_name: str, edit: QWidget) -> QLabel:
        label = QLabel()
        label.setObjectName(f"error_{field_name}")
        label.setWordWrap(True)
        label.setStyleSheet("color: #b91c1c;")
        label.setVisible(False)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._errors[field_name] = label
        self._edits[field_name] = edit
        for line_edit in ([edit] if isinstance(edit, QLineEdit) else edit.findChildren(QLineEdit)):
            line_edit.textEdited.connect(lambda _text, name=field_name: self._clear_error(name))
        return label

    def _clear_error(self, field_name: str) -> None:
        """The user is fixing ``field_name``: take its mark away until Start checks it again."""
        label = self._errors[field_name]
        if not label.isHidden():
            label.setVisible(False)
            label.setText("")
            edit = self._edits[field_name]
            for line_edit in ([edit] if isinstance(edit, QLineEdit) else edit.findChildren(QLineEdit)):
                line_edit.setStyleSheet("")

    def error_text(self, field_name: str) -> str:
        """The problem shown under ``field_name`` ('' when none is shown)."""
        label = self._errors[field_name]
        return label.text() if not label.isHidden() else ""

    def errors(self) -> dict[str, str]:
        return {name: label.text() for name, label in self._errors.items() if not label.isHidden()}

    def show_errors(self, errors: dict[str, str]) -> None:
        for field_name in self._errors:
            self._set_error(field_name, errors.get(field_name, ""))

    def _set_error(self, field_name: str, message: str) -> None:
        label = self._errors[field_name]
        label.setText(message)
        label.setVisible(bool(message))
        edit = self._edits[field_name]
        if isinstance(edit, QLineEdit):
            edit.setStyleSheet(_ERROR_STYLE if message else "")
        elif isinstance(edit, QComboBox):
            edit.setStyleSheet(_COMBO_ERROR_STYLE if message else "")
        elif edit is self.input_stack:
            for child in self.input_stack.findChildren(QLineEdit):
                child.setStyleSheet(_ERROR_STYLE if message else "")

    # -- where it runs ---------------------------------------------------------------------------

    def backend(self) -> str:
        """The chosen backend's core name (processes, threads or dask)."""
        return str(self.backend_combo.currentData())

    def set_backend(self, name: str) -> None:
        index = self.backend_combo.findData(name)
        if index >= 0:
            self.backend_combo.setCurrentIndex(index)

    def scheduler_text(self) -> str:
        return self.scheduler_edit.text().strip()

    def set_scheduler_address(self, address: str | None) -> None:
        self.scheduler_edit.setText(address or "")
        self._set_error("scheduler", "")

    def set_scheduler_check(self, check: Callable[[str | None], str | None] | None) -> None:
        """``check(address)`` (the full address, or None for a local cluster) returns why the
        window's engine cannot run Dask jobs there, or None when it can; asked on Start."""
        self._scheduler_check = check

    def _backend_chosen(self, index: int) -> None:
        info = backend_info(self.backend_combo.itemData(max(0, index)))
        self.backend_description.setText(info.description)
        self.scheduler_row.setVisible(info.takes_scheduler)
        self._set_error("scheduler", "")
        # Say at once what choosing a backend needs, rather than only when Start is pressed.
        self._set_error("backend", "" if info.available() else info.install_hint)

    def set_builtin(self, name: str) -> None:
        """Pick a built-in task (and fill in its default inputs and keyword arguments)."""
        items = self.builtin_list.findItems(name, Qt.MatchFlag.MatchExactly)
        if items:
            self.builtin_list.setCurrentItem(items[0])
            self._builtin_chosen(items[0], None)

    def _builtin_chosen(self, item: QListWidgetItem | None, _previous: Any) -> None:
        if item is None:
            return
        task = self._builtins[item.data(Qt.ItemDataRole.UserRole)]
        self.description.setText(task.description)
        self.target_edit.setText(task.name)
        self.function_combo.setVisible(False)
        self._target_file = None
        self.set_inputs_text(task.default_inputs)
        self.kwargs_edit.setText(json.dumps(task.default_kwargs) if task.default_kwargs else "")
        self.kwargs_edit.setCursorPosition(0)  # show the start of a long object
        self._settings_from = task.name
        self.show_errors({})
        self.check_targets()  # a built-in needs no check: this ends one under way, and its status

    def _target_typed(self, text: str) -> None:
        name = text.strip()
        if name in self._builtins:
            self.description.setText(self._builtins[name].description)
        else:
            self.builtin_list.blockSignals(True)
            self.builtin_list.clearSelection()
            self.builtin_list.setCurrentRow(-1)
            self.builtin_list.blockSignals(False)
            self.description.setText("Your own function: module:function or path/to/file.py:function")
            self._own_target_settings(name)
        if self._target_file is not None and not text.startswith(self._target_file + ":"):
            self.function_combo.setVisible(False)
            self._target_file = None

    def _own_target_settings(self, target: str) -> None:
        """The form shows a target of one's own: its last settings, or neutral ones instead of a
        built-in's (a built-in's inputs and keyword arguments are not for another function)."""
        if target in self._remembered and self._settings_from != target:
            self._apply_settings(self._remembered[target])
            self._settings_from = target
        elif self._settings_from in self._builtins:
            self._apply_settings(self._neutral)
            self._settings_from = None

    def _apply_settings(self, values: dict[str, Any]) -> None:
        for key, edit in self._setting_edits().items():
            if key in values and values[key] is not None:
                edit.setText(str(values[key]))
        try:
            self.input_kind.setCurrentIndex(max(0, min(2, int(values.get("input_kind", 0)))))
        except (TypeError, ValueError):
            pass
        for name in ("inputs", *(row[0] for row in SETTING_ROWS)):
            self._set_error(name, "")

    def _setting_edits(self) -> dict[str, QLineEdit]:
        """The text fields of the form's settings (not the target, backend or scheduler), by key."""
        return {key: edit for key, edit in self._text_edits.items() if key in self._neutral}

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
            self.show_errors({exc.field: exc.message})
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
        self._own_target_settings(self.target_edit.text())
        self.show_errors({})

    def _function_chosen(self, index: int) -> None:
        if self._target_file is not None and index >= 0:
            self.target_edit.setText(f"{self._target_file}:{self.function_combo.itemText(index)}")
            self._own_target_settings(self.target_edit.text())

    def _browse_inputs(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a file of inputs", os.getcwd(), "All files (*)")
        if path:
            self.inputs_file_edit.setText(path)

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

    def show_spec(self, spec: JobSpec) -> None:
        """Fill the form with a job's settings (e.g. the job ``poolscope gui --run`` started)."""
        target = spec.target.text
        if target in self._builtins:
            self.set_builtin(target)
        else:
            self.target_edit.setText(target)
            self._target_typed(target)
        self.set_inputs_text(spec.inputs.text)
        self.kwargs_edit.setText(json.dumps(dict(spec.kwargs)) if spec.kwargs else "")
        for edit, value in ((self.chunksize_edit, spec.chunksize), (self.timeout_edit, spec.timeout),
                            (self.max_tasks_edit, spec.max_tasks_per_worker)):
            edit.setText("" if value is None else f"{value:g}" if isinstance(value, float) else str(value))
        self.retries_edit.setText(str(spec.retries))
        self.initializer_edit.setText(spec.initializer.text if spec.initializer is not None else "")
        self.set_backend(spec.backend)
        self._settings_from = target
        self.check_targets()

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
            text = self._checked_text(field_name)
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
            verdict = self._verdict(field_name, fresh_only=fresh_only)
            if verdict is None:
                waiting = True
            elif verdict.ok:
                targets[field_name] = target
            else:
                errors.setdefault(self._verdict_field(field_name, verdict), verdict.message)
        inputs = check(self.inputs_text)
        backend = self.backend()
        if backend_info(backend).takes_scheduler:
            address = check(parse_scheduler_address, self.scheduler_edit.text())
            if "scheduler" not in errors and backend_info(backend).available() and self._scheduler_check is not None:
                problem = self._scheduler_check(address)
                if problem:
                    errors["scheduler"] = problem
        # Every other field is parsed once, by the core's own parsers, each problem under its field.
        fields: dict[str, Any] = {key: self._text_edits[key].text() for key, *_ in SETTING_ROWS}
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
            if field_name in self._errors:
                shown[field_name] = message
            else:  # a field the panel has no row for: say so under the target
                shown.setdefault("target", f"{field_name}: {message}")
        self.show_errors(shown)
        return spec

    def start(self) -> None:
        """Start pressed: emit launch_requested with the job, or mark what is wrong.

        If a target has to be checked first, the job starts when its check passes.
        """
        self._start_pending = False
        self._launch(fresh_only=True)

    def _launch(self, *, fresh_only: bool) -> None:
        spec = self.build_spec(fresh_only=fresh_only)
        if spec is not None:
            if spec.target.is_user_code:
                self._remember(spec.target.text)
            self.launch_requested.emit(spec)
        elif self.checking() and not self.errors():
            self._start_pending = True
            self._show_checking()

    # -- checking user code (in child processes) ----------------------------------------------

    def checking(self) -> bool:
        """Whether a check of the target or the initializer is under way."""
        return bool(self._checks)

    def check_targets(self, *, fresh_only: bool = False) -> None:
        """Start a check of each field naming user code that has no verdict for what it says now.

        A check under way for something else is killed; a field that names no user code (a
        built-in, nothing, or a typo that does not parse) has its check and status taken away.
        """
        for field_name in CHECKED_FIELDS:
            text = self._checked_text(field_name)
            try:
                target: Target | None = parse_target(text) if text else None
            except SpecError:
                target = None  # said on Start: not while it is being typed
            if target is None or not target.is_user_code:
                self._cancel_check(field_name)
                self._verdicts.pop(field_name, None)
                if field_name == "target":
                    self.target_status.setVisible(False)
                continue
            key = self._check_key(field_name)
            running = self._checks.get(field_name)
            if running is not None and running[0] == key:
                continue
            if self._verdict(field_name, fresh_only=fresh_only) is not None:
                continue
            self._cancel_check(field_name)
            kwargs = self._kwargs_or_none() if field_name == "target" else None
            check = TargetCheck(target, kwargs, timeout=self.check_timeout,
                                initializer=field_name == "initializer").start()
            self._checks[field_name] = (key, check)
        if self._checks:
            self._show_checking()
            self._check_poll.start()

    def _checked_field_edited(self, _text: str) -> None:
        """The user changes what a pending Start would run: it no longer starts by itself."""
        if self._start_pending:
            self._start_pending = False
            if self._checks:
                self._show_checking()

    def cancel_checks(self) -> None:
        """Kill every check under way (the window is closing); a pending Start is dropped."""
        self._check_delay.stop()
        self._check_poll.stop()
        self._start_pending = False
        for field_name in list(self._checks):
            self._cancel_check(field_name)
        self.target_status.setVisible(False)

    def _cancel_check(self, field_name: str) -> None:
        running = self._checks.pop(field_name, None)
        if running is not None:
            running[1].cancel()

    def _poll_checks(self) -> None:
        for field_name, (key, check) in list(self._checks.items()):
            verdict = check.poll()
            if verdict is None:
                continue
            del self._checks[field_name]
            self._verdicts[field_name] = (key, verdict)
            self._show_verdict(field_name, verdict)
        if self._checks:
            return
        self._check_poll.stop()
        if self._start_pending:
            self._start_pending = False
            self._launch(fresh_only=False)  # the verdicts just came: no need to look at the files again

    def _show_checking(self) -> None:
        running = [self._checked_text(name) for name in CHECKED_FIELDS if name in self._checks]
        then = "; the job starts when it passes" if self._start_pending else ""
        self.target_status.setText(f"Checking {' and '.join(running)} in a separate process "
                                   f"(time limit {self.check_timeout:g} s){then}…")
        self.target_status.setVisible(True)

    def _show_verdict(self, field_name: str, verdict: CheckResult) -> None:
        if field_name == "target":
            if verdict.ok:
                self.target_status.setText(f"✓ {verdict.signature or verdict.target}: checked in a separate process")
            self.target_status.setVisible(verdict.ok)
            if self._checks:
                self._show_checking()
        if verdict.ok:
            self._set_error(field_name, "")
        else:
            self._set_error(self._verdict_field(field_name, verdict), verdict.message)

    @staticmethod
    def _verdict_field(field_name: str, verdict: CheckResult) -> str:
        """The form's field a failed check speaks of (a check speaks of an initializer as the target)."""
        return "initializer" if field_name == "initializer" else verdict.field or field_name

    def _verdict(self, field_name: str, *, fresh_only: bool) -> CheckResult | None:
        """The verdict on what ``field_name`` says now; with ``fresh_only``, only while the
        files the check loaded are unchanged on disk."""
        known = self._verdicts.get(field_name)
        if known is None or known[0] != self._check_key(field_name):
            return None
        if fresh_only and not known[1].is_current():
            return None
        return known[1]

    def _checked_text(self, field_name: str) -> str:
        return (self.target_edit if field_name == "target" else self.initializer_edit).text().strip()

    def _check_key(self, field_name: str) -> tuple[Any, ...]:
        """What a verdict on ``field_name`` depends on: its text (and the keyword names, for the target)."""
        if field_name == "initializer":
            return (self._checked_text(field_name),)
        kwargs = self._kwargs_or_none()
        return (self._checked_text(field_name), None if kwargs is None else tuple(sorted(kwargs)))

    def _kwargs_or_none(self) -> dict[str, Any] | None:
        try:
            return dict(parse_kwargs(self.kwargs_edit.text()))
        except SpecError:
            return None

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        window = self.window()
        if window is not self and window is not self._watched_window:
            window.installEventFilter(self)  # its closing ends our checks (see eventFilter)
            self._watched_window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._watched_window and event.type() == QEvent.Type.Close:
            self.cancel_checks()
        return super().eventFilter(watched, event)

    def _remember(self, target: str) -> None:
        """Keep the settings a job of an own target was started with, for the next time it is typed."""
        values = self._values()
        self._remembered.pop(target, None)
        self._remembered[target] = {key: values[key] for key in self._neutral}
        while len(self._remembered) > MAX_REMEMBERED_TARGETS:
            del self._remembered[next(iter(self._remembered))]
        self._settings_from = target

    # -- persistence -----------------------------------------------------------------------------

    def save_settings(self, settings: QSettings) -> None:
        settings.beginGroup("launch")
        for key, value in self._values().items():
            settings.setValue(key, value)
        settings.setValue("own_targets", json.dumps(self._remembered))
        settings.endGroup()

    def restore_settings(self, settings: QSettings) -> None:
        settings.beginGroup("launch")
        stored = {key: settings.value(key) for key in self._values() if settings.contains(key)}
        remembered = settings.value("own_targets")
        settings.endGroup()
        try:
            loaded = json.loads(str(remembered)) if remembered else {}
        except ValueError:
            loaded = {}
        if isinstance(loaded, dict):
            self._remembered = {str(key): value for key, value in loaded.items() if isinstance(value, dict)}
        if not stored:
            return
        target = str(stored.get("target", ""))
        if target in self._builtins:
            self.set_builtin(target)
        else:
            self.target_edit.setText(target)
            self._target_typed(target)
        for key, edit in self._text_edits.items():
            if key in stored and stored[key] is not None:
                edit.setText(str(stored[key]))
        try:
            self.input_kind.setCurrentIndex(max(0, min(2, int(stored.get("input_kind", 0)))))
        except (TypeError, ValueError):
            pass
        self._settings_from = target
        if stored.get("backend") in REGISTRY:
            self.set_backend(str(stored["backend"]))

    def _values(self) -> dict[str, Any]:
        """The whole form, by settings key."""
        return {"target": self.target_edit.text(), "input_kind": self.input_kind.currentIndex(),
                "backend": self.backend(), **{key: edit.text() for key, edit in self._text_edits.items()}}
