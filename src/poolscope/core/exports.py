"""A past job's results and timeline in the formats people open: JSON Lines, CSV, Chrome trace JSON.

Results come from the job's results file (core/history/), a block at a time, never all in
memory. Who builds them decides where the user's code runs: ``poolscope results`` builds them in
its own process (:func:`~poolscope.core.results.file_items` with a ``ResultLoader``), the window in
a child process (:func:`~poolscope.core.results.file_json_ready_items`). Both give (index, value)
pairs, written here.

- JSON Lines: ``{"index": i, "input": x, "result": r}`` a line, as ``poolscope run --results``.
- CSV: ``index,input`` then a column per field when every result is a dict (the fields of all of
  them, in order of first appearance), else ``index,input,result``. A value that is not text or a
  number is written as JSON.
- Chrome trace JSON (Perfetto, chrome://tracing): one track per worker, a slice per chunk it ran
  (``ChunkRan``), and the job's throughput as a counter.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

from poolscope.core.json_form import json_safe, with_inputs, write_results

if TYPE_CHECKING:
    from poolscope.core.history import JobRow, Slice

FORMATS = ("jsonl", "csv", "trace")


def job_inputs(spec: dict[str, Any]) -> Iterable[Any] | None:
    """The inputs of a recorded job again, in order, when its input spec can give them (range:,
    json:, file:); None when they were Python values of a script."""
    from poolscope.core.errors import SpecError
    from poolscope.core.inputs import parse_inputs

    try:
        return parse_inputs(spec["inputs"]).iterate()
    except (SpecError, OSError):
        return None


def write_jsonl(stream: IO[str], items: Iterable[tuple[int, Any]], inputs: Iterable[Any] | None,
                progress: Callable[[int], None] | None = None) -> int:
    """Result lines, as ``poolscope run --results`` writes them; returns how many."""
    return write_results(stream, items, inputs, progress)


def _cell(value: Any) -> Any:
    value = json_safe(value)
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.dumps(value)


def write_csv(stream: IO[str], items: Callable[[], Iterable[tuple[int, Any]]],
              inputs: Callable[[], Iterable[Any] | None], progress: Callable[[int], None] | None = None) -> int:
    """The results as CSV (see the module's docstring); returns how many rows.

    ``items`` and ``inputs`` are called for each pass: a first one finds the columns (every
    result a dict: its fields), the second writes."""
    fields: dict[str, None] = {}
    all_dicts = True
    for _, value in items():
        if isinstance(value, dict) and all(isinstance(key, str) for key in value):
            fields.update(dict.fromkeys(value))
        else:
            all_dicts = False
            break
    by_field = all_dicts and bool(fields)
    writer = csv.writer(stream)
    writer.writerow(["index", "input", *fields] if by_field else ["index", "input", "result"])
    count = 0
    for index, value_in, value in with_inputs(items(), inputs()):
        if by_field:
            writer.writerow([index, _cell(value_in), *(_cell(value.get(name)) for name in fields)])
        else:
            writer.writerow([index, _cell(value_in), _cell(value)])
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
    return count


def trace_json(job: JobRow, slices: list[Slice]) -> dict[str, Any]:
    """A job's timeline as Chrome trace JSON (a dict for ``json.dump``): times in microseconds
    from its submission, one thread per worker pid, one complete event ("X") per chunk."""
    origin = job.submitted
    pids = sorted({piece.pid for piece in slices})
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": 1, "tid": 0, "args": {"name": f"job {job.id}: {job.name}"}}]
    for order, pid in enumerate(pids):
        events.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": pid, "args": {"name": f"worker {pid}"}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": 1, "tid": pid, "args": {"sort_index": order}})
    for piece in slices:
        tasks = (piece.last_index or 0) - (piece.first_index or 0) + 1
        label = (f"task {piece.first_index}" if tasks == 1 else f"tasks {piece.first_index}-{piece.last_index}")
        events.append({"name": label, "cat": "chunk", "ph": "X", "pid": 1, "tid": piece.pid,
                       "ts": round((piece.start - origin) * 1e6, 1),
                       "dur": round(max(0.0, piece.end - piece.start) * 1e6, 1),
                       "args": {"first_index": piece.first_index, "last_index": piece.last_index, "tasks": tasks}})
    edges, rates = job.throughput_curve()
    for at, rate in zip(edges, rates, strict=False):  # one edge more than rates: each rate from its left edge
        events.append({"name": "throughput (tasks/s)", "ph": "C", "pid": 1, "tid": 0,
                       "ts": round(at * 1e6, 1), "args": {"tasks/s": rate}})
    if edges:
        events.append({"name": "throughput (tasks/s)", "ph": "C", "pid": 1, "tid": 0,
                       "ts": round(edges[-1] * 1e6, 1), "args": {"tasks/s": 0.0}})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"job": job.id, "name": job.name, "target": job.target, "inputs": job.inputs,
                          "state": job.state, "source": job.source, "timeline_dropped": job.timeline_dropped}}


def write_trace(stream: IO[str], job: JobRow, slices: list[Slice]) -> int:
    """Write the job's timeline as Chrome trace JSON; returns how many chunks it holds."""
    json.dump(trace_json(job, slices), stream)
    stream.write("\n")
    return len(slices)


__all__ = ["FORMATS", "job_inputs", "trace_json", "write_csv", "write_jsonl", "write_trace"]
