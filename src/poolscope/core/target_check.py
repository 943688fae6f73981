"""Check a target in a child process, with a time limit: the caller never runs user code.

A check imports the target the way a worker does (:meth:`Target.load`, the same lookup rule),
so it sees the code as it is on disk now, and says whether it names a callable and whether that
callable takes the job's keyword arguments. An import that hangs is killed at the time limit;
one that ends its process (``os._exit`` at import) ends only the check's process.

    caller (window, CLI, JobSpec.create)              check process (spawned, one per check)
    ─────────────────────────────────────             ──────────────────────────────────────
    TargetCheck(target, kwargs).start() ──spawn──▶    _check_main: target.load(), signature
    poll() / wait(): the verdict, or   ◀──(verdict)─  one message on a one-way pipe, then exit
      "did not finish within N s" (killed)

:class:`TargetCheck` never blocks in :meth:`~TargetCheck.poll`, so a GUI can poll it from a
timer; :func:`check_target` waits for it. :func:`check_target_cached` reuses a good verdict while
the user-code files the check loaded are unchanged on disk (one stat each); a refusal is never
reused.
"""

from __future__ import annotations

import dataclasses
import inspect
import multiprocessing
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from poolscope.core.errors import SpecError
from poolscope.core.processes import kill_process_tree, signal_name
from poolscope.core.targets import (
    FIELD,
    FileStamp,
    Target,
    loaded_modules,
    stamp_files,
    user_code_files,
)

#: Seconds a check may take (importing the target included) before it is killed and refused.
CHECK_TIMEOUT = 10.0


@dataclass(frozen=True)
class CheckResult:
    """The verdict on a target: good, or the field at fault and why."""

    target: str  # the target text checked
    ok: bool
    field: str = ""  # the field a problem is said of: "target" or "kwargs"; "" when ok
    message: str = ""  # why not; "" when ok
    signature: str = ""  # when ok, e.g. "square(x)"; "" when it cannot be read
    # Files of user code the import loaded, stamped then: the verdict holds while they are unchanged.
    files: Mapping[str, FileStamp] = dataclasses.field(default_factory=dict)

    def is_current(self) -> bool:
        """Whether a good verdict still holds: the user-code files it loaded are unchanged.

        A refusal is never current: what it lacked (a module, a function) may have appeared.
        """
        return self.ok and stamp_files(self.files) == dict(self.files)


class TargetCheck:
    """One check of ``target`` (taking ``kwargs``) in a child process, until its verdict.

    ``start()`` spawns the child; ``poll()`` returns the verdict or None, never blocking, and
    once ``timeout`` seconds have passed kills the child and returns the time-limit verdict;
    ``wait()`` blocks for the verdict; ``cancel()`` kills the child. After a verdict or a cancel
    no child is left.
    """

    def __init__(self, target: Target, kwargs: Mapping[str, Any] | None = None, *,
                 timeout: float = CHECK_TIMEOUT, initializer: bool = False) -> None:
        self.target = target
        self.kwargs_names = tuple(kwargs or ())
        self.initializer = initializer  # an initializer is called with no arguments, a task with one input
        self.timeout = timeout
        self._process: Any = None  # the child process, until it is reaped
        self._conn: Connection | None = None  # our end of the child's one-way pipe: one verdict tuple
        self._deadline = 0.0
        self._result: CheckResult | None = None

    @property
    def result(self) -> CheckResult | None:
        return self._result

    def start(self) -> TargetCheck:
        context = multiprocessing.get_context("spawn")
        reader, writer = context.Pipe(duplex=False)
        self._process = context.Process(target=_check_main,
                                        args=(writer, self.target, self.kwargs_names, self.initializer),
                                        name="poolscope-check", daemon=True)
        self._process.start()
        writer.close()  # the child holds the only writing end: its exit is end-of-file here
        self._conn = reader
        self._deadline = time.monotonic() + self.timeout
        return self

    def poll(self) -> CheckResult | None:
        """The verdict if there is one now (killing the child past the time limit), else None."""
        if self._result is not None or self._conn is None:
            return self._result
        if self._conn.poll():
            try:
                verdict = self._conn.recv()
            except (EOFError, OSError):  # it died without a word: os._exit or a signal at import
                self._reap(kill=False)
                exitcode = self._exitcode()
                return self._finish(CheckResult(self.target.text, False, FIELD, (
                    f"{self.target.text!r}: importing it ended the process that checked it "
                    f"({signal_name(exitcode)}); a worker would die the same way")))
            self._reap(kill=False)
            return self._finish(_result_of(self.target.text, verdict))
        if time.monotonic() >= self._deadline:
            self._reap(kill=True)
            return self._finish(CheckResult(self.target.text, False, FIELD, (
                f"{self.target.text!r}: checking it did not finish within the time limit of "
                f"{self.timeout:g} s (does importing it hang, or wait for something?)")))
        return None

    def wait(self) -> CheckResult:
        """Block until the verdict (at most the time limit, and a little)."""
        while True:
            result = self.poll()
            if result is not None:
                return result
            assert self._conn is not None
            self._conn.poll(max(0.0, min(0.1, self._deadline - time.monotonic())))

    def cancel(self) -> None:
        """Kill the child (if still running) and give no verdict. Safe to call more than once."""
        if self._conn is not None:
            self._reap(kill=True)

    def _finish(self, result: CheckResult) -> CheckResult:
        self._result = result
        return result

    def _exitcode(self) -> int | None:
        return None if self._process is None else self._process.exitcode

    def _reap(self, *, kill: bool) -> None:
        process = self._process
        if process is not None:
            if kill and process.is_alive():
                kill_process_tree(process.pid)  # also anything its import started
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._conn = None


