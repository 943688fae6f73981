"""The scheduling rules, pure: which job a free worker serves next, how big a chunk is, when a
worker gets a second chunk in advance or gives one back, and what becomes of the chunks of a
worker that is gone.

Nothing here starts a process, touches a pipe or reads a clock it is not given: the functions
read job records (core/job_record.py) and worker slots (core/slots.py) and return decisions,
which the engine (core/engine.py) carries out. So each rule can be tested on its own
(tests/core/test_scheduler.py). DESIGN.md, "Fair by time" and "Prefetch", says why the rules
are these.
"""

from __future__ import annotations

import collections
import enum
import sys
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from poolscope.core.job_record import Chunk, JobRecord
    from poolscope.core.slots import WorkerSlot

TARGET_CHUNK_SECONDS = 0.05  # an automatic chunk runs about this long: fair, responsive, cheap
MAX_CHUNK = 20_000  # tasks in one chunk of automatic size at most
NO_LIMIT = sys.maxsize  # the allowance of a worker for a job with no max_tasks_per_worker
MIN_TAIL_CHUNK_SECONDS = 0.002  # a job's last chunks shrink to balance the workers, but not below this
PREFETCH_BELOW_SECONDS = 0.25  # a worker gets a second chunk only when chunks are this short


def chunk_size(record: JobRecord) -> int:
    """How many new inputs the job's next chunk takes.

    The job's own ``chunksize`` if it has one; one task while its task time is unmeasured or it
    has a timeout (which is per task); else about TARGET_CHUNK_SECONDS of tasks, and, for a job
    of known size, no more than its remaining tasks shared in two rounds among its workers (so
    the workers end together), though never below MIN_TAIL_CHUNK_SECONDS of tasks.
    """
    spec = record.spec
    if spec.chunksize is not None:
        return spec.chunksize
    if spec.timeout is not None or record.seconds_per_task is None:
        return 1
    per_task = max(record.seconds_per_task, 1e-7)
    size = int(TARGET_CHUNK_SECONDS / per_task)
    if record.total is not None:  # keep the tail balanced across workers, in chunks worth a round trip
        balanced = (record.total - record.next_index) // (2 * max(1, record.workers))
        size = min(size, max(balanced, int(MIN_TAIL_CHUNK_SECONDS / per_task)))
    return max(1, min(size, MAX_CHUNK))


def in_tail(record: JobRecord) -> bool:
    """Whether the job has no more unsent tasks than there are workers."""
    if record.total is None:
        return False
    unsent = record.total - record.next_index + sum(chunk.unfinished_count for chunk in record.requeued)
    return unsent <= max(1, record.workers)


def may_prefetch(head: Chunk) -> bool:
    """Whether a worker running ``head`` may be sent a second chunk now: only when the job's
    chunks are measured short, so the one queued behind is not held up for long."""
    per_task = head.job.seconds_per_task
    return per_task is not None and per_task * len(head.inputs) < PREFETCH_BELOW_SECONDS


def allowance(worker: WorkerSlot, record: JobRecord) -> int:
    """How many more of the job's tasks this worker may be sent (max_tasks_per_worker; without
    one, no bound: MAX_CHUNK bounds the automatic size, and a ``chunksize`` the caller chose
    stands, as the standard library's pools take it)."""
    limit = record.spec.max_tasks_per_worker
    return NO_LIMIT if limit is None else limit - worker.job_tasks_sent[record.id]


def seconds_in_flight(workers: Sequence[WorkerSlot], now: float) -> dict[int, float]:
    """Job id -> worker-seconds of its chunks running now (from Started, or from sending until then)."""
    seconds: dict[int, float] = collections.defaultdict(float)
    for worker in workers:
        if worker.outstanding:
            head = worker.outstanding[0]
            since = head.started_at if head.started_at is not None else head.sent_at
            if since is not None:
                seconds[head.job.id] += max(0.0, now - since)
    return seconds


def choose_fairly(candidates: Sequence[JobRecord], accounted: Sequence[JobRecord],
                  in_flight: dict[int, float]) -> JobRecord:
    """The candidate with the least worker time.

    Fair by time, not by chunk: a job of 5 s tasks and a job of 5 ms tasks each get half of the
    workers' time, however many chunks that takes. A job's account is the worker-seconds of its
    finished chunks plus those of its chunks in flight (``in_flight``: job id -> seconds).
    ``accounted``: the jobs already sharing the workers (their ``fair_offset`` set), in age
    order. A candidate competing for the first time joins with the least account of the
    ``accounted`` jobs of its backend as its offset (as a scheduler's virtual run time does), so
    it shares from then on rather than catching up on what others ran before it came. Ties go to
    the job with fewer chunks out, then to the older job.
    """
    def account(record: JobRecord) -> float:
        assert record.fair_offset is not None
        return record.fair_offset + record.timed_seconds + in_flight.get(record.id, 0.0)

    for record in candidates:
        if record.fair_offset is None:
            others = [account(other) for other in accounted
                      if other.fair_offset is not None and other.spec.backend == record.spec.backend]
            record.fair_offset = min(others) - record.timed_seconds - in_flight.get(record.id, 0.0) if others else 0.0
    order = {record.id: position for position, record in enumerate(accounted)}
    return min(candidates, key=lambda record: (account(record), record.chunks_out,
                                               order.get(record.id, len(order)), record.id))


