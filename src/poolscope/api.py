"""The task-side API: what code running inside a poolscope task may call.

``progress(done, total=None)`` reports how far the running task has come. It is cheap: the
worker keeps only the latest value and sends it with the next batch (a few times a second), so
calling it in a tight loop is fine. Outside a poolscope worker it does nothing.

``cancel_requested()`` says whether the task's job has been cancelled. ``progress()`` raises
:class:`Cancelled` once it has, so a task that reports progress stops by itself; a task that
wants to clean up first can check ``cancel_requested()`` and return early.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Cancelled(BaseException):
    """Raised inside a task by :func:`progress` once the task's job has been cancelled.

    It derives from ``BaseException`` (as ``asyncio.CancelledError`` does) so that a task's
    ``except Exception:`` does not swallow it by accident.
    """


class TaskContext(Protocol):
    """What a backend installs for the task running on the current thread."""

    def report_progress(self, done: float, total: float | None) -> None: ...

    def cancel_requested(self) -> bool: ...


# The context of the task running on this thread, installed by the worker loop
# (core/worker.py) or a thread backend around each task; absent outside a task.
_local = threading.local()


def set_task_context(context: TaskContext | None) -> None:
    """Install (or with ``None`` remove) the task context for the current thread."""
    _local.context = context


def progress(done: float, total: float | None = None) -> None:
    """Report that the running task has done ``done`` units of ``total``.

    Raises :class:`Cancelled` once the task's job has been cancelled. A no-op outside a task.
    """
    context = getattr(_local, "context", None)
    if context is not None:
        context.report_progress(done, total)


def cancel_requested() -> bool:
    """Whether the running task's job has been cancelled (always ``False`` outside a task)."""
    context = getattr(_local, "context", None)
    return context is not None and context.cancel_requested()
