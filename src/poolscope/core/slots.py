"""The worker slot table: every live or dying worker of every backend, and the engine's end of
each one's pipe. Starting a slot, sending to it, draining what it wrote, killing, stopping and
reaping it, and the deadline of the task it runs.

Engine thread only, but for ``pids`` (replaced whole, read by any thread). What a worker's
messages mean is core/intake.py's; what becomes of the chunks of a worker that is gone is
core/scheduler.py's rule, carried out by the engine. DESIGN.md, "Data flow", draws the pipes.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from poolscope.core.backends import PROCESSES, Backend, WorkerHandle
from poolscope.core.job_record import Chunk, JobRecord
from poolscope.core.processes import signal_name
from poolscope.core.protocol import Stop, ToEngine, ToWorker, encode, from_worker
from poolscope.core.targets import FileStamp

STOP_GRACE = 2.0  # seconds workers get to exit when asked, at shutdown, before they are killed


@dataclass(eq=False)
class WorkerSlot:
    """The engine's view of one worker: a process, a thread, or a forwarder to Dask."""

    backend: str
    slot: int
    handle: WorkerHandle
    conn: Connection  # the engine's end of the worker's pipe; read and written by the engine thread
    pid: int
    ready: bool = False
    stopping_reason: str | None = None  # set once the engine killed or stopped it
    outstanding: collections.deque[Chunk] = field(default_factory=collections.deque)  # sent, not finished; head runs
    known_jobs: set[int] = field(default_factory=set)  # jobs whose target was sent (SetUpJob)
    # Jobs sent (SetUpJob) that it has not yet been seen to set up (no Started, Dropped or
    # SetupFailed of theirs yet): if it dies now, before its next chunk starts, the set-up killed it.
    setting_up: set[int] = field(default_factory=set)
    tasks_done: int = 0
    job_tasks_done: collections.Counter[int] = field(default_factory=collections.Counter)
    job_tasks_sent: collections.Counter[int] = field(default_factory=collections.Counter)  # for max_tasks_per_worker
    task_progress: float | None = None
    # Files of user code the worker process loaded, stamped when loaded (Loaded; see
    # EngineLoop.replace_workers_with_stale_code). Written by the engine thread.
    loaded_files: dict[str, FileStamp] = field(default_factory=dict)

    def find_chunk(self, chunk_id: int) -> Chunk | None:
        for chunk in self.outstanding:
            if chunk.id == chunk_id:
                return chunk
        return None

    def holds(self, record: JobRecord) -> bool:
        return any(chunk.job is record for chunk in self.outstanding)

    def deadline(self) -> float | None:
        """When the task it runs passes its job's timeout (None: no limit, or nothing running)."""
        if not self.outstanding:
            return None
        head = self.outstanding[0]
        limit = head.job.spec.timeout
        return None if limit is None or head.started_at is None else head.started_at + limit


@dataclass(frozen=True)
class Exit:
    """How a reaped worker ended."""

    exitcode: int | None
    reason: str  # why it stopped: the engine's reason, or "crashed: <signal or exit code>"
    crashed: bool  # it died unasked


