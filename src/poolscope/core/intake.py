"""What workers say, into the books: each message of core/protocol.py a worker slot writes, taken
into its job's record (results, counts, errors, requeued work), its slot's state and the events.

Engine thread only. The engine's loop drains each slot's pipe (core/slots.py) into
:meth:`Intake.handle`. DESIGN.md, "Data flow", draws the route; "The engine thread does no
Python step per task on results" says why a report is stored as it came.
"""

from __future__ import annotations

import pickle
import time
from typing import Any

from poolscope.core import outcomes, protocol
from poolscope.core.events import ChunkRan, JobNotice, WorkerStarted
from poolscope.core.job_record import Chunk, JobRecord, short_repr
from poolscope.core.jobs import TaskError
from poolscope.core.publisher import Publisher
from poolscope.core.results import check_one_pickled, check_pickled
from poolscope.core.slots import Slots, WorkerSlot


class Intake:
    """Takes the workers' messages in. Engine thread only."""

    def __init__(self, slots: Slots, publisher: Publisher, jobs: dict[int, JobRecord]) -> None:
        self.slots = slots
        self.publisher = publisher
        self.jobs = jobs  # every job submitted, by id (the engine's; read here)

    def handle(self, worker: WorkerSlot, message: protocol.ToEngine) -> None:
        if isinstance(message, protocol.Report):
            self.report(worker, message)
        elif isinstance(message, protocol.Started):
            self.started(worker, message.chunk_id)
        elif isinstance(message, protocol.Dropped):
            chunk = worker.find_chunk(message.chunk_id)
            if chunk is not None:
                worker.setting_up.discard(chunk.job.id)
                worker.outstanding.remove(chunk)
                chunk.job.chunks_out -= 1
                chunk.job.count(cancelled=chunk.unfinished_count)
        elif isinstance(message, protocol.Revoked):
            self.revoked(worker, message.chunk_id)
        elif isinstance(message, protocol.Unreadable):
            self.unreadable(worker, message)
        elif isinstance(message, protocol.Ready):
            self.slots.mark_ready(worker)
            self.publisher.emit(WorkerStarted(worker.pid, worker.slot, time.time(), worker.backend))
        elif isinstance(message, protocol.SetupFailed):
            self.setup_failed(worker, message)
        elif isinstance(message, protocol.Notice):
            self.publisher.emit(JobNotice(message.job_id, message.text, time.time()))
        elif isinstance(message, protocol.Loaded):
            worker.loaded_files.update(message.files)
        elif isinstance(message, protocol.Stale) and worker.stopping_reason is None:
            worker.stopping_reason = "recycled"  # it exits; what it holds runs on its replacement

    def started(self, worker: WorkerSlot, chunk_id: int) -> None:
        chunk = worker.find_chunk(chunk_id)
        if chunk is None:
            return
        chunk.started_at = time.monotonic()
        chunk.revoking = False
        worker.setting_up.discard(chunk.job.id)
        worker.task_progress = None
        if chunk.job.first_task_at is None:
            chunk.job.first_task_at = chunk.started_at
        self.publisher.note_progress(chunk.job)
        self.publisher.note_activity(worker, chunk.job.id, chunk.start)
        if chunk.job.terminate_requested and worker.stopping_reason is None and worker.handle.can_kill:
            self.slots.kill(worker, f"terminated with job {chunk.job.id}")  # it started before our cancel arrived

    def report(self, worker: WorkerSlot, report: protocol.Report) -> None:
        chunk = worker.find_chunk(report.chunk_id)
        if chunk is None:
            return
        record = chunk.job
        statuses, values = report.statuses, report.values
        if isinstance(values, protocol.PickledValues):  # plain values, pickled as one list by the worker
            count = values.size
            record.results.put_pickled(chunk.next_index, values.data)  # stored as they came
            done, cancelled = count, 0
            if record.on_result is not None:  # only then are they unpickled here
                for offset, value in enumerate(pickle.loads(values.data), chunk.reported):
                    record.call_on_result(chunk.start + offset, chunk.inputs[offset], value)
        else:
            count = len(values)
            if record.on_result is None and _all_unpickle(statuses, values):  # results, some pickled one by one
                assert statuses is not None
                record.results.put_encoded(chunk.next_index, statuses, values)  # stored as they came
                done, cancelled = count, 0
            else:  # errors, cancels, a result that does not unpickle, or a callback: one by one
                done, cancelled = self.store_outcomes(worker, chunk, statuses, values)
        chunk.reported += count
        worker.tasks_done += count - cancelled  # a task skipped for a cancel did not run
        worker.job_tasks_done[record.id] += count - cancelled
        if done or cancelled:
            record.count(done=done, cancelled=cancelled)
        progress = report.progress
        if progress is not None and progress.total:
            worker.task_progress = min(1.0, max(0.0, progress.done / progress.total))
        if report.finished:
            for offset in range(chunk.reported, len(chunk.inputs)):  # a protocol slip must show
                record.fail_task(TaskError(chunk.start + offset, "LostResult", "the worker finished the chunk "
                                           "without reporting this task", "", worker.pid,
                                           short_repr(chunk.inputs[offset])))
            chunk.reported = len(chunk.inputs)
            if chunk.started_at is not None:
                record.emit(ChunkRan(record.id, worker.pid, chunk.start, len(chunk.inputs), chunk.started_at,
                                     time.monotonic()))
            worker.outstanding.remove(chunk)
            record.chunks_out -= 1
            if chunk.inputs and report.busy > 0:
                record.note_timing(report.busy, len(chunk.inputs))
            limit = record.spec.max_tasks_per_worker
            if limit is not None and worker.job_tasks_done[record.id] >= limit and worker.stopping_reason is None:
                self.slots.stop(worker, "recycled")
        self.publisher.note_progress(record)
        head = worker.outstanding[0] if worker.outstanding else None
        if head is None or head.started_at is None:
            self.publisher.note_activity(worker, None, None)
        else:
            self.publisher.note_activity(worker, head.job.id, min(head.next_index, head.start + len(head.inputs) - 1))

    def store_outcomes(self, worker: WorkerSlot, chunk: Chunk, statuses: bytes | None,
                       values: list[Any]) -> tuple[int, int]:
        """Store a report's outcomes one by one; return how many were done and cancelled.

        A result pickled on its own is checked with stand-ins for the classes it names (no user
        module is imported here: this is the window's process) and stored as it came. Only for
        an ``on_result`` callback (the library, ``poolscope run``: never the window) is it built,
        in this process, as ``Job.wait()`` would build it; if that fails, so does its task.
        """
        record = chunk.job
        done = cancelled = 0
        # The results, as runs of consecutive finished tasks (statuses, values as reported): the
        # store holds finished tasks only.
        runs: list[tuple[int, bytearray, list[Any]]] = []
        for offset, value in enumerate(values):
            status = outcomes.STATUS_VALUE if statuses is None else statuses[offset]
            position = chunk.reported + offset
            index = chunk.start + position
            if status == outcomes.STATUS_PICKLED or status == outcomes.STATUS_VALUE:
                built = value
                try:
                    if status == outcomes.STATUS_PICKLED:
                        check_one_pickled(value)
                        if record.on_result is not None:
                            built = record.load_result.load(value)
                except BaseException as exc:
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    message = f"the task's result could not be unpickled here: {type(exc).__name__}: {exc}"
                    record.fail_task(TaskError(index, "UnpicklableResult", message, outcomes.format_traceback(exc),
                                               worker.pid, short_repr(chunk.inputs[position])))
                    continue
                if runs and runs[-1][0] + len(runs[-1][2]) == index:
                    runs[-1][1].append(status)
                    runs[-1][2].append(value)
                else:
                    runs.append((index, bytearray([status]), [value]))
                done += 1
                if record.on_result is not None:
                    record.call_on_result(index, chunk.inputs[position], built)
            elif status == outcomes.STATUS_ERROR:
                record.fail_task(TaskError(index, value.type_name, value.message, value.traceback, worker.pid,
                                           short_repr(chunk.inputs[position]), value.exception))
            else:
                cancelled += 1
        for start, run_statuses, run in runs:
            record.results.put_encoded(start, bytes(run_statuses), run)
        return done, cancelled

    def revoked(self, worker: WorkerSlot, chunk_id: int) -> None:
        """The worker gave back a chunk it had not started (see scheduler.chunks_to_take_back)."""
        chunk = worker.find_chunk(chunk_id)
        if chunk is None:
            return
        record = chunk.job
        worker.outstanding.remove(chunk)
        worker.job_tasks_sent[record.id] -= len(chunk.inputs)
        record.chunks_out -= 1
        if record.cancel_requested:
            record.count(cancelled=chunk.unfinished_count)
        else:
            record.requeued.appendleft(chunk.tail())

    def unreadable(self, worker: WorkerSlot, message: protocol.Unreadable) -> None:
        """The chunk's inputs did not unpickle in the worker; none of its tasks ran.

        As when they cannot be pickled here: a chunk of many is sent again one input per chunk, so
        the input that fails is named and the others run.
        """
        chunk = worker.find_chunk(message.chunk_id)
        if chunk is None:
            return
        record = chunk.job
        worker.outstanding.remove(chunk)
        record.chunks_out -= 1
        if record.cancel_requested:
            record.count(cancelled=chunk.unfinished_count)
        elif len(chunk.inputs) > 1:
            record.requeued.extendleft(reversed(chunk.singles()))
        else:
            value = chunk.inputs[0]
            record.fail_task(TaskError(chunk.start, "UnpicklableInput", f"input {chunk.start} "
                                       f"({type(value).__name__}) could not be unpickled in the worker: "
                                       f"{message.type_name}: {message.message}", message.traceback, worker.pid,
                                       short_repr(value)))
        self.publisher.note_activity(worker, None, None)

    def setup_failed(self, worker: WorkerSlot, message: protocol.SetupFailed) -> None:
        worker.setting_up.discard(message.job_id)
        record = self.jobs.get(message.job_id)
        if record is None or record.setup_error is not None:
            return
        record.setup_error = TaskError(-1, "WorkerStartError", f"worker could not start: {message.type_name}: "
                                       f"{message.message}", message.traceback, worker.pid)
        # The worker fails the chunks it already holds; nothing more is sent.
        record.stop_sending()


def _all_unpickle(statuses: bytes | None, values: list[Any]) -> bool:
    """Whether every outcome is a result and every pickled one unpickles, checked with stand-ins
    for the classes it names (core/results/check.py ``check_pickled``): no user module is imported and
    no object kept. In C but for one call per class named, a slice at a time, so the engine thread
    holds the GIL for short spells."""
    if statuses is None or statuses.count(outcomes.STATUS_ERROR) or statuses.count(outcomes.STATUS_CANCELLED):
        return False
    pickled = outcomes.STATUS_PICKLED
    return check_pickled([value for status, value in zip(statuses, values, strict=True) if status == pickled])
