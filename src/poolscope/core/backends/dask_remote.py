"""What runs on a Dask worker: the preload hook, the task that runs one chunk, and the helpers
the engine's side runs there through ``client.run``.

The engine's side (core/backends/dask_forwarder.py) submits ``run_chunk_remote`` by name; a Dask
worker imports this module to run it, so it imports neither the engine nor the forwarders. A
running chunk talks to its slot through the cluster only::

    on start:           EVENT_STARTED through the scheduler (a round trip) before the first task
    progress():         worker.log_event(the slot's topic) ─▶ scheduler ─▶ subscribe_topic handler
    cancel_requested(): distributed.Event("poolscope-<engine>-cancel-<job>").is_set(), every 100 ms

Why these mechanisms: see core/backends/dask.py. Results travel the acknowledged path (the task's
return value, fetched by the future), never the best-effort event stream; they are packed as a
Report carries them, here on the Dask worker (core/outcomes.py ``Outcomes``: plain values as they
are, others pickled here one by one).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from distributed import Event, get_client, get_worker

from poolscope import api
from poolscope.api import Cancelled
from poolscope.core.outcomes import (
    STATUS_CANCELLED,
    STATUS_ERROR,
    Outcomes,
    describe_exception,
    encode_result,
    format_traceback,
)
from poolscope.core.protocol import ErrorInfo, PickledValues

if TYPE_CHECKING:
    from poolscope.core.targets import Target

PROGRESS_INTERVAL = 0.1  # seconds between progress events of one running chunk
CANCEL_POLL_INTERVAL = 0.1  # a running chunk asks the cluster whether its job was cancelled at most this often

# Events a running chunk sends to its slot's topic (the first element; msgpack makes them lists).
EVENT_STARTED = "started"  # [EVENT_STARTED, chunk_id, worker address, worker pid]
EVENT_PROGRESS = "progress"  # [EVENT_PROGRESS, chunk_id, input index, done, total | None]


class Outcome(NamedTuple):
    """What run_chunk_remote returns: a Report's statuses and values for the whole chunk, the
    seconds it ran, and what loading the target raised (then there are no outcomes)."""

    statuses: bytes | None
    values: list[Any] | PickledValues
    busy: float
    setup_error: ErrorInfo | None


class _RemoteTaskContext:
    """The ``poolscope.api`` context of a chunk running on a Dask worker (one thread, one chunk)."""

    def __init__(self, topic: str, chunk_id: int, cancel_name: str) -> None:
        self.worker = get_worker()
        self.topic = topic
        self.chunk_id = chunk_id
        self.cancel_flag = Event(cancel_name)  # connects (the worker's own client) on first is_set()
        self.cancelled = False
        # The first look is after one interval: a chunk of a job cancelled before it started was
        # dropped by its forwarder, so short chunks never pay for the round trip to the scheduler.
        self.next_poll = time.monotonic() + CANCEL_POLL_INTERVAL
        self.next_progress = 0.0
        self.index = -1

    def cancel_requested(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now >= self.next_poll:
            self.next_poll = now + CANCEL_POLL_INTERVAL
            try:
                self.cancelled = self.cancel_flag.is_set()
            except Exception:  # noqa: BLE001 - the scheduler is busy or gone: ask again next time
                pass
        return self.cancelled

    def report_progress(self, done: float, total: float | None) -> None:
        try:
            message = [EVENT_PROGRESS, self.chunk_id, self.index, float(done), None if total is None else float(total)]
        except (TypeError, ValueError):
            raise TypeError(f"progress() takes numbers, not done={done!r}, total={total!r}") from None
        if self.cancel_requested():
            raise Cancelled()
        now = time.monotonic()
        if now >= self.next_progress:
            self.next_progress = now + PROGRESS_INTERVAL
            self.worker.log_event(self.topic, message)  # queued on the worker's batched stream


def run_chunk_remote(target: Target, kwargs: dict[str, Any], start: int, inputs: Sequence[Any], topic: str,
                     chunk_id: int, cancel_name: str) -> Outcome:
    """One chunk (inputs ``start``, ``start + 1``, ...) run as one Dask task on a Dask worker.

    Runs there, in a Dask worker thread; top-level so that Dask can pickle it by name. Returns the
    outcomes packed as a Report carries them (see ``Outcome``).
    """
    began = time.perf_counter()
    context = _RemoteTaskContext(topic, chunk_id, cancel_name)
    started = [EVENT_STARTED, chunk_id, context.worker.address, os.getpid()]
    try:  # through the scheduler before the task runs: if it kills this worker, its forwarder knows it ran
        get_client().log_event(topic, started)
    except Exception:  # noqa: BLE001 - the scheduler is busy or gone: tell it the cheap way
        context.worker.log_event(topic, started)
    try:
        function = target.load()
    except BaseException as exc:  # noqa: BLE001 - reported to the engine, the job fails
        return Outcome(None, [], time.perf_counter() - began,
                       ErrorInfo(type(exc).__name__, str(exc), format_traceback(exc)))
    outcomes = Outcomes()
    api.set_task_context(context)
    try:
        for index, value in enumerate(inputs, start):
            if context.cancel_requested():
                status, outcome = STATUS_CANCELLED, None
            else:
                context.index = index
                try:
                    status, outcome = encode_result(function(value, **kwargs))
                except Cancelled:
                    status, outcome = STATUS_CANCELLED, None
                except BaseException as exc:  # noqa: BLE001 - every task error is reported, the chunk goes on
                    status, outcome = STATUS_ERROR, describe_exception(exc)
            outcomes.add(status, outcome)
    finally:
        api.set_task_context(None)
    return Outcome(*outcomes.pack(), time.perf_counter() - began, None)


def running_keys(dask_worker: Any) -> list[Any]:
    """The keys of the tasks a Dask worker is executing now (runs on that worker, via client.run)."""
    return list(dask_worker.active_threads.values())


async def kill_worker_process(grace: float, dask_worker: Any = None) -> None:
    """Kill a nanny's worker process; the nanny starts a new one (runs in the nanny, via client.run)."""
    await dask_worker.kill(timeout=grace)


def dask_setup(worker: Any) -> None:
    """Worker preload hook (LocalCluster(preload=[this module])): runs in each worker process as it
    starts, before it joins the scheduler, restarted workers included.

    Ctrl-C is the engine's to handle (cancel, then terminate), never a Dask worker's. The workers
    of a LocalCluster share the terminal's process group with poolscope, so a Ctrl-C reaches them
    too; without this each one would die with KeyboardInterrupt and Dask would rerun what it held.
    Being a preload, it is in place before the worker can be given a task.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