class Slots:
    """Every worker slot, and the engine's end of each pipe. Engine thread only (but ``pids``)."""

    def __init__(self) -> None:
        self.workers: list[WorkerSlot] = []  # live or dying workers
        self.backends: dict[str, Backend] = {}  # in use, started on first need
        self.pids: tuple[int, ...] = ()  # of ready process workers: readable from any thread
        self.startup_failures = 0  # workers that died before Ready, in a row

    # -- starting ----------------------------------------------------------------------------------
    def add_backend(self, backend: Backend) -> None:
        self.backends[backend.name] = backend
        for slot in range(backend.slot_count()):
            self.start(backend, slot)

    def start(self, backend: Backend, slot: int) -> None:
        conn, handle = backend.start_worker(slot)
        self.workers.append(WorkerSlot(backend.name, slot, handle, conn, handle.pid))

    def restart(self, worker: WorkerSlot) -> None:
        """Start a fresh worker in a gone one's slot."""
        self.start(self.backends[worker.backend], worker.slot)

    def mark_ready(self, worker: WorkerSlot) -> None:
        worker.ready = True
        self.startup_failures = 0
        self._update_pids()

    def _update_pids(self) -> None:
        self.pids = tuple(worker.pid for worker in self.workers if worker.backend == PROCESSES and worker.ready)

    # -- talking -----------------------------------------------------------------------------------
    def send(self, worker: WorkerSlot, message: ToWorker) -> bool:
        return self.send_bytes(worker, encode(message))

    @staticmethod
    def send_bytes(worker: WorkerSlot, payload: bytes) -> bool:
        """Write a pickled message; False if the worker is gone (its reaping cleans up)."""
        if worker.conn.closed:
            return False
        try:
            worker.conn.send_bytes(payload)
            return True
        except OSError:
            return False  # it died; its sentinel tells us and reaping cleans up

    @staticmethod
    def drain(worker: WorkerSlot, handle: Callable[[WorkerSlot, ToEngine], None]) -> None:
        """Hand every message the worker has written so far to ``handle``."""
        conn = worker.conn
        try:
            while not conn.closed and conn.poll():
                handle(worker, from_worker(conn.recv_bytes()))
        except (EOFError, OSError):
            conn.close()  # it died mid-message or closed; the sentinel will report the exit

    def waitables(self) -> list[Any]:
        """What the engine waits on besides its wake pipe: each worker's sentinel and pipe."""
        waitables: list[Any] = []
        for worker in self.workers:
            if worker.handle.sentinel is not None:
                waitables.append(worker.handle.sentinel)
            if not worker.conn.closed:
                waitables.append(worker.conn)
        return waitables

    def next_deadline(self) -> float | None:
        deadlines = [deadline for deadline in (worker.deadline() for worker in self.workers) if deadline is not None]
        return min(deadlines) if deadlines else None

    # -- ending ------------------------------------------------------------------------------------
    def stop(self, worker: WorkerSlot, reason: str) -> None:
        """Ask the worker to finish what it holds and exit (what it holds is then requeued)."""
        worker.stopping_reason = reason
        self.send(worker, Stop())

    @staticmethod
    def kill(worker: WorkerSlot, reason: str) -> None:
        if worker.stopping_reason is None or worker.stopping_reason == "recycled":
            worker.stopping_reason = reason
        worker.handle.kill()

    def gone(self, ready: list[Any]) -> list[WorkerSlot]:
        """The workers that have exited (their sentinel is ready, or their pipe closed)."""
        return [worker for worker in self.workers
                if worker.handle.sentinel in ready or worker.conn.closed or not worker.handle.is_alive()]

    def reap(self, worker: WorkerSlot) -> Exit:
        """Collect a worker that has exited (drain it first: what it wrote before is kept)."""
        worker.handle.join(timeout=1)
        if worker.handle.is_alive() and worker.handle.can_kill:  # its pipe closed but it lingers: make sure
            worker.handle.kill()
            worker.handle.join(timeout=1)
        worker.conn.close()
        exitcode = worker.handle.exitcode
        crashed = worker.stopping_reason is None
        self.workers.remove(worker)
        self._update_pids()
        if not worker.ready and crashed:
            self.startup_failures += 1
        return Exit(exitcode, worker.stopping_reason or f"crashed: {signal_name(exitcode)}", crashed)

    def stop_all(self) -> list[tuple[WorkerSlot, Exit]]:
        """Stop every worker: ask politely, then kill what is left; close the backends. No process
        outlives this. Returns how each ended."""
        for worker in self.workers:
            if worker.stopping_reason is None:
                worker.stopping_reason = "shutdown"
            self.send(worker, Stop())
        deadline = time.monotonic() + STOP_GRACE
        for worker in self.workers:
            worker.handle.join(timeout=max(0.0, deadline - time.monotonic()))
        ended = []
        for worker in self.workers:
            if worker.handle.is_alive() and worker.handle.can_kill:
                worker.handle.kill()
                worker.handle.join(timeout=2)
            worker.conn.close()
            ended.append((worker, Exit(worker.handle.exitcode, worker.stopping_reason or "shutdown", False)))
        self.workers.clear()
        self.pids = ()
        for backend in self.backends.values():
            try:
                backend.close()
            except Exception:  # noqa: BLE001 - closing one backend must not stop closing the others
                import traceback

                traceback.print_exc()
        return ended
