"""A job's settings as JSON and back, and what a reader of the history gets (JobRow, Failure, Slice)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import reprlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poolscope.core.jobs import JobSpec
    from poolscope.core.targets import Target


# -- a job's settings as JSON, and back -----------------------------------------------------------

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 200


def _target_json(target: Target) -> dict[str, Any]:
    return {"text": target.text, "kind": target.kind, "module": target.module, "function": target.function,
            "root": target.root}


def spec_to_json(spec: JobSpec) -> dict[str, Any]:
    """Every field of ``spec`` as JSON-ready values: kwargs as JSON when they are (the window's and
    the CLI's always are), else null; their repr (cut short) either way."""
    try:
        kwargs: Any = json.loads(json.dumps(dict(spec.kwargs)))
    except (TypeError, ValueError):
        kwargs = None
    return {
        "name": spec.name, "target": _target_json(spec.target), "inputs": spec.inputs.text,
        "kwargs": kwargs, "kwargs_repr": _short.repr(dict(spec.kwargs)), "chunksize": spec.chunksize,
        "timeout": spec.timeout, "retries": spec.retries, "max_tasks_per_worker": spec.max_tasks_per_worker,
        "backend": spec.backend,
        "initializer": None if spec.initializer is None else _target_json(spec.initializer),
    }


def target_from_json(data: dict[str, Any]) -> Target:
    """The :class:`Target` a job ran (to build its results, or run it again); imports nothing."""
    from poolscope.core.targets import Target, parse_target

    if data["kind"] == "builtin":
        return parse_target(data["text"])  # with its description and defaults
    return Target(text=data["text"], kind=data["kind"], module=data["module"], function=data["function"],
                  root=data.get("root", ""))


def spec_from_json(data: dict[str, Any]) -> JobSpec:
    """A job's settings as a JobSpec again. Raises SpecError naming the field that cannot be had
    again (inputs given as Python values, keyword arguments that are not JSON). The target is taken
    as it was (not checked here: the launch panel or the workers check it)."""
    from poolscope.core.errors import SpecError
    from poolscope.core.inputs import parse_inputs
    from poolscope.core.jobs import JobSpec

    if data.get("kwargs") is None and data.get("kwargs_repr") not in (None, "{}"):
        raise SpecError("kwargs", f"were Python values, not JSON ({data.get('kwargs_repr')}): give them again")
    try:
        inputs = parse_inputs(data["inputs"])
    except SpecError:
        raise SpecError("inputs", f"were {data['inputs']}, Python values given by a script: give them again") from None
    initializer = data.get("initializer")
    return JobSpec(target=target_from_json(data["target"]), inputs=inputs, kwargs=data.get("kwargs") or {},
                   chunksize=data.get("chunksize"), timeout=data.get("timeout"), retries=data.get("retries", 0),
                   name=data.get("name", ""), max_tasks_per_worker=data.get("max_tasks_per_worker"),
                   backend=data.get("backend", "processes"),
                   initializer=None if initializer is None else target_from_json(initializer))


# -- what a reader gets ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class JobRow:
    """One past job as the history has it."""

    id: int
    key: str
    name: str
    target: str
    inputs: str
    spec: dict[str, Any]
    source: str
    backend: str
    workers: int | None
    submitted: float
    first_task: float | None
    finished: float | None
    updated: float
    state: str
    total: int | None
    done: int
    failed: int
    cancelled: int
    errors_omitted: dict[str, int]
    throughput: dict[str, Any]
    notices: list[str]
    results_path: str | None
    timeline_dropped: int

    @property
    def duration(self) -> float | None:
        """Seconds from its first task to its end (or to its last record, if interrupted)."""
        if self.first_task is None:
            return None
        end = self.finished if self.finished is not None else self.updated
        return max(0.0, end - self.first_task)

    @property
    def rate(self) -> float | None:
        """Tasks finished (done or failed) a second, over its duration."""
        duration = self.duration
        return (self.done + self.failed) / duration if duration else None

    def throughput_curve(self) -> tuple[list[float], list[float]]:
        """(edges, rates): tasks finished a second in each bin of its curve, between edges[i] and
        edges[i + 1] (seconds since it was submitted; one more edge than rates). The first and last
        bins are cut to when its tasks ran (its first task, its end), so a job shorter than a bin
        reads at its true rate."""
        counts = self.throughput.get("counts", [])
        if not counts:
            return [], []
        width = float(self.throughput.get("bin", 1.0))
        offset = float(self.throughput.get("start", self.submitted)) - self.submitted
        edges = [offset + i * width for i in range(len(counts) + 1)]
        if self.first_task is not None:
            edges[0] = min(max(edges[0], self.first_task - self.submitted), edges[1])
        end = self.finished if self.finished is not None else self.updated
        edges[-1] = max(min(edges[-1], end - self.submitted), edges[-2])
        rates = [count / (right - left) if right > left else 0.0
                 for count, (left, right) in zip(counts, itertools.pairwise(edges), strict=False)]
        return edges, rates

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["duration"] = self.duration
        return data


_JOB_COLUMNS = ", ".join(field.name for field in dataclasses.fields(JobRow))


def _job_row(values: tuple[Any, ...]) -> JobRow:
    fields = dict(zip((field.name for field in dataclasses.fields(JobRow)), values, strict=True))
    for name in ("spec", "errors_omitted", "throughput", "notices"):
        fields[name] = json.loads(fields[name])
    return JobRow(**fields)


@dataclasses.dataclass(frozen=True)
class Failure:
    index: int
    type: str
    message: str
    traceback: str
    pid: int | None
    input: str


@dataclasses.dataclass(frozen=True)
class Slice:
    """A worker ran tasks first_index..last_index of a job from start to end (time.time())."""

    pid: int
    start: float
    end: float
    first_index: int | None
    last_index: int | None


