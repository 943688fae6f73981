"""Resolve what a job runs: a built-in task name, ``package.module:function`` or ``file.py:function``.

Where a target is looked up is one rule, the same in the check, the engine, the CLI and every
worker (and written down in the README and ``poolscope run --help``):

- ``module:function`` is imported from the *project folder*, the current working directory when
  poolscope started (:data:`PROJECT_DIR`), and then from ``sys.path``. The folder travels with
  the :class:`Target` (``root``), so a worker or a check process uses the submitter's folder.
- ``path/to/file.py:function`` is loaded from that file under a name of its own; its folder is
  searched first while the file runs at import (so ``import helper`` of a sibling works) and is
  taken off ``sys.path`` afterwards: loading a file never changes where other targets are found.

User code never runs in the caller's process to check a target: :func:`resolve_target` parses
it here and imports it in a child process with a time limit (core/target_check.py). Workers
import it with :meth:`Target.load`; :func:`user_code_files` says which files of the user's
own code a process has loaded, so the engine can replace a worker whose code changed on disk.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import site
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from poolscope.core.errors import SpecError

FIELD = "target"

#: The project folder: where ``module:function`` is looked up first. The working directory when
#: poolscope was imported in the process that parses targets (the window, the CLI, a script).
PROJECT_DIR = os.getcwd()

#: A loaded file's identity for "has it changed on disk": (st_mtime_ns, st_size).
FileStamp = tuple[int, int]


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
    root: str = ""  # kind "module": the project folder it is looked up in first ("" for none)

    @property
    def is_user_code(self) -> bool:
        """Whether loading it may run the user's code (anything but a built-in task)."""
        return self.kind != "builtin"

    @property
    def short_name(self) -> str:
        return self.text if self.kind == "builtin" else self.function.rsplit(".", 1)[-1]

    def load(self) -> Callable[..., Any]:
        """Import the module and return the callable, or raise :class:`SpecError` saying why not."""
        if self.kind == "file":
            module = _load_file_module(self.text, self.module)
        else:
            module = _import_module(self.text, self.module, self.root)
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


def resolve_target(target: str | Callable[..., Any] | Target, kwargs: Mapping[str, Any] | None = None, *,
                   initializer: bool = False) -> Target:
    """Check that ``target`` names a callable (taking ``kwargs``) and return it as a :class:`Target`.

    User code is imported in a child process with a time limit, never here (see
    core/target_check.py); a built-in is only looked up by name; a function passed as a value is
    already imported. ``initializer``: it is called with no arguments (else with one input and
    ``kwargs``). Raises :class:`SpecError` naming ``target`` (or ``kwargs``).
    """
    resolved = target if isinstance(target, Target) else parse_target(target)
    if resolved.kind == "builtin" or callable(target) and not isinstance(target, str):
        return resolved
    from poolscope.core.target_check import check_target_cached

    verdict = check_target_cached(resolved, kwargs, initializer=initializer)
    if not verdict.ok:
        raise SpecError(verdict.field, verdict.message)
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
    return Target(text=text, kind="module", module=left, function=function, root=PROJECT_DIR)


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
    return Target(text=f"{module}:{qualname}", kind="module", module=module, function=qualname, root=PROJECT_DIR)


def prepare_lookup(target: Target) -> None:
    """Put ``target``'s project folder first on ``sys.path``, as importing it does (the lookup rule)."""
    if target.kind == "module" and target.root and (not sys.path or sys.path[0] != target.root):
        sys.path.insert(0, target.root)


def import_for_results(target: Target, name: str) -> Any:
    """The module ``name`` that a result of ``target`` names a class of, loaded as a worker loads it.

    For unpickling results in the caller's process (core/results/loader.py ``ResultLoader``), never in
    the window's: the file target's own module name is its file, loaded as :meth:`Target.load`
    does; a module its file imported from its folder is imported from there (and kept out of
    ``sys.modules`` as then); any other module is imported by the lookup rule.
    """
    if target.kind == "file":
        if name == file_module_name(target.module):
            return _load_file_module(target.text, target.module)
        module = sys.modules.get(name)
        if module is not None:
            return module
        directory = os.path.dirname(target.module)
        folder = os.path.join(os.path.realpath(directory), "")
        if f"{folder}{name}" not in SIBLING_MODULES:
            already = set(sys.modules)
            sys.path.insert(0, directory)
            try:
                module = importlib.import_module(name)
            finally:
                with contextlib.suppress(ValueError):
                    sys.path.remove(directory)
                _forget_siblings(directory, already)
            if name in sys.modules:
                return module  # not from the file's folder
        return SIBLING_MODULES[f"{folder}{name}"]
    return _import_module(target.text, name, target.root)


def _import_module(text: str, name: str, root: str = "") -> Any:
    if root and (not sys.path or sys.path[0] != root):
        sys.path.insert(0, root)  # the lookup rule: the project folder first, then sys.path
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise SpecError(FIELD, f"{text!r}: no module named {exc.name!r}") from None
        raise SpecError(FIELD, f"{text!r}: importing {name!r} failed: {_describe(exc)}") from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise SpecError(FIELD, f"{text!r}: importing {name!r} failed: {_describe(exc)}") from None


