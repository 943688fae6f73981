"""A job inside the engine: its chunks, counters, kept errors, requeued work and final state.

Everything here is written by the engine thread only (other threads read the counters and wait
on ``finished``). It starts no process and touches no pipe: the engine (core/engine.py) decides
when, the scheduler (core/scheduler.py) decides what, and a JobRecord keeps the books. Events it
makes (a task failed, a state changed) go to ``emit``, the publisher's, set when the job is
registered. DESIGN.md, "Layout", places it among the engine's modules.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from poolscope.core import outcomes
from poolscope.core.events import JobNotice, JobStateChanged, TaskFailed
from poolscope.core.inputs import InputReader
from poolscope.core.jobs import JobSpec, JobState, JobSummary, TaskError
from poolscope.core.processes import signal_name
from poolscope.core.results import ResultLoader, ResultStore
from poolscope.core.scheduler import Fate

ERRORS_KEPT = 1000  # a job keeps its first this many failed tasks in full; the rest are counted by type

_chunk_ids = itertools.count(1)  # unique in this process; next() is atomic, so engines may share it


@dataclass(eq=False)
class Chunk:
    """Consecutive inputs of one job sent to one worker as one message."""

    id: int
    job: JobRecord
    start: int  # the input index of inputs[0]; the chunk holds start, start+1, ...
    inputs: Sequence[Any]  # a list, or a range (a chunk of a range input)
    reported: int = 0  # how many of its tasks the worker has reported (in order)
    started_at: float | None = None  # monotonic time of the worker's Started
    revoking: bool = False  # Revoke sent: the worker answers Revoked, or Started if too late
    sent_at: float | None = None  # monotonic time it was sent (its worker time counts from here until Started)

    @classmethod
    def new(cls, job: JobRecord, start: int, inputs: Sequence[Any]) -> Chunk:
        return cls(next(_chunk_ids), job, start, inputs)

    @property
    def unfinished_count(self) -> int:
        return len(self.inputs) - self.reported

    @property
    def next_index(self) -> int:
        """The input index of the first task not yet reported."""
        return self.start + self.reported

    def tail(self, offset: int | None = None) -> Chunk:
        """A new chunk of this one's tasks from ``offset`` (default: the first unreported) on."""
        offset = self.reported if offset is None else offset
        return Chunk.new(self.job, self.start + offset, self.inputs[offset:])

    def singles(self) -> list[Chunk]:
        """Its unreported tasks, one chunk each (to pin a crash or a bad input on one task)."""
        return [Chunk.new(self.job, self.start + offset, [self.inputs[offset]])
                for offset in range(self.reported, len(self.inputs))]


def _drop(event: Any) -> None:
    """The ``emit`` of a job not yet registered (or of an engine nobody reads)."""


