"""The launch panel's checks of user code (the target, the initializer): each in a child process
with a time limit (core/target_check.py), polled from a timer, its verdict kept for what it was
given, and a Start pressed meanwhile carried out when the last ends."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QLineEdit

from poolscope.core.errors import SpecError
from poolscope.core.fields import parse_kwargs
from poolscope.core.target_check import CHECK_TIMEOUT, CheckResult, TargetCheck
from poolscope.core.targets import Target, parse_target
from poolscope.gui.widgets.launch_panel.fields import FormFields

__all__ = ["CHECKED_FIELDS", "TargetChecks"]

CHECK_POLL_MS = 50  # how often a running check is asked for its verdict (never blocks)
CHECK_DELAY_MS = 400  # a check starts once typing has paused this long
CHECKED_FIELDS = ("target", "initializer")  # fields that may name user code, checked in a child process


class TargetChecks(QObject):
    """The checks under way and the latest verdicts, by field; the target's status line says
    which run, and each failed verdict is shown under its field."""

    start_due = Signal()  # Start was pressed while checks ran, and the last has ended: start now

    def __init__(self, target_edit: QLineEdit, initializer_edit: QLineEdit, kwargs_edit: QLineEdit,
                 status: QLabel, fields: FormFields, parent: QObject) -> None:
        super().__init__(parent)
        self._edits = {"target": target_edit, "initializer": initializer_edit}  # field -> the text it checks
        self._kwargs_edit = kwargs_edit  # the target's check is given the keyword names
        self._status = status
        self._fields = fields
        self.running: dict[str, tuple[tuple[Any, ...], TargetCheck]] = {}  # field -> (its key, the check under way)
        self._verdicts: dict[str, tuple[tuple[Any, ...], CheckResult]] = {}  # field -> (key, the latest verdict)
        self.start_pending = False  # Start was pressed while a check ran: start when it passes
        self.timeout = CHECK_TIMEOUT  # seconds a check may take before it is killed and refused
        self._poll = QTimer(self)
        self._poll.setInterval(CHECK_POLL_MS)
        self._poll.timeout.connect(self._poll_checks)
        self._delay = QTimer(self)
        self._delay.setSingleShot(True)
        self._delay.setInterval(CHECK_DELAY_MS)
        self._delay.timeout.connect(self.check)
        for edit in (target_edit, kwargs_edit, initializer_edit):
            edit.textEdited.connect(self._checked_field_edited)
        for edit in (target_edit, kwargs_edit, initializer_edit):
            edit.textChanged.connect(lambda _text: self._delay.start())
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.cancel_all)
        self._watched_window: QObject | None = None  # the top-level window whose closing ends our checks

    def checking(self) -> bool:
        """Whether a check of the target or the initializer is under way."""
        return bool(self.running)

    def check(self, *, fresh_only: bool = False) -> None:
        """Start a check of each field naming user code that has no verdict for what it says now.

        A check under way for something else is killed; a field that names no user code (a
        built-in, nothing, or a typo that does not parse) has its check and status taken away.
        """
        for field_name in CHECKED_FIELDS:
            text = self.checked_text(field_name)
            try:
                target: Target | None = parse_target(text) if text else None
            except SpecError:
                target = None  # said on Start: not while it is being typed
            if target is None or not target.is_user_code:
                self._cancel(field_name)
                self._verdicts.pop(field_name, None)
                if field_name == "target":
                    self._status.setVisible(False)
                continue
            key = self._key(field_name)
            running = self.running.get(field_name)
            if running is not None and running[0] == key:
                continue
            if self.verdict(field_name, fresh_only=fresh_only) is not None:
                continue
            self._cancel(field_name)
            kwargs = self._kwargs_or_none() if field_name == "target" else None
            check = TargetCheck(target, kwargs, timeout=self.timeout,
                                initializer=field_name == "initializer").start()
            self.running[field_name] = (key, check)
        if self.running:
            self._show_checking()
            self._poll.start()

    def start_when_passed(self) -> None:
        """Start was pressed while checks run: :attr:`start_due` comes when the last has ended."""
        self.start_pending = True
        self._show_checking()

    def _checked_field_edited(self, _text: str) -> None:
        """The user changes what a pending Start would run: it no longer starts by itself."""
        if self.start_pending:
            self.start_pending = False
            if self.running:
                self._show_checking()

    def cancel_all(self) -> None:
        """Kill every check under way (the window is closing); a pending Start is dropped."""
        self._delay.stop()
        self._poll.stop()
        self.start_pending = False
        for field_name in list(self.running):
            self._cancel(field_name)
        self._status.setVisible(False)

    def _cancel(self, field_name: str) -> None:
        running = self.running.pop(field_name, None)
        if running is not None:
            running[1].cancel()

    def _poll_checks(self) -> None:
        for field_name, (key, check) in list(self.running.items()):
            verdict = check.poll()
            if verdict is None:
                continue
            del self.running[field_name]
            self._verdicts[field_name] = (key, verdict)
            self._show_verdict(field_name, verdict)
        if self.running:
            return
        self._poll.stop()
        if self.start_pending:
            self.start_pending = False
            self.start_due.emit()  # the verdicts just came: no need to look at the files again

    def _show_checking(self) -> None:
        running = [self.checked_text(name) for name in CHECKED_FIELDS if name in self.running]
        then = "; the job starts when it passes" if self.start_pending else ""
        self._status.setText(f"Checking {' and '.join(running)} in a separate process "
                             f"(time limit {self.timeout:g} s){then}…")
        self._status.setVisible(True)

    def _show_verdict(self, field_name: str, verdict: CheckResult) -> None:
        if field_name == "target":
            if verdict.ok:
                self._status.setText(f"✓ {verdict.signature or verdict.target}: checked in a separate process")
            self._status.setVisible(verdict.ok)
            if self.running:
                self._show_checking()
        if verdict.ok:
            self._fields.set_error(field_name, "")
        else:
            self._fields.set_error(self.verdict_field(field_name, verdict), verdict.message)

    @staticmethod
    def verdict_field(field_name: str, verdict: CheckResult) -> str:
        """The form's field a failed check speaks of (a check speaks of an initializer as the target)."""
        return "initializer" if field_name == "initializer" else verdict.field or field_name

    def verdict(self, field_name: str, *, fresh_only: bool) -> CheckResult | None:
        """The verdict on what ``field_name`` says now; with ``fresh_only``, only while the
        files the check loaded are unchanged on disk."""
        known = self._verdicts.get(field_name)
        if known is None or known[0] != self._key(field_name):
            return None
        if fresh_only and not known[1].is_current():
            return None
        return known[1]

    def checked_text(self, field_name: str) -> str:
        return self._edits[field_name].text().strip()

    def _key(self, field_name: str) -> tuple[Any, ...]:
        """What a verdict on ``field_name`` depends on: its text (and the keyword names, for the target)."""
        if field_name == "initializer":
            return (self.checked_text(field_name),)
        kwargs = self._kwargs_or_none()
        return (self.checked_text(field_name), None if kwargs is None else tuple(sorted(kwargs)))

    def _kwargs_or_none(self) -> dict[str, Any] | None:
        try:
            return dict(parse_kwargs(self._kwargs_edit.text()))
        except SpecError:
            return None

    def watch_window(self, window: QObject) -> None:
        """End the checks when ``window`` (the panel's top-level window) closes."""
        if window is not self._watched_window:
            window.installEventFilter(self)
            self._watched_window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._watched_window and event.type() == QEvent.Type.Close:
            self.cancel_all()
        return False