def check_target(target: Target, kwargs: Mapping[str, Any] | None = None, *,
                 timeout: float = CHECK_TIMEOUT, initializer: bool = False) -> CheckResult:
    """Check ``target`` in a child process and wait for the verdict."""
    return TargetCheck(target, kwargs, timeout=timeout, initializer=initializer).start().wait()


_cache_lock = threading.Lock()
# Good verdicts by (kind, module, function, root, keyword names, initializer); read and written under _cache_lock.
_good: dict[tuple[str, str, str, str, tuple[str, ...], bool], CheckResult] = {}


def check_target_cached(target: Target, kwargs: Mapping[str, Any] | None = None, *,
                        timeout: float = CHECK_TIMEOUT, initializer: bool = False) -> CheckResult:
    """:func:`check_target`, reusing a good verdict while the files it loaded are unchanged."""
    key = (target.kind, target.module, target.function, target.root, tuple(sorted(kwargs or ())), initializer)
    with _cache_lock:
        known = _good.get(key)
    if known is not None and known.is_current():
        return known
    result = check_target(target, kwargs, timeout=timeout, initializer=initializer)
    with _cache_lock:
        if result.ok:
            _good[key] = result
        else:
            _good.pop(key, None)
    return result


def _result_of(text: str, verdict: tuple[Any, ...]) -> CheckResult:
    if verdict[0] == "ok":
        return CheckResult(text, True, signature=verdict[1], files=verdict[2])
    return CheckResult(text, False, verdict[1], verdict[2], files=verdict[3])


def _check_main(conn: Connection, target: Target, kwargs_names: tuple[str, ...], initializer: bool) -> None:
    """Runs in the check's child process: load the target as a worker would; send one verdict.

    ``("ok", signature, files)`` or ``("error", field, message, files)``.
    """
    try:
        function = target.load()
    except SpecError as exc:
        conn.send(("error", exc.field, exc.message, user_code_files(loaded_modules().values())))
        return
    except BaseException as exc:  # noqa: BLE001 - anything else is the user's to read
        conn.send(("error", FIELD, f"{target.text!r}: {type(exc).__name__}: {exc}",
                   user_code_files(loaded_modules().values())))
        return
    files = user_code_files(loaded_modules().values())
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some functions written in C have none to read
        conn.send(("ok", "", files))
        return
    name = getattr(function, "__name__", target.function)
    try:
        if initializer:
            signature.bind()
        else:
            signature.bind(None, **dict.fromkeys(kwargs_names))  # one input, and the job's keyword arguments
    except TypeError as exc:
        if initializer:
            message = f"{target.text!r}: {name}{signature} cannot be called with no arguments: {exc}"
        else:
            message = f"{name}{signature} cannot be called with one input and these keyword arguments: {exc}"
        conn.send(("error", FIELD if initializer or not kwargs_names else "kwargs", message, files))
        return
    conn.send(("ok", f"{name}{signature}", files))
