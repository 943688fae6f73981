"""Resolve what a job runs: a built-in task name, ``package.module:function`` or ``file.py:function``.

A target is resolved where the job is submitted, so that a typo, a missing module or a
non-callable is reported (as :class:`SpecError` naming ``target``) before anything runs; each
worker then resolves the same text again with :meth:`Target.load`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from poolscope.core.errors import SpecError

FIELD = "target"


@dataclass(frozen=True)
class Target:
    """A resolved target. ``text`` is what the user gave; ``module``/``function`` what it names."""

    text: str
    kind: str  # "builtin", "module" or "file"
    module: str  # a dotted module name, or an absolute path for kind "file"
    function: str  # an attribute path inside the module, e.g. "count_primes"
    description: str = ""
    default_inputs: str = ""
    default_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def short_name(self) -> str:
        return self.text if self.kind == "builtin" else self.function.rsplit(".", 1)[-1]

    def load(self) -> Callable[..., Any]:
        """Import the module and return the callable, or raise :class:`SpecError` saying why not."""
        module = _load_file_module(self.text, self.module) if self.kind == "file" else _import_module(self.text, self.module)
        value: Any = module
        for part in self.function.split("."):
            try:
                value = getattr(value, part)
            except AttributeError:
                where = os.path.basename(self.module) if self.kind == "file" else f"module {self.module!r}"
                raise SpecError(FIELD, f"{self.text!r}: {where} has no function {self.function!r}") from None
        if not callable(value):
            raise SpecError(FIELD, f"{self.text!r} is not callable (it is a {type(value).__name__})")
        return value


def resolve_target(target: str | Callable[..., Any]) -> Target:
    """Check that ``target`` names a callable and return it as a :class:`Target`."""
    resolved = parse_target(target)
    resolved.load()
    return resolved


def parse_target(target: str | Callable[..., Any]) -> Target:
    """Split a target into its parts without importing anything."""
    if callable(target) and not isinstance(target, str):
        return _target_of_callable(target)
    if not isinstance(target, str):
        raise SpecError(FIELD, f"must be a task name or 'module:function', not {type(target).__name__}")
    text = target.strip()
    if not text:
        raise SpecError(FIELD, "no target given: pick a built-in task, or give module:function or file.py:function")
    left, sep, function = text.rpartition(":")
    if not sep:
        return _builtin(text)
    if not left or not function:
        raise SpecError(FIELD, f"{text!r}: expected module:function or path/to/file.py:function")
    if left.endswith(".py") or os.sep in left or "/" in left:
        path = os.path.abspath(os.path.expanduser(left))
        if not os.path.exists(path):
            raise SpecError(FIELD, f"{text!r}: file {left!r} does not exist")
        if not os.path.isfile(path):
            raise SpecError(FIELD, f"{text!r}: {left!r} is not a file")
        return Target(text=text, kind="file", module=path, function=function)
    return Target(text=text, kind="module", module=left, function=function)


def _builtin(name: str) -> Target:
    from poolscope.tasks import BUILTIN_TASKS

    task = BUILTIN_TASKS.get(name)
    if task is None:
        known = ", ".join(BUILTIN_TASKS)
        raise SpecError(FIELD, f"unknown built-in task {name!r} (built-ins: {known}); "
                               "for your own code give module:function or file.py:function")
    module, _, function = task.target.partition(":")
    return Target(text=name, kind="builtin", module=module, function=function, description=task.description,
                  default_inputs=task.default_inputs, default_kwargs=dict(task.default_kwargs))


def _target_of_callable(fn: Callable[..., Any]) -> Target:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise SpecError(FIELD, f"{fn!r} must be a top-level function of an importable module "
                               "(workers import it by name; lambdas and nested functions cannot be)")
    return Target(text=f"{module}:{qualname}", kind="module", module=module, function=qualname)


def _import_module(text: str, name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise SpecError(FIELD, f"{text!r}: no module named {exc.name!r}") from None
        raise SpecError(FIELD, f"{text!r}: importing {name!r} failed: {_describe(exc)}") from None
    except BaseException as exc:  # noqa: BLE001 - any import-time failure is the user's to see
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise SpecError(FIELD, f"{text!r}: importing {name!r} failed: {_describe(exc)}") from None


def file_module_name(path: str) -> str:
    """The module name a file target is imported under, the same in every process."""
    stem = os.path.splitext(os.path.basename(path))[0]
    digest = hashlib.sha1(path.encode()).hexdigest()[:10]
    return f"poolscope_file_{''.join(c if c.isalnum() else '_' for c in stem)}_{digest}"


def _load_file_module(text: str, path: str) -> Any:
    name = file_module_name(path)
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(FIELD, f"{text!r}: {path!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.append(directory)  # so the file can import its siblings
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise SpecError(FIELD, f"{text!r}: syntax error in {os.path.basename(path)} line {exc.lineno}: {exc.msg}") from None
    except BaseException as exc:  # noqa: BLE001
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise SpecError(FIELD, f"{text!r}: running {os.path.basename(path)} failed: {_describe(exc)}") from None
    return module


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({os.path.basename(frames[-1].filename)} line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