class JobRecord:
    """A job's state inside the engine. Counters are written by the engine thread only."""

    def __init__(self, job_id: int, spec: JobSpec, on_result: Callable[[int, Any, Any], None] | None,
                 on_error: Callable[[TaskError], None] | None = None,
                 on_finish: Callable[[JobSummary], None] | None = None,
                 on_block: Callable[[int, bytes], None] | None = None) -> None:
        self.id = job_id
        self.spec = spec
        self.on_result = on_result  # called on the engine thread with (index, input, result)
        self.on_error = on_error  # called on the engine thread with each failed task's TaskError
        self.on_finish = on_finish  # called on the engine thread with the final summary (no results)
        self.emit: Callable[[Any], None] = _drop  # the publisher's, set when the engine registers the job
        self.state = JobState.PENDING
        self.total = spec.inputs.total
        # Opened when the job is registered; None once every input is taken (or none will be)
        self.inputs: InputReader | None = None
        self.next_index = 0  # inputs taken from the iterator so far
        self.requeued: collections.deque[Chunk] = collections.deque()  # to run again, before new inputs
        self.chunks_out = 0  # chunks sent to workers and not finished
        self.done = 0
        self.failed = 0
        self.cancelled = 0
        self.unpublished = [0, 0, 0]  # done, failed, cancelled since the publisher last said (TasksFinished)
        self.errors: list[TaskError] = []  # the first ERRORS_KEPT failures
        self.errors_omitted: collections.Counter[str] = collections.Counter()  # the rest, by exception type
        self.results = ResultStore(keep=spec.keep_results)  # by input index; spills to a temporary file past a few MB
        self.results.on_block = on_block  # given each block of results as it is stored (ResultStore.on_block)
        # Builds pickled results in the caller's process (Job.wait/results/iter_results, on_result),
        # importing the user's modules as a worker does; never on the window's path.
        self.load_result = ResultLoader(spec.target)
        self.attempts: collections.Counter[int] = collections.Counter()  # crashes per input index
        self.seconds_per_task: float | None = None  # measured, smoothed
        # -- what its rate, time left and share of the workers are measured from (engine thread)
        self.first_task_at: float | None = None  # time.monotonic() of its first chunk's Started
        self.timed_seconds = 0.0  # worker-seconds its finished chunks took, as the workers measured them
        self.timed_tasks = 0  # tasks in those chunks
        self.fair_offset: float | None = None  # worker-seconds credited on joining (scheduler.choose_fairly)
        self.cancel_requested = False
        self.terminate_requested = False
        self.setup_error: TaskError | None = None
        self.setup_payload: bytes | None = None  # pickled (target, kwargs, initializer): SetUpJob's, made once
        self.setup_crashes = 0  # workers that died while setting the job up (loading the target, initializer)
        self.input_error: TaskError | None = None  # what the input source raised: the job fails, inputs before it run
        self.callback_failed = False  # its on_result raised once (said once, in the log)
        self.submitted_at = time.time()
        self.started_at: float | None = None  # perf_counter
        self.finished_at: float | None = None
        self.workers = 0
        self.finished = threading.Event()
        self.final: JobSummary | None = None  # set when the job ends; results filled in by Job.wait()
        self.results_lock = threading.Lock()

    @property
    def has_work(self) -> bool:
        """Whether it has tasks to send now (an open-ended feed may have none yet, and more later)."""
        return bool(self.requeued) or self.inputs is not None and self.inputs.ready

    @property
    def over(self) -> bool:
        """Whether it has nothing left to send, ever, and nothing running."""
        return not self.requeued and self.inputs is None and self.chunks_out == 0

    # -- counting ---------------------------------------------------------------------------------
    def count(self, *, done: int = 0, failed: int = 0, cancelled: int = 0) -> None:
        self.done += done
        self.failed += failed
        self.cancelled += cancelled
        unpublished = self.unpublished
        unpublished[0] += done
        unpublished[1] += failed
        unpublished[2] += cancelled

    def fail_task(self, error: TaskError) -> None:
        self.count(failed=1)
        if self.on_error is not None:
            self.call_hook("on_error", self.on_error, error)
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append(error)
            self.emit(TaskFailed(self.id, error, time.time()))
            return
        # A job whose every task fails must not hold a million errors, nor send them to the window:
        # the first ones tell; the rest are counted.
        if not self.errors_omitted:
            self.emit(JobNotice(self.id, f"more than {ERRORS_KEPT:,} of its tasks failed: the first "
                                f"{ERRORS_KEPT:,} are kept in full; later failures are counted by type", time.time()))
        self.errors_omitted[error.type] += 1

    def set_state(self, state: JobState) -> None:
        self.state = state
        self.emit(JobStateChanged(self.id, state, time.time()))

    def note_timing(self, busy: float, tasks: int) -> None:
        """A chunk of ``tasks`` tasks ended, having run ``busy`` seconds as its worker measured."""
        self.timed_seconds += busy
        self.timed_tasks += tasks
        per_task = busy / tasks
        previous = self.seconds_per_task
        self.seconds_per_task = per_task if previous is None else 0.5 * previous + 0.5 * per_task

    def call_on_result(self, index: int, value_in: Any, value_out: Any) -> None:
        try:
            assert self.on_result is not None
            self.on_result(index, value_in, value_out)
        except BaseException as exc:  # noqa: BLE001 - a consumer's bug (even sys.exit()) must not stop the engine
            self.callback_failed_with("on_result", exc, f"for input {index}")

    def call_hook(self, name: str, hook: Callable[[Any], None], value: Any) -> None:
        """Call ``on_error`` or ``on_finish`` on the engine thread, fenced as ``on_result`` is."""
        try:
            hook(value)
        except BaseException as exc:  # noqa: BLE001 - as in call_on_result
            self.callback_failed_with(name, exc, "")

    def callback_failed_with(self, name: str, exc: BaseException, where: str) -> None:
        if not self.callback_failed:  # once a job: a callback that always fails must not flood stderr
            self.callback_failed = True
            import traceback

            traceback.print_exc()
            self.emit(JobNotice(self.id, f"its {name} callback raised {describe(exc)} "
                                f"({where + '; ' if where else ''}its traceback is on stderr; the job goes on, "
                                "and later failures of the callback are not reported)", time.time()))

    # -- taking and giving back work --------------------------------------------------------------
    def stop_sending(self) -> None:
        """Send the job no more tasks: count every one not yet sent as cancelled."""
        self.cancel_requested = True
        dropped = sum(chunk.unfinished_count for chunk in self.requeued)
        self.requeued.clear()
        if self.inputs is not None:
            if self.total is not None:
                dropped += self.total - self.next_index
            else:
                dropped += self.inputs.discard()  # an open-ended feed's waiting inputs
            self.inputs = None
        if dropped:
            self.count(cancelled=dropped)

    def next_chunk(self, size: int, allowance: int) -> Chunk | None:
        """The next chunk to send, of at most ``allowance`` tasks: requeued work first, else ``size``
        new inputs. None when the input source had none left (or raised before giving any)."""
        if self.requeued:
            chunk = self.requeued.popleft()
            if len(chunk.inputs) > allowance:  # split: the rest waits for another worker
                self.requeued.appendleft(chunk.tail(allowance))
                chunk.inputs = chunk.inputs[:allowance]
            return chunk
        assert self.inputs is not None
        size = min(size, allowance)
        inputs = self.inputs.take(size)
        start = self.next_index
        if self.inputs.error is not None:  # the source raised: what it gave before still runs
            read = start + len(inputs)
            self.input_error = TaskError(-1, "InputError", f"the job's inputs ({self.spec.inputs.text}) raised "
                                         f"after {read} input{'s' if read != 1 else ''}: "
                                         f"{describe(self.inputs.error)}", traceback_of(self.inputs.error))
        if self.inputs.ended:
            self.inputs = None
            self.total = start + len(inputs)
        if not inputs:
            return None
        self.next_index += len(inputs)
        if self.total is not None and self.next_index >= self.total:
            self.inputs = None
        return Chunk.new(self, start, inputs)

    def fail_unpicklable_inputs(self, chunk: Chunk, error: BaseException) -> None:
        """Fail each input of the chunk that cannot be pickled; requeue the others one by one.

        ``error`` is what pickling the whole chunk raised: a chunk of one input fails with it, so
        an input that pickles only sometimes cannot be requeued forever.
        """
        kept = []
        for offset, value in enumerate(chunk.inputs):
            index = chunk.start + offset
            failure: BaseException | None = error if len(chunk.inputs) == 1 else None
            if failure is None:
                try:
                    dumps(value)
                except BaseException as exc:  # noqa: BLE001 - SystemExit from a __reduce__ too
                    failure = exc
            if failure is not None:
                message = f"input {index} ({type(value).__name__}) could not be pickled: {describe(failure)}"
                self.fail_task(TaskError(index, "UnpicklableInput", message, "", None, short_repr(value)))
            else:
                kept.append(Chunk.new(self, index, [value]))
        self.requeued.extendleft(reversed(kept))

    def recover(self, chunk: Chunk, fate: Fate, *, pid: int, exitcode: int | None) -> None:
        """Carry out what core/scheduler.py ``dead_chunk_fate`` decided for a chunk whose worker is gone."""
        count = chunk.unfinished_count
        if fate is Fate.NOTHING:
            return
        if fate is Fate.CANCELLED:
            self.count(cancelled=count)
        elif fate is Fate.REQUEUE:
            self.requeued.appendleft(chunk.tail())
        elif fate is Fate.SPLIT:  # which task crashed it is unknown: rerun each alone, to know
            self.requeued.extendleft(reversed(chunk.singles()))
        elif fate is Fate.TIMED_OUT:
            self.fail_task(TaskError(chunk.next_index, "TimeoutError", f"the task ran longer than "
                                     f"{self.spec.timeout} s; its worker (pid {pid}) was killed", "", pid,
                                     short_repr(chunk.inputs[chunk.reported])))
            if count > 1:
                self.requeued.appendleft(chunk.tail(chunk.reported + 1))
        else:
            first_index = chunk.next_index
            self.attempts[first_index] += 1
            if fate is Fate.RETRY:
                self.requeued.appendleft(chunk.tail())
                return
            message = f"the worker process (pid {pid}) running input {first_index} died: {signal_name(exitcode)}"
            if self.spec.retries:
                message += f" (after {self.spec.retries} retries)"
            self.fail_task(TaskError(first_index, "WorkerCrashed", message, "", pid,
                                     short_repr(chunk.inputs[chunk.reported])))

    def setup_crashed(self, pid: int, exitcode: int | None) -> None:
        """A worker died setting the job up (importing its target, unpickling its kwargs, running its
        initializer), before its first chunk of the job started. That counts against the job as a
        crash counts against a task: after ``retries`` more, the job fails with the cause named,
        rather than a fresh worker dying on the same set-up for ever."""
        self.setup_crashes += 1
        if self.setup_crashes <= self.spec.retries or self.setup_error is not None:
            return  # its chunks are requeued and sent again
        spec = self.spec
        steps = [f"importing its target {spec.target.text}"]
        if spec.kwargs:
            steps.append("unpickling its keyword arguments")
        if spec.initializer is not None:
            steps.append(f"running its initializer {spec.initializer.text}")
        message = (f"worker could not start: the worker process (pid {pid}) died while setting the job up "
                   f"({', '.join(steps)}): {signal_name(exitcode)}")
        if spec.retries:
            message += f" (after {spec.retries} retries)"
        self.setup_error = TaskError(-1, "WorkerStartError", message, "", pid)
        self.stop_sending()  # its chunks held by workers are counted as cancelled when recovered

    # -- the end ----------------------------------------------------------------------------------
    def final_state(self) -> JobState | None:
        """The state the job ends in, once nothing of it is left to send or running; else None."""
        if not self.over:
            return None
        if self.terminate_requested:
            return JobState.TERMINATED
        if self.setup_error is not None or self.input_error is not None:
            return JobState.FAILED
        if self.cancel_requested and self.cancelled:
            return JobState.CANCELLED
        if self.failed:
            return JobState.FAILED
        return JobState.DONE

    def close(self, state: JobState) -> None:
        """End the job in ``state``: errors of the whole job first, times, the final summary."""
        for job_error in (self.input_error, self.setup_error):
            if job_error is not None:
                self.errors.insert(0, job_error)
                self.emit(TaskFailed(self.id, job_error, time.time()))  # so the CLI and window say why
        if self.started_at is None:
            self.started_at = time.perf_counter()
        self.finished_at = time.perf_counter()
        self.state = state
        self.final = self.summary()
        self.results.finish_writing()  # its results file (if it writes through to one) is complete

    def summary(self) -> JobSummary:
        end = self.finished_at if self.finished_at is not None else time.perf_counter()
        return JobSummary(
            job_id=self.id,
            name=self.spec.name,
            target=self.spec.target.text,
            inputs=self.spec.inputs.text,
            status=self.state,
            total=self.total,
            done=self.done,
            failed=self.failed,
            cancelled=self.cancelled,
            wall_seconds=0.0 if self.started_at is None else end - self.started_at,
            workers=self.workers,
            errors=tuple(self.errors),
            errors_omitted=dict(self.errors_omitted),
        )

    def ordered_results(self) -> list[Any]:
        return self.results.ordered(self.total if self.total is not None else self.next_index, self.load_result)


# -- user code on the engine thread, fenced ----------------------------------------------------------
def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception from user code (whose ``__str__`` may raise too)."""
    type_name, message, _ = outcomes.describe_exception(exc, with_traceback=False).text
    return f"{type_name}: {message}" if message else type_name


def traceback_of(exc: BaseException) -> str:
    try:
        return outcomes.format_traceback(exc)
    except BaseException:  # noqa: BLE001 - a user's exception that cannot be formatted
        return ""


def dumps(value: Any) -> bytes:
    from multiprocessing.reduction import ForkingPickler

    return bytes(ForkingPickler.dumps(value))


def short_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except BaseException:  # noqa: BLE001 - a user's __repr__, on the engine thread
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
