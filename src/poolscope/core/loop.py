"""The engine thread: the loop that owns every worker slot and every unfinished job.

``Engine`` (core/engine.py) is what callers use, from any thread: it posts commands to the
:class:`Mailbox` (core/mailbox.py) and wakes this loop, which alone changes the pool's state.
Each turn: the commands (register, cancel, terminate, stop), dispatch (the rules are
core/scheduler.py's; the chunks go down each slot's pipe, core/slots.py), the workers' messages
into the job records (core/intake.py), gone workers (their chunks' fate, a fresh worker),
timeouts, jobs that have ended, and the events (core/publisher.py). DESIGN.md, "Data flow",
draws it.

User code that runs on this thread (pickling kwargs and inputs, an input iterator, ``repr`` of
an input, ``on_result``) runs under ``except BaseException``: it fails its task or its job,
never the engine.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from poolscope.core import outcomes, protocol, scheduler
from poolscope.core.backends import PROCESSES, THREADS, Backend
from poolscope.core.events import JobFinished, JobNotice, JobSubmitted, WorkerExited
from poolscope.core.intake import Intake
from poolscope.core.job_record import Chunk, JobRecord, describe, dumps, traceback_of
from poolscope.core.jobs import JobState, TaskError
from poolscope.core.mailbox import (
    CMD_CANCEL,
    CMD_INPUTS,
    CMD_START_BACKEND,
    CMD_STOP,
    CMD_SUBMIT,
    CMD_TERMINATE,
    Mailbox,
    Reply,
)
from poolscope.core.publisher import Publisher
from poolscope.core.slots import Slots, WorkerSlot
from poolscope.core.targets import stamp_files

HOUSEKEEPING_INTERVAL = 0.1  # the engine loop wakes at least this often
STARTUP_FAILURES_BEFORE_GIVING_UP = 5  # workers dying before Ready in a row

class EngineLoop:
    """The engine thread's state and its loop. Engine thread only."""

    def __init__(self, mailbox: Mailbox, publisher: Publisher, jobs: dict[int, JobRecord],
                 make_backend: Callable[[str], Backend], on_closed: Callable[[], None]) -> None:
        self.mailbox = mailbox
        self.publisher = publisher
        self.jobs = jobs  # every job submitted, by id: written by callers under the engine's lock
        self.make_backend = make_backend  # a backend of that name, not started (the Engine's settings)
        self.on_closed = on_closed  # called as the loop ends: the engine takes no more commands
        self.slots = Slots()  # every worker slot of every backend started
        self.intake = Intake(self.slots, publisher, jobs)
        self.active: collections.deque[JobRecord] = collections.deque()  # unfinished jobs, oldest first
        self.stopping = False
        self.stop_mode = "wait"

    @property
    def workers(self) -> list[WorkerSlot]:
        return self.slots.workers

    def run(self) -> None:
        """The engine thread: until stopped and every job has ended, then every worker is stopped."""
        try:
            self.ensure_backend(PROCESSES)
            while True:
                self.handle_commands()
                if self.stopping and not self.active:
                    break
                self.dispatch_ready_tasks()
                self.publisher.publish(self.active, self.workers)
                ready = wait([self.mailbox.reader, *self.slots.waitables()], timeout=self.wait_timeout())
                self.collect_messages(ready)
                for worker in self.slots.gone(ready):
                    self.on_worker_exit(worker)
                self.enforce_timeouts()
                self.finish_jobs()
        except BaseException:  # noqa: BLE001 - the engine must not die silently
            import traceback  # here: only a failing engine needs it (it is a few ms of every start)

            traceback.print_exc()
            for record in list(self.active):
                record.setup_error = TaskError(-1, "EngineError", "the engine stopped unexpectedly",
                                               traceback.format_exc())
        finally:
            for worker, ended in self.slots.stop_all():
                self.publisher.emit(WorkerExited(worker.pid, worker.slot, ended.exitcode, ended.reason, time.time()))
            for record in list(self.active):
                self.finish(record, JobState.TERMINATED if record.state != JobState.PENDING else JobState.CANCELLED)
            self.publisher.publish(self.active, self.workers, force=True)
            self.on_closed()
            self.mailbox.close()

    def wait_timeout(self) -> float:
        if any(record.over for record in self.active):
            return 0.0  # a job has nothing left (e.g. every input failed to pickle): it ends now
        now = time.monotonic()
        timeout = HOUSEKEEPING_INTERVAL
        if self.publisher.has_pending(self.active):
            timeout = max(0.0, self.publisher.next_due() - now)
        deadline = self.slots.next_deadline()
        return timeout if deadline is None else min(timeout, max(0.0, deadline - now))

    # -- commands --------------------------------------------------------------------------------
    def handle_commands(self) -> None:
        while self.mailbox.commands:
            command = self.mailbox.commands.popleft()
            verb = command[0]
            if verb == CMD_SUBMIT:
                self.register(command[1])
            elif verb == CMD_CANCEL:
                self.cancel(command[1])
            elif verb == CMD_TERMINATE:
                self.terminate(command[1])
            elif verb == CMD_STOP:
                self.begin_stop(command[1])
            elif verb == CMD_START_BACKEND:
                self.start_backend_for_caller(*command[1:])
            # CMD_INPUTS only wakes the thread: dispatch sends what the feed has now

    def wake_for_inputs(self) -> None:
        """An open-ended feed got inputs (called on the thread that fed it)."""
        self.mailbox.post(CMD_INPUTS)

    def register(self, record: JobRecord) -> None:
        self.replace_workers_with_stale_code()
        record.emit = self.publisher.emit
        record.inputs = record.spec.inputs.open()
        record.inputs.on_more = self.wake_for_inputs  # an open-ended feed's inputs wake the engine thread
        record.results.on_spill_error = lambda reason: record.emit(JobNotice(
            record.id, f"results are kept in memory from now on: the temporary file for them could not be "
                       f"written ({reason})", time.time()))
        self.active.append(record)
        record.emit(JobSubmitted(record.id, record.spec.name, record.spec.target.text, record.spec.inputs.text,
                                 record.total, time.time(), record.spec.backend))
        try:
            backend = self.ensure_backend(record.spec.backend)
        except Exception as exc:  # noqa: BLE001 - e.g. a Dask scheduler that cannot be reached
            record.setup_error = TaskError(-1, "BackendError", f"the {record.spec.backend} backend could not "
                                           f"start: {type(exc).__name__}: {exc}", outcomes.format_traceback(exc))
            record.stop_sending()
            return
        record.workers = backend.slot_count()
        if self.stopping and self.stop_mode != "wait":
            self.cancel(record.id) if self.stop_mode == "cancel" else self.terminate(record.id)

    def replace_workers_with_stale_code(self) -> None:
        """Replace each worker that loaded a file of user code that has changed on disk since.

        Called as a job is registered, before it is sent to any worker, so that every worker runs
        the job's code as it is on disk now. A stale worker finishes what it already holds (other
        jobs' chunks, with the code they started with), then exits and is started afresh; the
        others are kept. One stat per distinct loaded file (see DESIGN.md for the cost). A
        worker whose Loaded had not arrived yet finds the change itself (Stale).
        """
        workers = [worker for worker in self.workers if worker.loaded_files and worker.stopping_reason is None]
        if not workers:
            return
        now = stamp_files({path for worker in workers for path in worker.loaded_files})
        for worker in workers:
            if any(now[path] != stamp for path, stamp in worker.loaded_files.items()):
                self.slots.stop(worker, "recycled")  # its outstanding chunks are requeued if it holds any

    def cancel(self, job_id: int) -> None:
        record = self.jobs.get(job_id)
        if record is None or record.state.is_final or record.cancel_requested:
            return
        record.stop_sending()
        if record.state in (JobState.PENDING, JobState.RUNNING):
            record.set_state(JobState.CANCELLING)
        for worker in self.workers:
            if worker.holds(record):
                self.slots.send(worker, protocol.CancelJob(record.id))

    def terminate(self, job_id: int) -> None:
        record = self.jobs.get(job_id)
        if record is None or record.state.is_final or record.terminate_requested:
            return
        if record.spec.backend == THREADS:
            record.emit(JobNotice(record.id, "threads cannot be killed: the job is cancelled instead "
                                  "(its running tasks stop at their next progress() call)", time.time()))
            self.cancel(job_id)
            return
        record.terminate_requested = True
        record.stop_sending()
        record.set_state(JobState.TERMINATING)
        for worker in list(self.workers):
            if worker.stopping_reason is not None or worker.conn.closed:
                continue
            self.slots.drain(worker, self.intake.handle)  # learn what it finished before deciding
            if not worker.outstanding:
                continue
            if worker.outstanding[0].job is record and worker.handle.can_kill:
                self.slots.kill(worker, f"terminated with job {record.id}")
            elif not worker.handle.can_kill and worker.holds(record):
                # It stops the job's tasks itself; a Dask slot may be running any of its chunks, not only the head.
                self.slots.send(worker, protocol.TerminateJob(record.id))
            elif worker.holds(record):
                self.slots.send(worker, protocol.CancelJob(record.id))  # it drops the queued chunk

    def begin_stop(self, mode: str) -> None:
        self.stopping = True
        if mode == "terminate" or self.stop_mode == "wait":
            self.stop_mode = mode
        for record in list(self.active):
            if mode == "terminate":
                self.terminate(record.id)
            elif mode == "cancel":
                self.cancel(record.id)

    # -- dispatch (the rules are core/scheduler.py's) --------------------------------------------
    def dispatch_ready_tasks(self) -> None:
        """Send a chunk to each worker with room, of the job the scheduler picks; then ask back a
        chunk queued behind a running one for each worker left idle."""
        if any(record.has_work for record in self.active):
            plan = scheduler.assignments(self.workers, self.active, time.monotonic())
            try:
                worker, record = next(plan)
                while True:
                    chunk = record.next_chunk(scheduler.chunk_size(record), scheduler.allowance(worker, record))
                    worker, record = plan.send(chunk is not None and self.send_chunk(worker, chunk))
            except StopIteration:
                pass
        for worker, chunk in scheduler.chunks_to_take_back(self.workers):
            chunk.revoking = True
            self.slots.send(worker, protocol.Revoke(chunk.id))

    def send_chunk(self, worker: WorkerSlot, chunk: Chunk) -> bool:
        """Send the chunk (and the job's setup, if the worker lacks it). Returns whether the worker's
        turn is used: False when the chunk was dropped for its own fault, so the worker is still free.

        Pickling the job's kwargs and the chunk's inputs runs user code (``__reduce__``) on this
        thread: whatever it raises fails the job (kwargs) or the input, never the engine.
        """
        record = chunk.job
        if record.id not in worker.known_jobs:
            spec = record.spec
            if record.setup_payload is None:
                try:
                    record.setup_payload = dumps((spec.target, dict(spec.kwargs), spec.initializer))
                except BaseException as exc:  # noqa: BLE001 - a kwarg that cannot be pickled fails the job
                    record.setup_error = TaskError(-1, "UnpicklableInput", "the job's keyword arguments could not "
                                                   f"be pickled: {describe(exc)}", traceback_of(exc))
                    record.count(cancelled=len(chunk.inputs))
                    record.stop_sending()
                    return False
            if not self.slots.send(worker, protocol.SetUpJob(record.id, record.setup_payload)):
                record.requeued.appendleft(chunk)
                return True  # the worker is gone: reaping it starts another
            worker.known_jobs.add(record.id)
            worker.setting_up.add(record.id)
        try:
            inputs = dumps(chunk.inputs)
        except BaseException as exc:  # noqa: BLE001 - an input cannot be pickled: fail it, rerun the others alone
            record.fail_unpicklable_inputs(chunk, exc)
            return False
        payload = protocol.encode(protocol.RunChunk(chunk.id, record.id, chunk.start, inputs))
        if record.state == JobState.PENDING:
            record.started_at = time.perf_counter()
            record.set_state(JobState.RUNNING)
        chunk.sent_at = time.monotonic()
        worker.outstanding.append(chunk)
        worker.job_tasks_sent[record.id] += len(chunk.inputs)
        record.chunks_out += 1
        self.slots.send_bytes(worker, payload)  # if the worker is gone, reaping it requeues the chunk
        return True

    # -- collecting, and workers that end --------------------------------------------------------
    def collect_messages(self, ready: list[Any]) -> None:
        if self.mailbox.reader in ready:
            self.mailbox.drain()
        for worker in list(self.workers):
            if worker.conn in ready:
                self.slots.drain(worker, self.intake.handle)

    def on_worker_exit(self, worker: WorkerSlot) -> None:
        self.slots.drain(worker, self.intake.handle)  # results written before it died are kept
        ended = self.slots.reap(worker)
        self.publisher.forget_worker(worker.pid)
        self.publisher.emit(WorkerExited(worker.pid, worker.slot, ended.exitcode, ended.reason, time.time()))
        head = worker.outstanding[0] if worker.outstanding else None
        if ended.crashed and head is not None and head.started_at is None and head.job.id in worker.setting_up:
            head.job.setup_crashed(worker.pid, ended.exitcode)  # before its chunks are recovered: it may stop the job
        for position, chunk in enumerate(worker.outstanding):
            chunk.job.chunks_out -= 1
            fate = scheduler.dead_chunk_fate(chunk, running=position == 0 and chunk.started_at is not None,
                                             crashed=ended.crashed, timed_out=ended.reason == "timeout")
            chunk.job.recover(chunk, fate, pid=worker.pid, exitcode=ended.exitcode)
        worker.outstanding.clear()
        if self.stopping and not self.active:
            return
        if self.slots.startup_failures >= STARTUP_FAILURES_BEFORE_GIVING_UP:
            message = f"{STARTUP_FAILURES_BEFORE_GIVING_UP} worker processes in a row died while starting"
            for record in list(self.active):
                record.setup_error = TaskError(-1, "WorkerStartError", f"worker could not start: {message}", "")
                record.stop_sending()
            if not self.workers:
                for record in list(self.active):
                    self.finish(record, JobState.FAILED)
            return
        self.slots.restart(worker)

    def enforce_timeouts(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers):
            deadline = worker.deadline()
            if deadline is not None and now > deadline and worker.stopping_reason is None:
                head = worker.outstanding[0]
                self.slots.drain(worker, self.intake.handle)
                if worker.outstanding and worker.outstanding[0] is head and head.unfinished_count:
                    self.slots.kill(worker, "timeout")

    # -- backends --------------------------------------------------------------------------------
    def start_backend_for_caller(self, name: str, reply: Reply) -> None:
        try:
            backend = self.ensure_backend(name)
            reply.value = backend.slot_count()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            reply.error = exc
        reply.done.set()

    def ensure_backend(self, name: str) -> Backend:
        """The backend called ``name``, started with its slots on first use."""
        backend = self.slots.backends.get(name)
        if backend is None:
            backend = self.make_backend(name)
            self.slots.add_backend(backend)
        return backend

    # -- the end of a job ------------------------------------------------------------------------
    def finish_jobs(self) -> None:
        for record in list(self.active):
            state = record.final_state()
            if state is not None:
                self.finish(record, state)

    def finish(self, record: JobRecord, state: JobState) -> None:
        if record in self.active:
            self.active.remove(record)
        record.close(state)
        for worker in self.workers:
            worker.job_tasks_sent.pop(record.id, None)
            worker.job_tasks_done.pop(record.id, None)
            worker.setting_up.discard(record.id)
            if record.id in worker.known_jobs:
                worker.known_jobs.discard(record.id)
                self.slots.send(worker, protocol.ForgetJob(record.id))
        self.publisher.publish_counts([*self.active, record], self.workers)
        assert record.final is not None
        record.emit(JobFinished(record.id, record.final, time.time(), time.monotonic()))
        # A job's end is news at once, not at the next batch (up to PUBLISH_INTERVAL later):
        # poolscope run ends when it reads it, and the window takes it at once.
        self.publisher.publish(self.active, self.workers, force=True)
        record.finished.set()
        if record.on_finish is not None:
            record.call_hook("on_finish", record.on_finish, record.final)
