"""The errors the drop-in pools raise where the stdlib has none of its own to raise, each a subclass
of what a stdlib user's ``except`` clause already catches."""

from __future__ import annotations

import pickle
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool

__all__ = ["InitializerFailed", "JobCancelled", "PicklingFailed", "TaskFailed", "WorkerLost", "WorkerStartFailed"]


class WorkerLost(BrokenProcessPool):
    """The worker process running this task died (killed, or crashed): this task fails, and the
    pool goes on with a fresh worker. (The stdlib's executor breaks, failing every pending
    future with ``BrokenProcessPool``; its ``Pool`` waits for ever.)"""


class WorkerStartFailed(BrokenProcessPool):
    """A worker could not set up the task's job (e.g. its function does not import there)."""


class InitializerFailed(WorkerStartFailed):
    """The pool's initializer raised in a worker: the pool is broken, as the stdlib's executor is
    (its ``Pool`` starts workers that fail for ever)."""


class JobCancelled(CancelledError):
    """The task will not run or finish: the pool was terminated, or its job cancelled or
    terminated from a poolscope window."""


class PicklingFailed(pickle.PicklingError, TypeError):
    """An argument or a result could not be pickled (or unpickled in the worker). A
    ``PicklingError`` and a ``TypeError``, as the stdlib raises one or the other."""


class TaskFailed(Exception):
    """A task's exception that could not be rebuilt here (it did not pickle): its type's name and
    message, and the worker's traceback as its cause."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
