"""The Dask backend: each slot is a thread in the engine's process that forwards chunks to a cluster.

A slot speaks the worker protocol of core/protocol.py over its pipe, exactly as a worker process
does, so the engine's scheduling, fairness, results, cancel and events are unchanged. Instead of
running a chunk it submits it to Dask as one task (``run_chunk_remote``), and reports its results
when the task's future ends::

    engine ──(SetUpJob, RunChunk, CancelJob, TerminateJob, ForgetJob, Stop)──▶ reader ─┐
    client's event loop: EVENT_STARTED / EVENT_PROGRESS of the slot's chunks ───┼─▶ inbox ─▶ forwarder
    Dask's callback thread: a chunk's future ended ─────────────────────────────┤   thread, the only
    engine thread: handle.kill() (a task over its timeout) ─────────────────────┘   writer of the pipe
    engine ◀──(Ready, Started, Report, Dropped, SetupFailed, Notice)── forwarder thread

    forwarder ──client.submit(run_chunk_remote)──▶ scheduler ──▶ a Dask worker thread runs the chunk:
      on start:           EVENT_STARTED through the scheduler (a round trip) before the first task
      progress():         worker.log_event(the slot's topic) ─▶ scheduler ─▶ subscribe_topic handler
      cancel_requested(): distributed.Event("poolscope-<engine>-cancel-<job>").is_set(), every 100 ms

Why these Dask mechanisms (measured on this 2-core machine, LocalCluster of 2 worker processes,
both running CPU-bound tasks): ``Worker.log_event`` + ``Client.subscribe_topic`` delivered
progress in 1.8 ms median (p99 61 ms) and costs the task nothing (it is queued on the worker's
batched stream), where a ``distributed.Queue`` blocks the task 2 ms (p99 9 ms) per put and needs
a blocking getter per slot. Pub/Sub is gone from distributed. The cancel flag is pulled, not
pushed: ``Event.is_set()`` costs the task 0.5 ms (p99 2 ms), so polling it at most every 100 ms
costs under 1 %; a cancel was noticed 55 ms after ``Event.set()`` (median, p99 81 ms). The start
event is sent with a round trip (0.5 ms, p99 1 ms, once per chunk) so that it is known before the
chunk can kill its worker: see ``finish`` for why that matters.

A Dask worker lost mid-job: Dask reruns what it ran elsewhere, up to the scheduler's
``allowed-failures`` (default 3; a cluster setting, not per job, so JobSpec.retries does not apply
here), then fails it (KilledWorker), reported as WorkerCrashed for each task of the chunk. Terminate
and a timeout restart the Dask workers running the job's chunks (Dask cannot stop a running task).

Results travel the acknowledged path (the task's return value, fetched by the future), never the
best-effort event stream; they are packed as a Report carries them, on the Dask worker
(core/protocol.py ``Outcomes``: plain values as they are, others pickled there one by one).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import queue
import signal
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

from distributed import Client, Event, Future, LocalCluster, get_client, get_worker
from distributed.comm import parse_address
from distributed.comm.addressing import parse_host_port
from distributed.comm.core import CommClosedError
from distributed.comm.registry import get_backend
from distributed.scheduler import KilledWorker

from poolscope import api
from poolscope.api import Cancelled
from poolscope.core.backends import DASK
from poolscope.core.backends.threads import ThreadWorker
from poolscope.core.protocol import (
    STATUS_CANCELLED,
    STATUS_ERROR,
    CancelJob,
    Dropped,
    ErrorInfo,
    ForgetJob,
    Notice,
    Outcomes,
    PickledValues,
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
    describe_exception,
    encode,
    encode_result,
    format_traceback,
    from_engine,
    load_job,
)
from poolscope.core.targets import Target

CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler given by address
PROGRESS_INTERVAL = 0.1  # seconds between progress events of one running chunk
CANCEL_POLL_INTERVAL = 0.1  # a running chunk asks the cluster whether its job was cancelled at most this often
RESTART_GRACE = 1.0  # seconds a Dask worker gets to stop by itself before its nanny kills it
CLOSE_TIMEOUT = 10.0  # seconds for closing the client and a LocalCluster
# A chunk that Dask failed because workers died while it only waited on them is submitted again at
# most this often (a safety limit: its start is known before it runs, see run_chunk_remote).
LOST_RESUBMITS = 3

# Events a running chunk sends to its slot's topic (the first element; msgpack makes them lists).
EVENT_STARTED = "started"  # [EVENT_STARTED, chunk_id, worker address, worker pid]
EVENT_PROGRESS = "progress"  # [EVENT_PROGRESS, chunk_id, input index, done, total | None]



# What lands in a forwarder's inbox besides the engine's messages.
class _DaskEvent(NamedTuple):
    """An event of one of the slot's chunks ([EVENT_..., ...]): put by the client's event loop thread."""

    event: list[Any]


class _ChunkDone(NamedTuple):
    """The chunk's future ended: put by Dask's callback thread."""

    chunk_id: int


class _Kill(NamedTuple):
    """Stop the slot's chunks and end it: put by the engine thread (handle.kill(), a task over its timeout)."""


