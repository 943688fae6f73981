"""A Dask slot: a thread in the engine's process that forwards the engine's chunks to the cluster
and reports them back, speaking the worker protocol of core/protocol.py over its pipe.

One ``Forwarder`` thread per slot is the only writer of the slot's pipe; everything else it must
act on comes to it through its inbox::

    engine ──(SetUpJob, RunChunk, CancelJob, TerminateJob, ForgetJob, Stop)──▶ reader ─┐
    client's event loop: EVENT_STARTED / EVENT_PROGRESS of the slot's chunks ───┼─▶ inbox ─▶ forwarder
    Dask's callback thread: a chunk's future ended ─────────────────────────────┤   thread, the only
    engine thread: handle.kill() (a task over its timeout) ─────────────────────┘   writer of the pipe
    engine ◀──(Ready, Started, Report, Dropped, SetupFailed, Notice)── forwarder thread

A chunk is submitted as one Dask task (core/backends/dask_remote.py ``run_chunk_remote``); the
cluster and its client are the backend's (core/backends/dask.py ``DaskBackend``).
"""

from __future__ import annotations

import dataclasses
import pickle
import queue
import threading
import uuid
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, NamedTuple

from distributed import Event, Future
from distributed.comm.core import CommClosedError
from distributed.scheduler import KilledWorker

from poolscope.core.backends.dask_remote import EVENT_PROGRESS, EVENT_STARTED, run_chunk_remote, running_keys
from poolscope.core.backends.threads import ThreadWorker
from poolscope.core.outcomes import STATUS_CANCELLED, STATUS_ERROR, describe_exception
from poolscope.core.protocol import (
    CancelJob,
    Dropped,
    ErrorInfo,
    ForgetJob,
    Notice,
    Progress,
    Ready,
    Report,
    RunChunk,
    SetupFailed,
    SetUpJob,
    Started,
    Stop,
    TerminateJob,
    ToEngine,
    Unreadable,
    encode,
    from_engine,
    load_job,
)

if TYPE_CHECKING:
    from poolscope.core.backends.dask import DaskBackend
    from poolscope.core.targets import Target

# A chunk that Dask failed because workers died while it only waited on them is submitted again at
# most this often (a safety limit: its start is known before it runs, see run_chunk_remote).
LOST_RESUBMITS = 3


# What lands in a forwarder's inbox besides the engine's messages.
class _DaskEvent(NamedTuple):
    """An event of one of the slot's chunks ([EVENT_..., ...]): put by the client's event loop thread."""

    event: list[Any]


class _ChunkDone(NamedTuple):
    """The chunk's future ended: put by Dask's callback thread."""

    chunk_id: int


class _Kill(NamedTuple):
    """Stop the slot's chunks and end it: put by the engine thread (handle.kill(), a task over its timeout)."""


@dataclasses.dataclass(eq=False)
class _RemoteChunk:
    """A chunk submitted to the cluster and not yet reported finished. Forwarder thread only."""

    id: int
    job_id: int
    start: int  # the input index of inputs[0]
    inputs: Sequence[Any]
    future: Future
    started: bool = False  # it began on a Dask worker (we heard its EVENT_STARTED); Started sent
    worker: str | None = None  # the Dask worker that runs it (from its EVENT_STARTED)
    resubmitted: int = 0  # times it was submitted again after waiting on a worker that died