def file_module_name(path: str) -> str:
    """The module name a file target is imported under, the same in every process."""
    try:
        # CPython's own SHA-1, as hashlib falls back on: importing hashlib loads OpenSSL, 10 to
        # 25 ms of every worker's first file job. The same digest, so the same name as ever.
        from _sha1 import sha1
    except ImportError:
        from hashlib import sha1

    stem = os.path.splitext(os.path.basename(path))[0]
    digest = sha1(path.encode()).hexdigest()[:10]
    return f"poolscope_file_{''.join(c if c.isalnum() else '_' for c in stem)}_{digest}"


#: Held while a file target is imported: thread slots share one process, and a second thread
#: must not find the module in sys.modules half run (nor see sys.path while the first changes it).
_FILE_LOAD_LOCK = threading.RLock()


def _load_file_module(text: str, path: str) -> Any:
    with _FILE_LOAD_LOCK:
        return _load_file_module_locked(text, path)


def _load_file_module_locked(text: str, path: str) -> Any:
    name = file_module_name(path)
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(FIELD, f"{text!r}: {path!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    directory = os.path.dirname(path)
    already = set(sys.modules)
    sys.modules[name] = module
    sys.path.insert(0, directory)  # while it runs, so that the file can import its siblings
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise SpecError(FIELD, f"{text!r}: syntax error in {os.path.basename(path)} line {exc.lineno}: "
                               f"{exc.msg}") from None
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise SpecError(FIELD, f"{text!r}: running {os.path.basename(path)} failed: {_describe(exc)}") from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)  # the first occurrence: the one put there above
        _forget_siblings(directory, already)
    return module


def _forget_siblings(directory: str, already: set[str]) -> None:
    """Take the modules a file target imported from its own folder out of ``sys.modules``.

    The file keeps them (its globals hold them); but ``module:function`` of a later job must be
    found by the rule alone, not because some file job in this process happened to import it.
    """
    if directory in sys.path:
        return  # the folder is on the path anyway: its modules are found by the rule
    folder = os.path.join(os.path.realpath(directory), "")
    for name in [name for name in sys.modules if name not in already and not name.startswith("poolscope_file_")]:
        filename = getattr(sys.modules[name], "__file__", None)
        if isinstance(filename, str) and os.path.realpath(filename).startswith(folder):
            SIBLING_MODULES[f"{folder}{name}"] = sys.modules.pop(name)


#: The modules file targets imported from their folders and :func:`_forget_siblings` took out of
#: ``sys.modules``, by folder + name: still user code this process runs (see user_code_files).
SIBLING_MODULES: dict[str, Any] = {}


def loaded_modules() -> dict[str, Any]:
    """Every module this process has loaded: ``sys.modules`` and the file targets' siblings."""
    modules = dict(sys.modules)
    modules.update(SIBLING_MODULES)
    return modules


def _library_folders() -> tuple[str, ...]:
    """Folders whose modules are not the user's own code: the stdlib, site-packages, poolscope."""
    folders = {os.path.dirname(os.__file__)}  # the stdlib (sysconfig would say so too, ten times slower)
    with contextlib.suppress(AttributeError):
        folders.update(site.getsitepackages())
    with contextlib.suppress(AttributeError):
        folders.add(site.getusersitepackages())
    folders.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the poolscope package
    folders = {folder for folder in folders if folder}
    # Each as written and as resolved: most module files then match without resolving their path.
    return tuple({os.path.join(form, "") for folder in folders for form in (folder, os.path.realpath(folder))})


_LIBRARY_FOLDERS: tuple[str, ...] | None = None


def user_code_files(modules: Iterable[Any]) -> dict[str, FileStamp]:
    """The files of the user's own code among ``modules``, with their stamps as on disk now.

    User code is any module loaded from a file outside the stdlib, site-packages and poolscope
    itself: a file target, a project module, a package of one's own installed in editable mode.
    """
    global _LIBRARY_FOLDERS
    if _LIBRARY_FOLDERS is None:
        _LIBRARY_FOLDERS = _library_folders()
    paths = set()
    for module in modules:
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str) or not filename.endswith(".py"):
            continue  # built in, a namespace package, or compiled code (its source is not what runs)
        if filename.startswith(_LIBRARY_FOLDERS):
            continue  # the common case, decided without a system call
        path = os.path.realpath(filename)
        if not path.startswith(_LIBRARY_FOLDERS):
            paths.add(path)
    return stamp_files(paths)


def stamp_files(paths: Iterable[str]) -> dict[str, FileStamp]:
    """``path -> (mtime_ns, size)`` as on disk now; a missing file is stamped (-1, -1)."""
    stamps = {}
    for path in paths:
        try:
            info = os.stat(path)
            stamps[path] = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamps[path] = (-1, -1)
    return stamps


def _describe(exc: BaseException) -> str:
    import traceback  # here: only a failed import needs it

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({os.path.basename(frames[-1].filename)} line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
