"""``poolscope history`` (past jobs listed, or pruned) and ``poolscope results`` (a past job's
results, or its timeline, written out)."""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Any

from poolscope.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    import argparse


def history_commands(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from poolscope.core.errors import SpecError
    from poolscope.core.fields import parse_optional_int
    from poolscope.core.history import FINAL_STATES, History, HistoryError

    name = f"poolscope {args.command}"
    try:
        if args.command == "history":
            limit = parse_optional_int("limit", args.limit)
            states = (*FINAL_STATES, "pending", "running", "cancelling", "terminating")
            if args.state is not None and args.state not in states:
                raise SpecError("state", f"must be one of {', '.join(states)}, not {args.state!r}")
            days = None
            if args.prune is not None:
                try:
                    days = float(args.prune)
                except ValueError:
                    raise SpecError("prune", f"must be a number of days, not {args.prune!r}") from None
                if not days >= 0:
                    raise SpecError("prune", f"must be 0 or more days, not {args.prune}")
        else:
            try:
                job_id = int(args.job)
            except ValueError:
                raise SpecError("job", f"must be a job number as 'poolscope history' lists it, "
                                       f"not {args.job!r}") from None
    except SpecError as exc:
        parser.exit(EXIT_USAGE, f"{name}: error: {exc}\n")
    def say(message: str) -> None:
        sys.stderr.write(f"{name}: {message}\n")

    history = History(on_message=say)
    try:
        if args.command == "results":
            return results_command(history, job_id, args, parser)
        if days is not None:
            try:
                removed, freed = history.prune(days)
            except HistoryError as exc:
                sys.stderr.write(f"{name}: error: {exc}\n")
                return EXIT_FAILED
            sys.stderr.write(f"removed {removed} job{'s' if removed != 1 else ''} and {freed / 1e6:.1f} MB of results; "
                             f"the history now takes {history.space_used() / 1e6:.1f} MB\n")
            return EXIT_OK
        print_history(history.jobs(limit=limit, state=args.state), as_json=args.json)
        return EXIT_OK
    finally:
        history.close()


def print_history(jobs: list[Any], *, as_json: bool, out: IO[str] | None = None) -> None:
    import json

    out = out or sys.stdout
    if as_json:
        out.write(json.dumps([job.to_json() for job in jobs]) + "\n")
        return
    out.write(f"{'JOB':>5}  {'STATE':<11} {'SUBMITTED':<19} {'DURATION':>9} {'DONE':>12} {'FAILED':>7} "
              f"{'TASKS/S':>9}  {'SOURCE':<14} TARGET\n")
    for job in jobs:
        submitted = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.submitted))
        duration = "" if job.duration is None else f"{job.duration:.2f} s"
        done = f"{job.done}/{job.total if job.total is not None else '?'}"
        rate = "" if job.rate is None else f"{job.rate:,.0f}"
        out.write(f"{job.id:>5}  {job.state:<11} {submitted:<19} {duration:>9} {done:>12} {job.failed:>7} "
                  f"{rate:>9}  {job.source[:14]:<14} {job.target} over {job.inputs}\n")


def results_command(history: Any, job_id: int, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Write job ``job_id``'s results (built in this process: the CLI may run the user's code, as
    ``poolscope run`` does) or its timeline."""
    import contextlib
    import os

    from poolscope.core import exports
    from poolscope.core.history import HistoryError, target_from_json
    from poolscope.core.results import ResultLoader, file_items

    name = "poolscope results"
    try:
        job = history.job(job_id)
    except HistoryError as exc:
        parser.exit(EXIT_USAGE, f"{name}: error: job: {exc}\n")
    no_file = not (job.results_path and os.path.exists(job.results_path))
    if args.format != "trace" and no_file and job.done:
        parser.exit(EXIT_USAGE, f"{name}: error: job: job {job_id} has no results file"
                                f"{f' ({job.results_path} is gone)' if job.results_path else ''}\n")
    try:
        stream = open(args.output, "w", encoding="utf-8", newline="") if args.output else None  # noqa: SIM115
    except OSError as exc:
        parser.exit(EXIT_USAGE, f"{name}: error: output: cannot write {args.output!r}: {exc.strerror}\n")
    out: IO[str] = stream if stream is not None else sys.stdout
    with contextlib.ExitStack() as closing:
        if stream is not None:
            closing.enter_context(stream)
        else:  # stdout closed early (| head) ends the writing quietly
            closing.enter_context(_quiet_broken_pipe())
        if args.format == "trace":
            count = exports.write_trace(out, job, history.timeline(job_id))
            noun = "chunks"
        else:
            loader = ResultLoader(target_from_json(job.spec["target"]))

            def items() -> Any:
                return iter(()) if no_file else file_items(job.results_path, loader)  # none finished: no file

            if args.format == "csv":
                count = exports.write_csv(out, items, lambda: exports.job_inputs(job.spec))
            else:
                count = exports.write_jsonl(out, items(), exports.job_inputs(job.spec))
            noun = "results"
    if args.output:
        sys.stderr.write(f"wrote {count:,} {noun} of job {job_id} ({job.name}, {job.state}) to {args.output}\n")
    return EXIT_OK


def _quiet_broken_pipe() -> Any:
    """stdout closed early (``| head``): stop writing, quietly, and send the rest nowhere."""
    import contextlib
    import os

    @contextlib.contextmanager
    def quiet() -> Any:
        try:
            yield
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit

    return quiet()
