"""Stand-ins for ``poolscope.pools`` (the drop-in pools) in tests of ``poolscope watch``: a Pool
and a ProcessPoolExecutor whose ``map`` runs the script's function as a job on a real Engine that
reports to the window (or to ``watch --headless``), as the drop-ins do. Only what the tests'
scripts call."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from poolscope.core.attach import report_to_window
from poolscope.core.engine import Engine
from poolscope.core.jobs import JobSpec

if TYPE_CHECKING:
    from typing_extensions import Self


def run_map(function: Callable[[Any], Any], inputs: Iterable[Any], workers: int) -> list[Any]:
    target = f"{sys.argv[0]}:{function.__name__}"  # a function of the script, loaded from its file
    with Engine(workers=workers, nice=0) as engine:
        reporter = report_to_window(engine, os.path.basename(sys.argv[0]))
        sys.stderr.write(f"fake_pools: {function.__name__} {'reports to' if reporter else 'has no'} reader\n")
        job = engine.submit(JobSpec.create(target, "json:" + json.dumps(list(inputs)), name=function.__name__))
        summary = job.wait(60)
        if reporter is not None:
            reporter.close()
    return list(summary.results or [])


class Pool:
    def __init__(self, processes: int | None = None, *args: Any, **kwargs: Any) -> None:
        self.processes = processes or 1

    def map(self, function: Callable[[Any], Any], iterable: Iterable[Any], chunksize: int | None = None) -> list[Any]:
        return run_map(function, iterable, self.processes)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class ProcessPoolExecutor:
    def __init__(self, max_workers: int | None = None, *args: Any, **kwargs: Any) -> None:
        self.max_workers = max_workers or 1

    def map(self, function: Callable[[Any], Any], *iterables: Iterable[Any], **kwargs: Any) -> Iterable[Any]:
        return iter(run_map(function, iterables[0], self.max_workers))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