class Outcome(NamedTuple):
    """What run_chunk_remote returns: a Report's statuses and values for the whole chunk, the
    seconds it ran, and what loading the target raised (then there are no outcomes)."""

    statuses: bytes | None
    values: list[Any] | PickledValues
    busy: float
    setup_error: ErrorInfo | None


# -- on the Dask worker ----------------------------------------------------------------------------
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


def _running_keys(dask_worker: Any) -> list[Any]:
    """The keys of the tasks a Dask worker is executing now (runs on that worker, via client.run)."""
    return list(dask_worker.active_threads.values())


async def _kill_worker_process(grace: float, dask_worker: Any = None) -> None:
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


# -- in the engine's process -----------------------------------------------------------------------
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


class _Forwarder:
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
            running = (self.client.run(_running_keys, workers=sorted(candidates), on_error="return")
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

    def __init__(self, forwarder: _Forwarder, thread: threading.Thread) -> None:
        super().__init__(thread)
        self.forwarder = forwarder

    def kill(self) -> None:
        """Stop the slot's tasks the hard way (restarting the Dask workers running them), then end it."""
        self.forwarder.inbox.put(_Kill())


class DaskBackend:
    """Slots that forward to a Dask cluster: one at ``scheduler``, or a LocalCluster started here."""

    name = DASK

    def __init__(self, scheduler: str | None, local_workers: int) -> None:
        self.token = uuid.uuid4().hex[:12]  # names this engine's keys, topics and flags on a shared cluster
        self.cluster: LocalCluster | None = None
        self.worker_pids: dict[str, int] = {}  # Dask worker address -> pid; written by forwarders and describe_workers
        if scheduler is None:
            # No dashboard, and its HTTP server (which it starts anyway) on a free loopback port.
            self.cluster = LocalCluster(n_workers=max(1, local_workers), threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.CRITICAL,
                                        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                                        preload=[__name__])  # dask_setup: workers ignore Ctrl-C
            try:
                self.client = Client(self.cluster, set_as_default=False)
            except BaseException:
                self.cluster.close(timeout=CLOSE_TIMEOUT)
                raise
        else:
            self.client = _connect(scheduler)
        self.threads = max(1, sum(int(info.get("nthreads", 0)) for info in self._workers().values()))

    def cancel_name(self, job_id: int) -> str:
        """The name of the job's cancel flag (a distributed.Event) on the cluster."""
        return f"poolscope-{self.token}-cancel-{job_id}"

    def slot_count(self) -> int:
        return self.threads

    def start_worker(self, slot: int) -> tuple[Connection, DaskSlot]:
        engine_end, slot_end = Pipe(duplex=True)
        forwarder = _Forwarder(self, slot_end, slot)
        thread = threading.Thread(target=forwarder.serve, name=f"poolscope-dask-{slot}", daemon=True)
        thread.start()
        return engine_end, DaskSlot(forwarder, thread)

    def describe_workers(self) -> list[dict[str, Any]]:
        """Each Dask worker as the scheduler last heard of it (any thread; one call to the scheduler)."""
        workers = self._workers()
        unknown = [address for address in workers if address not in self.worker_pids]
        if unknown:
            try:
                pids = self.client.run(os.getpid, workers=unknown, on_error="return")
                self.worker_pids.update({address: pid for address, pid in pids.items() if isinstance(pid, int)})
            except Exception:  # noqa: BLE001 - a pid is nice to have
                pass
        described = []
        for address, info in sorted(workers.items()):
            metrics = info.get("metrics", {})
            counts = metrics.get("task_counts", {})
            described.append({
                "address": address,
                "name": str(info.get("name", "")),
                "host": info.get("host", ""),
                "pid": self.worker_pids.get(address),
                "nthreads": info.get("nthreads", 0),
                "cpu_percent": metrics.get("cpu", 0.0),
                "memory_bytes": metrics.get("memory", 0),
                "memory_limit": info.get("memory_limit", 0),
                "executing": counts.get("executing", 0),
                "ready": counts.get("ready", 0) + counts.get("constrained", 0),
                "status": info.get("status", ""),
            })
        return described

    def restart_workers(self, addresses: list[str]) -> tuple[list[str], list[str]]:
        """Kill these Dask workers at once; their nannies start fresh ones. Returns (restarted, problems)."""
        workers = self._workers()
        with_nanny = [address for address in addresses if workers.get(address, {}).get("nanny")]
        restarted: list[str] = []
        problems: list[str] = []
        if with_nanny:
            try:
                replies = self.client.run(_kill_worker_process, RESTART_GRACE, workers=with_nanny, nanny=True,
                                          on_error="return")
            except Exception as exc:  # noqa: BLE001
                replies = {address: exc for address in with_nanny}
            for address in with_nanny:
                reply = replies.get(address)
                if isinstance(reply, BaseException):
                    problems.append(f"could not restart Dask worker {address}: {type(reply).__name__}: {reply}")
                else:
                    restarted.append(address)
        others = [address for address in addresses if address not in with_nanny]
        if others:  # no nanny (or already gone): Dask's own restart, which removes a worker it cannot restart
            try:
                replies = self.client.restart_workers(others, timeout=CLOSE_TIMEOUT, raise_for_error=False)
            except Exception as exc:  # noqa: BLE001
                replies = {address: f"{type(exc).__name__}: {exc}" for address in others}
            for address in others:
                reply = replies.get(address)
                if reply == "OK":
                    restarted.append(address)
                else:
                    problems.append(f"could not restart Dask worker {address} ({reply}; it has no nanny)")
        return restarted, problems

    def close(self) -> None:
        try:
            self.client.close(timeout=CLOSE_TIMEOUT)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=CLOSE_TIMEOUT)

    def _workers(self) -> dict[str, dict[str, Any]]:
        try:
            info = self.client.scheduler_info(n_workers=-1)
        except TypeError:  # distributed before 2025: every worker by default
            info = self.client.scheduler_info()
        return dict(info.get("workers", {}))


def _connect(address: str) -> Client:
    """A client of the scheduler at ``address``, or an error that says what to do.

    A bad address or a port where nothing listens fails here at once, before a Client exists (a
    Client that failed to connect spends 10 s closing itself when it is garbage-collected).
    """
    hint = "start one with 'dask scheduler', or leave out the address to start a local cluster"
    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        host, port = parse_host_port(location, default_port=8786) if scheme == "tcp" else ("", 0)
    except ValueError as exc:
        raise ValueError(f"{address!r} is not a Dask scheduler address ({exc}); give one like "
                         "tcp://10.0.0.5:8786") from None
    if scheme == "tcp":
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
        except OSError as exc:
            raise ConnectionError(f"no Dask scheduler at {address} ({exc.strerror or exc}); {hint}") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except Exception as exc:  # noqa: BLE001
        raise ConnectionError(f"could not connect to a Dask scheduler at {address}: {type(exc).__name__}: {exc}; "
                              f"{hint}") from None