def take_turn(candidates: list[JobRecord], active: Sequence[JobRecord], workers: Sequence[WorkerSlot],
              now: float) -> JobRecord:
    """The one of ``candidates`` (active jobs with work) that has had the least worker time."""
    if len(candidates) == 1 and candidates[0].fair_offset is not None:
        return candidates[0]
    return choose_fairly(candidates, [record for record in active if record.fair_offset is not None],
                         seconds_in_flight(workers, now))


def assignments(workers: Sequence[WorkerSlot], active: Sequence[JobRecord],
                now: float) -> Generator[tuple[WorkerSlot, JobRecord], bool, None]:
    """Which job each worker with room serves next: yields ``(worker, job)``; the caller sends
    back whether the worker's turn was used (a chunk went out) or not (the job's chunk was
    dropped for its own fault, e.g. an input that cannot be pickled: the worker is still free).

    First every idle worker, then a second chunk in advance where chunks are short (prefetch).
    A job's last tasks (its tail: no more unsent tasks than workers) go to the next idle worker
    first, and while one waits nobody is sent a chunk in advance: queued behind a running chunk,
    a tail task would make the whole job wait for that chunk. The generator reads the workers and
    jobs afresh at each step, so what the caller sent meanwhile counts.
    """
    for depth in (0, 1):
        for worker in workers:
            if not worker.ready or worker.stopping_reason is not None or len(worker.outstanding) != depth:
                continue
            if depth == 1 and not may_prefetch(worker.outstanding[0]):
                continue  # its chunk runs long enough: the next one can wait for it
            while True:  # until a chunk is sent: one that could not be (a bad input) costs no wait
                waiting = [record for record in active if record.has_work and record.spec.backend == worker.backend
                           and allowance(worker, record) > 0]
                if not waiting:
                    break
                tails = [record for record in waiting if in_tail(record)]
                if depth == 1 and tails:
                    break
                record = tails[0] if tails else take_turn(waiting, active, workers, now)
                used = yield worker, record
                if used:
                    break


def chunks_to_take_back(workers: Sequence[WorkerSlot]) -> list[tuple[WorkerSlot, Chunk]]:
    """Chunks to ask back (Revoke) from the workers holding them: one for each idle worker.

    A worker is sent a second chunk in advance when the job's chunks are measured short; when a
    task turns out long, that chunk would wait for it while another worker idles. Only a chunk
    queued behind one that runs, not already asked back, and that an idle worker of the same
    backend may take (max_tasks_per_worker) is asked for.
    """
    idle = [worker for worker in workers if worker.ready and worker.stopping_reason is None
            and not worker.outstanding]
    taken: list[tuple[WorkerSlot, Chunk]] = []
    if not idle:
        return taken
    for worker in workers:
        if worker.stopping_reason is not None or len(worker.outstanding) < 2:
            continue
        if worker.outstanding[0].started_at is None:
            continue  # nothing runs yet: the queued chunk is not held up
        for chunk in list(worker.outstanding)[1:]:
            if chunk.revoking or chunk.started_at is not None:
                continue
            taker = next((other for other in idle if other.backend == worker.backend
                          and allowance(other, chunk.job) >= len(chunk.inputs)), None)
            if taker is None:
                continue
            idle.remove(taker)  # one chunk for each idle worker
            taken.append((worker, chunk))
            if not idle:
                return taken
    return taken


class Fate(enum.Enum):
    """What becomes of the unfinished tasks of a chunk whose worker is gone."""

    NOTHING = "nothing"  # every task reported: nothing to do
    CANCELLED = "cancelled"  # its job was cancelled: the tasks count as cancelled
    REQUEUE = "requeue"  # never started, or its worker stopped for a cause not its own: run it elsewhere
    TIMED_OUT = "timed out"  # its running task passed the job's timeout: it fails, the rest run again
    SPLIT = "split"  # a crash with several tasks left: each runs again alone, to pin the crash on one
    RETRY = "retry"  # its one task crashed its worker and has retries left: it runs again
    CRASHED = "crashed"  # its one task crashed its worker once more than the job's retries: it fails


def dead_chunk_fate(chunk: Chunk, *, running: bool, crashed: bool, timed_out: bool) -> Fate:
    """The fate of a chunk its worker held when it went.

    ``running``: it had started (and was the worker's head chunk); ``crashed``: the worker died
    unasked (not stopped, recycled or killed by the engine); ``timed_out``: the engine killed it
    because this chunk's task ran past the job's timeout. A crash counts against an input only
    when it is pinned on it (a chunk of one task), and the input fails after ``retries`` more.
    """
    record = chunk.job
    if chunk.unfinished_count == 0:
        return Fate.NOTHING
    if record.cancel_requested:
        return Fate.CANCELLED
    if not running or not crashed and not timed_out:
        return Fate.REQUEUE
    if timed_out:
        return Fate.TIMED_OUT
    if chunk.unfinished_count > 1:
        return Fate.SPLIT
    if record.attempts[chunk.next_index] + 1 <= record.spec.retries:
        return Fate.RETRY
    return Fate.CRASHED