class Forwarder:
    """One slot: forwards the engine's chunks to the cluster and reports them back."""

    def __init__(self, backend: DaskBackend, conn: Connection, slot: int) -> None:
        self.backend = backend
        self.client = backend.client
        self.conn = conn  # our end of the pipe to the engine; written only by the forwarder thread
        # Filled by the reader thread, the client's event loop, Dask's callback thread and kill().
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()  # protocol messages and the three above
        self.topic = f"poolscope-{backend.token}-slot{slot}-{uuid.uuid4().hex[:8]}"  # our chunks' events
        # -- forwarder thread only ----------------------------------------------------------------
        self.jobs: dict[int, tuple[Target, dict[str, Any]]] = {}  # from SetUpJob
        self.failed_jobs: set[int] = set()  # their target could not be loaded on the cluster
        self.cancelled_jobs: set[int] = set()  # their cancel flag is set on the cluster
        self.chunks: dict[int, _RemoteChunk] = {}  # on the cluster, by chunk id

    def send(self, message: ToEngine) -> None:
        """Write a message to the engine (the forwarder thread only)."""
        self.conn.send_bytes(encode(message))

    # -- other threads ---------------------------------------------------------------------------
    def read_forever(self) -> None:
        """Runs on the reader thread: move the engine's messages to the inbox."""
        while True:
            try:
                message = from_engine(self.conn.recv_bytes())
            except (EOFError, OSError):
                self.inbox.put(Stop())  # the engine closed the pipe: stop
                return
            self.inbox.put(message)

    def on_dask_event(self, event: tuple[float, Any]) -> None:
        """Runs on the client's event loop thread (subscribe_topic): keep it short."""
        self.inbox.put(_DaskEvent(event[1]))

    def on_future_done(self, chunk_id: int) -> None:
        """Runs on Dask's callback thread."""
        self.inbox.put(_ChunkDone(chunk_id))

    # -- forwarder thread ------------------------------------------------------------------------
    def serve(self) -> None:
        self.client.subscribe_topic(self.topic, self.on_dask_event)  # before any of our chunks can start
        threading.Thread(target=self.read_forever, name="poolscope-dask-reader", daemon=True).start()
        self.send(Ready(threading.get_native_id()))
        try:
            while True:
                message = self.inbox.get()
                kind = type(message)
                if kind is Stop:
                    return
                if kind is _Kill:  # the engine recovers our chunks when it sees the pipe close
                    chunks = list(self.chunks.values())
                    notice = self.stop_remote_chunks(chunks, "stopped")
                    for job_id in sorted({chunk.job_id for chunk in chunks}):
                        self.send(Notice(job_id, notice))
                    return
                self.handle(message)
        except (BrokenPipeError, ConnectionResetError):
            return  # the engine is gone: nothing left to report to
        finally:
            futures = [chunk.future for chunk in self.chunks.values()]
            self.chunks.clear()
            try:
                if futures:
                    self.client.cancel(futures, force=True)
                self.client.unsubscribe_topic(self.topic)
            except Exception:  # noqa: BLE001 - the client is closing: nothing left to tidy
                pass
            self.conn.close()  # the engine sees end-of-file (or a dead thread): this slot has ended

    def handle(self, message: Any) -> None:
        kind = type(message)
        if kind is _DaskEvent:
            self.handle_event(message.event)
        elif kind is _ChunkDone:
            chunk = self.chunks.pop(message.chunk_id, None)
            if chunk is not None:  # else: dropped or terminated already
                self.finish(chunk)
        elif kind is RunChunk:
            try:
                inputs = pickle.loads(message.inputs)  # pickled by the engine (see core/protocol.py RunChunk)
            except BaseException as exc:  # noqa: BLE001 - the engine fails the input or splits the chunk
                self.send(Unreadable(message.chunk_id, *describe_exception(exc).text))
                return
            self.submit(message.chunk_id, message.job_id, message.start, inputs)
        elif kind is SetUpJob:
            try:
                target, kwargs, _initializer = load_job(message.setup)
            except BaseException as exc:  # noqa: BLE001 - the job fails: "worker could not start"
                self.failed_jobs.add(message.job_id)
                self.send(SetupFailed(message.job_id, *describe_exception(exc).text))
                return
            self.jobs[message.job_id] = (target, kwargs)
        elif kind is CancelJob:
            self.cancel(message.job_id)
        elif kind is TerminateJob:
            self.terminate(message.job_id)
        elif kind is ForgetJob:
            self.forget(message.job_id)

    def submit(self, chunk_id: int, job_id: int, start: int, inputs: Sequence[Any]) -> None:
        if job_id in self.cancelled_jobs:
            self.send(Dropped(chunk_id))
            return
        setup = self.jobs.get(job_id)
        if setup is None or job_id in self.failed_jobs:
            reason = "the job's target could not be loaded on the Dask cluster" if setup else "job was not set up"
            self.report_error(chunk_id, len(inputs), ErrorInfo("WorkerStartError", reason, ""))
            return
        self.send_to_cluster(chunk_id, job_id, start, inputs, 0)

    def send_to_cluster(self, chunk_id: int, job_id: int, start: int, inputs: Sequence[Any], resubmitted: int) -> None:
        target, kwargs = self.jobs[job_id]
        key = f"poolscope-job{job_id}-chunk{chunk_id}-{resubmitted}-{self.backend.token}"  # unique on the cluster
        try:
            future = self.client.submit(run_chunk_remote, target, kwargs, start, inputs, self.topic, chunk_id,
                                        self.backend.cancel_name(job_id), key=key)
        except Exception as exc:  # noqa: BLE001 - e.g. the client is closed: this chunk fails, not the slot
            self.report_error(chunk_id, len(inputs), ErrorInfo("DaskError", f"could not submit to Dask: {exc}", ""))
            return
        self.chunks[chunk_id] = _RemoteChunk(chunk_id, job_id, start, inputs, future, resubmitted=resubmitted)
        future.add_done_callback(lambda _: self.on_future_done(chunk_id))

    def handle_event(self, event: list[Any]) -> None:
        chunk = self.chunks.get(event[1])
        if chunk is None:
            return  # finished, dropped or terminated meanwhile
        if event[0] == EVENT_STARTED:
            chunk.worker = event[2]  # again when Dask reruns it elsewhere after a lost worker
            self.backend.worker_pids[event[2]] = event[3]
            self.mark_started(chunk)
        elif event[0] == EVENT_PROGRESS and chunk.started:
            progress = Progress(event[2], event[3], event[4])
            self.send(Report(chunk.id, None, [], progress, False, 0.0))

    def mark_started(self, chunk: _RemoteChunk) -> None:
        if not chunk.started:
            chunk.started = True
            self.send(Started(chunk.id))

    def finish(self, chunk: _RemoteChunk) -> None:
        """Report a chunk whose future ended: its results, or why it has none."""
        future = chunk.future
        if not future.done():  # its result was lost with a worker since: Dask computes it again
            self.chunks[chunk.id] = chunk
            future.add_done_callback(lambda _: self.on_future_done(chunk.id))
            return
        try:
            if future.status == "finished":
                statuses, values, busy, setup_error = future.result()
                self.mark_started(chunk)
                if setup_error is None:
                    self.send(Report(chunk.id, statuses, values, None, True, busy))
                    return
                self.setup_failed(chunk, setup_error)
                return
            exc = future.exception() if future.status == "error" else None
        except Exception as error:  # noqa: BLE001 - fetching the result failed
            exc = error
        lost = isinstance(exc, (KilledWorker, CommClosedError, OSError))
        ran_there = isinstance(exc, KilledWorker) and chunk.worker == exc.last_worker.address
        innocent = lost and not ran_there and chunk.job_id not in self.cancelled_jobs
        if innocent and chunk.resubmitted < LOST_RESUBMITS:
            # Dask counts a task that merely waited on a worker that died as suspect, like the one
            # that ran there; this chunk was not running when the worker died, so it cannot have
            # killed it: run it again, with a fresh count.
            self.send_to_cluster(chunk.id, chunk.job_id, chunk.start, chunk.inputs, chunk.resubmitted + 1)
            return
        self.mark_started(chunk)
        if lost or exc is None:
            address = exc.last_worker.address if isinstance(exc, KilledWorker) else chunk.worker or "(unknown)"
            if isinstance(exc, KilledWorker):
                tries = exc.allowed_failures + 1
                why = (f"it died running this chunk, as did every worker that ran it before ({tries} in all; "
                       f"the scheduler's allowed-failures is {exc.allowed_failures})")
            elif exc is None:
                why = f"the task was {future.status} on the cluster"
            else:
                why = f"{type(exc).__name__}: {exc}"
            self.report_error(chunk.id, len(chunk.inputs),
                              ErrorInfo("WorkerCrashed", f"Dask worker {address} lost: {why}", ""))
        else:  # the cluster could not run our function at all (e.g. poolscope missing there)
            self.setup_failed(chunk, describe_exception(exc))

    def setup_failed(self, chunk: _RemoteChunk, error: ErrorInfo) -> None:
        """As core/worker.py does when the target cannot be loaded: tell the engine once, fail the chunk."""
        type_name, message, tb = error.text
        if chunk.job_id not in self.failed_jobs:
            self.failed_jobs.add(chunk.job_id)
            self.send(SetupFailed(chunk.job_id, type_name, message, tb))
        where = f"Dask worker {chunk.worker}" if chunk.worker else "the Dask cluster"
        reason = f"{where} could not start the job's target: {type_name}: {message}"
        self.report_error(chunk.id, len(chunk.inputs), ErrorInfo("WorkerStartError", reason, tb))

    def report_error(self, chunk_id: int, count: int, error: ErrorInfo) -> None:
        """Finish a chunk of ``count`` tasks with the same error for each."""
        self.send(Report(chunk_id, bytes([STATUS_ERROR]) * count, [error] * count, None, True, 0.0))

    def report_cancelled(self, chunk: _RemoteChunk) -> None:
        count = len(chunk.inputs)
        self.send(Report(chunk.id, bytes([STATUS_CANCELLED]) * count, [None] * count, None, True, 0.0))

    def flag_cancelled(self, job_id: int) -> None:
        """Set the job's cancel flag on the cluster: its running chunks see it within 100 ms."""
        if job_id in self.cancelled_jobs:
            return
        self.cancelled_jobs.add(job_id)
        try:
            Event(self.backend.cancel_name(job_id), client=self.client).set()
        except Exception as exc:  # noqa: BLE001 - its chunks then run to the end
            self.send(Notice(job_id, f"could not signal the job's Dask tasks to stop: {exc}"))

    def cancel(self, job_id: int) -> None:
        """Drop the job's chunks that have not started; flag the running ones to stop."""
        queued = [chunk for chunk in self.chunks.values() if chunk.job_id == job_id and not chunk.started]
        for chunk in queued:
            del self.chunks[chunk.id]
            self.send(Dropped(chunk.id))
        if queued:
            try:
                self.client.cancel([chunk.future for chunk in queued], force=True)
            except Exception:  # noqa: BLE001 - they then run, see the flag and return at once
                pass
        self.flag_cancelled(job_id)

    def terminate(self, job_id: int) -> None:
        """Cancel the job's chunks with force, restart the Dask workers running them, and say which."""
        self.flag_cancelled(job_id)
        doomed = []
        for chunk in [chunk for chunk in self.chunks.values() if chunk.job_id == job_id]:
            del self.chunks[chunk.id]
            if chunk.future.done():  # ended meanwhile: report it now (its callback may never come at exit)
                self.finish(chunk)
            else:
                doomed.append(chunk)
        if not doomed:
            return
        # Said before the chunks are: their reports can end the job, and what ended it comes first.
        self.send(Notice(job_id, self.stop_remote_chunks(doomed, "terminated")))
        for chunk in doomed:
            self.report_cancelled(chunk)

    def stop_remote_chunks(self, chunks: list[_RemoteChunk], verb: str) -> str:
        """Cancel the chunks' futures with force and restart every Dask worker still running one.

        Dask cannot stop a running task, so the worker process running it is killed (its nanny
        starts a fresh one; Dask reruns elsewhere other tasks it held). Returns a notice text.
        """
        keys = {chunk.future.key for chunk in chunks}
        candidates = {chunk.worker for chunk in chunks if chunk.worker}
        try:  # where the scheduler put them (a chunk may have started without our having heard yet)
            candidates |= {address for address, held in self.client.processing().items() if keys & set(held)}
            self.client.cancel([chunk.future for chunk in chunks], force=True)
            running = (self.client.run(running_keys, workers=sorted(candidates), on_error="return")
                       if candidates else {})
        except Exception as exc:  # noqa: BLE001
            return f"{verb}: could not reach the Dask cluster to stop its tasks: {exc}"
        busy = sorted(address for address, held in running.items() if isinstance(held, list) and keys & set(held))
        if not busy:
            return f"{verb}: its Dask tasks were cancelled before any worker ran them"
        restarted, problems = self.backend.restart_workers(busy)
        done = [f"restarted Dask workers {', '.join(restarted)}"] if restarted else []
        return f"{verb}: " + "; ".join(done + problems)

    def forget(self, job_id: int) -> None:
        self.jobs.pop(job_id, None)
        self.failed_jobs.discard(job_id)
        if job_id in self.cancelled_jobs:
            self.cancelled_jobs.discard(job_id)
            try:  # let the scheduler drop the flag (a cleared Event with no waiters is deleted)
                Event(self.backend.cancel_name(job_id), client=self.client).clear()
            except Exception:  # noqa: BLE001
                pass


class DaskSlot(ThreadWorker):
    """The engine's handle on one forwarder thread. It cannot be killed: terminate is a message."""

    def __init__(self, forwarder: Forwarder, thread: threading.Thread) -> None:
        super().__init__(thread)
        self.forwarder = forwarder

    def kill(self) -> None:
        """Stop the slot's tasks the hard way (restarting the Dask workers running them), then end it."""
        self.forwarder.inbox.put(_Kill())
