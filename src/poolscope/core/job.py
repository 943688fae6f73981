"""The caller's handle on a submitted job (``Engine.submit`` returns one): its state, its
summary, waiting for it, and its results, read from the engine's record of it
(core/job_record.py) in the caller's thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from poolscope.core.job_record import JobRecord
from poolscope.core.jobs import JobSpec, JobState, JobSummary
from poolscope.core.json_form import write_results

if TYPE_CHECKING:
    from poolscope.core.engine import Engine


class Job:
    """The caller's handle on a submitted job."""

    def __init__(self, engine: Engine, record: JobRecord) -> None:
        self._engine = engine
        self._record = record

    @property
    def id(self) -> int:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.spec.name

    @property
    def spec(self) -> JobSpec:
        return self._record.spec

    @property
    def state(self) -> JobState:
        return self._record.state

    def summary(self) -> JobSummary:
        """Where the job stands now (no results; see :meth:`wait`)."""
        return self._record.final or self._record.summary()

    def wait(self, timeout: float | None = None) -> JobSummary:
        """Wait until the job ends; return its summary with results. Raises ``TimeoutError``."""
        if not self._record.finished.wait(timeout):
            raise TimeoutError(f"job {self.id} ({self.name}) still {self._record.state.value} after {timeout} s")
        record = self._record
        assert record.final is not None
        with record.results_lock:  # built once, on first asking: a window that never asks never pays
            if record.final.results is None:
                record.final = dataclasses.replace(record.final, results=record.ordered_results())
        return record.final

    def results(self) -> list[Any]:
        """Results by input index so far (``None`` where a task has not finished)."""
        return self._record.ordered_results()

    def iter_results(self) -> Iterator[tuple[int, Any]]:
        """``(input index, result)`` of every task finished so far, in input order.

        Read from where the engine keeps them one block at a time: unlike :meth:`results`, this
        never holds every result in memory at once. Results of the user's classes are built in
        this process, their modules imported as a worker imports them.
        """
        return self._record.results.items(self._record.load_result)

    def save_results(self, path: str, *, progress: Callable[[int], None] | None = None) -> int:
        """Write the results so far to ``path`` as JSON Lines, as ``poolscope run --results`` does.

        One line per finished task, in input order; failed, cancelled and unfinished tasks have
        none. The file appears whole or not at all (written beside it, then renamed). Returns how
        many results were written; raises ``OSError`` if the file cannot be written. ``progress``
        is called with the count so far every thousand results.

        The window calls this: results of a job of the user's code are unpickled and made
        JSON-ready in a child process (``ResultStore.json_ready_items``), never in this one.
        """
        inputs = self.spec.inputs
        record = self._record
        results = (record.results.json_ready_items(self.spec.target) if self.spec.target.is_user_code
                   else record.results.items())
        partial = f"{path}.part"
        try:
            with open(partial, "w", encoding="utf-8") as stream:
                count = write_results(stream, results, inputs.iterate() if inputs.repeatable else None,
                                      progress)
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise
        return count

    def cancel(self) -> None:
        self._engine.cancel(self)

    def terminate(self) -> None:
        self._engine.terminate(self)

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.name!r} {self._record.state.value}>"

