"""Jobs as plain data: what to run (JobSpec), where it stands (JobState), how it ended (JobSummary).

Nothing here starts a process; a JobSpec is validated when it is built, so a bad field is
reported (as :class:`SpecError`, naming the field) before anything runs. Each field's parser is
core/fields.py's; a job's values in JSON form are core/json_form.py's.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from poolscope.core.backends import REGISTRY, backend_info
from poolscope.core.errors import SpecError, SpecErrors
from poolscope.core.fields import (
    check_backend,
    check_non_negative_int,
    check_positive_int,
    check_positive_number,
    parse_int,
    parse_kwargs,
    parse_optional_int,
    parse_optional_number,
)
from poolscope.core.inputs import InputSpec, parse_inputs
from poolscope.core.json_form import json_safe
from poolscope.core.targets import Target, parse_target, resolve_target

__all__ = ["JobSpec", "JobState", "JobSummary", "SpecError", "SpecErrors", "TaskError", "field_errors"]


class JobState(str, enum.Enum):
    """Where a job stands. The last four are final."""

    PENDING = "pending"
    RUNNING = "running"
    CANCELLING = "cancelling"
    TERMINATING = "terminating"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATES


_FINAL_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.TERMINATED})


@dataclass(frozen=True, slots=True)
class TaskError:
    """One failed task: which input, what was raised (or how the worker died), and where."""

    index: int
    type: str
    message: str
    traceback: str
    pid: int | None = None
    input_repr: str = ""
    # The exception itself, pickled in the worker where it pickles (else None): what the caller's
    # process may rebuild and raise (the drop-in pools do). Never unpickled in the engine's thread.
    exception: bytes | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "type": self.type,
            "message": self.message,
            "traceback": self.traceback,
            "pid": self.pid,
            "input": self.input_repr,
        }


@dataclass(frozen=True)
class JobSpec:
    """What to run: ``target(input, **kwargs)`` for each input of ``inputs``.

    Build it from Python values, or with :meth:`from_strings` from the strings the CLI and the
    launch panel take. Either way every field is checked here and a bad one raises
    :class:`SpecError` naming it.
    """

    target: Target
    inputs: InputSpec
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    chunksize: int | None = None  # None: sized automatically from measured task times
    timeout: float | None = None  # seconds per task; a task over it has its worker killed
    retries: int = 0  # how often a task whose worker crashed is run again
    name: str = ""
    max_tasks_per_worker: int | None = None  # recycle a worker after this many of this job's tasks
    backend: str = "processes"  # "processes", "threads" or "dask" (core/backends)
    # Called with no arguments in each worker before it runs the job's first task (e.g. to load
    # a model once per worker); if it raises, the job fails with "worker could not start".
    initializer: Target | None = None
    # False: results go to the submitter's on_result callback only and are not kept (an open-ended
    # job of a drop-in pool, which would otherwise keep every result of its life).
    keep_results: bool = True

    def __post_init__(self) -> None:
        check_backend(self.backend)
        if not isinstance(self.kwargs, Mapping) or not all(isinstance(k, str) for k in self.kwargs):
            raise SpecError("kwargs", "must be a mapping of keyword names to values")
        check_positive_int("chunksize", self.chunksize, optional=True)
        check_positive_int("max_tasks_per_worker", self.max_tasks_per_worker, optional=True)
        check_non_negative_int("retries", self.retries)
        if self.timeout is not None:
            check_positive_number("timeout", self.timeout)
        if self.initializer is not None and not backend_info(self.backend).takes_initializer:
            able = " or ".join(name for name, info in REGISTRY.items() if info.takes_initializer)
            raise SpecError("initializer", f"not available on the {self.backend} backend (its workers run many "
                                           f"jobs' tasks; use the {able} backend)")
        if not self.name:
            object.__setattr__(self, "name", self.target.short_name)

    @classmethod
    def create(
        cls,
        target: str | Callable[..., Any] | Target,
        inputs: str | Iterable[Any] | InputSpec = "",
        *,
        kwargs: Mapping[str, Any] | str | None = None,
        chunksize: int | str | None = None,
        timeout: float | str | None = None,
        retries: int | str = 0,
        name: str = "",
        max_tasks_per_worker: int | str | None = None,
        backend: str = "processes",
        initializer: str | Callable[..., Any] | Target | None = None,
        keep_results: bool = True,
    ) -> JobSpec:
        """Build a spec from strings (as typed in the CLI or the window) or Python values.

        ``target``: a built-in name, ``package.module:function``, ``path/file.py:function``, or a
        top-level function. ``inputs``: a spec string (``range:10``, ``json:[1,2]``,
        ``file:PATH``) or any iterable; empty means the built-in task's default inputs.
        A target of the user's own code given as text is imported in a child process with a time
        limit (core/target_check.py), never here; a :class:`Target` given is taken as checked.
        ``initializer``: ``package.module:function``, ``path/file.py:function`` or a top-level
        function, called once in each worker before the job's first task; empty: none.
        """
        errors: dict[str, str] = {}
        resolved: Target | None = None
        try:
            resolved = parse_target(target) if not isinstance(target, Target) else target
            if not isinstance(target, Target):  # a Target given is taken as checked (e.g. by the launch panel)
                try:  # the target is checked first, with the keyword arguments if they parse
                    names = kwargs if isinstance(kwargs, Mapping) else parse_kwargs(kwargs) if kwargs else None
                except SpecError:
                    names = None
                resolve_target(target if callable(target) and not isinstance(target, str) else resolved, names)
        except SpecError as exc:
            errors[exc.field] = exc.message
        values = _parse_fields(errors, inputs=inputs, default_inputs=resolved.default_inputs if resolved else None,
                               kwargs=kwargs, chunksize=chunksize, timeout=timeout, retries=retries,
                               max_tasks_per_worker=max_tasks_per_worker, backend=backend, initializer=initializer)
        if errors or resolved is None:
            raise SpecErrors(errors)
        if kwargs is None:
            values["kwargs"] = dict(resolved.default_kwargs)
        try:
            return cls(target=resolved, name=name, keep_results=keep_results, **values)
        except SpecError as exc:  # a rule between fields (e.g. no initializer on Dask)
            raise SpecErrors({exc.field: exc.message}) from None

    def describe(self) -> str:
        return f"{self.target.text} over {self.inputs.text}"


def field_errors(
    inputs: str | Iterable[Any] | InputSpec = "",
    *,
    kwargs: Mapping[str, Any] | str | None = None,
    chunksize: int | str | None = None,
    timeout: float | str | None = None,
    retries: int | str = 0,
    max_tasks_per_worker: int | str | None = None,
    backend: str = "processes",
    initializer: str | Callable[..., Any] | Target | None = None,
) -> dict[str, str]:
    """What is wrong with each field but the target (field -> message; empty: nothing), by the
    parsers :meth:`JobSpec.create` uses: for a form whose target is still being checked."""
    errors: dict[str, str] = {}
    _parse_fields(errors, inputs=inputs, default_inputs=None, kwargs=kwargs, chunksize=chunksize, timeout=timeout,
                  retries=retries, max_tasks_per_worker=max_tasks_per_worker, backend=backend, initializer=initializer)
    return errors


def _parse_fields(errors: dict[str, str], *, inputs: str | Iterable[Any] | InputSpec, default_inputs: str | None,
                  kwargs: Mapping[str, Any] | str | None, chunksize: int | str | None, timeout: float | str | None,
                  retries: int | str, max_tasks_per_worker: int | str | None, backend: str,
                  initializer: str | Callable[..., Any] | Target | None) -> dict[str, Any]:
    """Each field but the target parsed once, in the form's order: the values of those that
    parse, and each problem in ``errors`` under its field."""
    values: dict[str, Any] = {}

    def parse(field_name: str, call: Callable[[], Any]) -> None:
        try:
            values[field_name] = call()
        except SpecError as exc:
            errors.setdefault(exc.field, exc.message)

    def parse_input_spec() -> InputSpec:
        if isinstance(inputs, InputSpec):
            return inputs
        if isinstance(inputs, str):
            text = inputs.strip() or (default_inputs or "")
            if not text:
                raise SpecError("inputs", "no inputs given (e.g. range:100, json:[1,2,3], file:inputs.txt)")
            return parse_inputs(text)
        return InputSpec.from_iterable(inputs)

    def check_backend_name() -> str:
        name = backend.strip() if isinstance(backend, str) else backend
        check_backend(name)
        return name

    parse("inputs", parse_input_spec)
    parse("backend", check_backend_name)
    parse("kwargs", lambda: dict(parse_kwargs(kwargs) if isinstance(kwargs, str) else kwargs or {}))
    parse("chunksize", lambda: parse_optional_int("chunksize", chunksize))
    parse("timeout", lambda: parse_optional_number("timeout", timeout))
    parse("retries", lambda: parse_int("retries", retries))
    parse("max_tasks_per_worker", lambda: parse_optional_int("max_tasks_per_worker", max_tasks_per_worker))
    parse("initializer", lambda: resolve_initializer(initializer))
    return values


def resolve_initializer(initializer: str | Callable[..., Any] | Target | None) -> Target | None:
    """An initializer as a checked :class:`Target` (None for none); a SpecError names ``initializer``."""
    if initializer is None or isinstance(initializer, Target):
        return initializer
    if isinstance(initializer, str) and not initializer.strip():
        return None
    try:
        return resolve_target(initializer, initializer=True)
    except SpecError as exc:  # the same checks as a target's, said of this field
        raise SpecError("initializer", exc.message) from None


@dataclass(frozen=True)
class JobSummary:
    """How a job ended (or stands): the fields of ``poolscope run --json``."""

    job_id: int
    name: str
    target: str
    inputs: str
    status: JobState
    total: int | None
    done: int
    failed: int
    cancelled: int
    wall_seconds: float
    workers: int
    errors: tuple[TaskError, ...] = ()  # the first failures, in full (see errors_omitted)
    results: list[Any] | None = None  # by input index; None where a task did not finish
    # Failures past the ones kept in ``errors``, counted by exception type (a job whose every
    # task fails must not hold, or send to the window, a million error records).
    errors_omitted: Mapping[str, int] = field(default_factory=dict)

    def to_json(self, *, include_results: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; a result JSON cannot represent is given as its ``repr``."""
        data: dict[str, Any] = {
            "job_id": self.job_id,
            "name": self.name,
            "target": self.target,
            "inputs": self.inputs,
            "status": self.status.value,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "wall_seconds": round(self.wall_seconds, 6),
            "workers": self.workers,
            "errors": [error.to_json() for error in self.errors],
            "errors_omitted": dict(self.errors_omitted),
        }
        if include_results:
            data["results"] = [json_safe(value) for value in (self.results or [])]
        return data

