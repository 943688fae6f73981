"""``poolscope run`` (one job headless: progress on stderr, a summary on stdout) and
``poolscope tasks`` (the built-in tasks it can run)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Any

from poolscope.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from poolscope.cli.options import engine_options, spec_from_args, usage_errors
from poolscope.monitor.status_line import StatusLine

if TYPE_CHECKING:
    import argparse

# --json holds the results inline only for a job of at most this many tasks, and only while they
# come to at most JSON_RESULTS_BYTES of JSON: the summary stays small and quick to write for any
# job (a job of 100 million tasks would make a list of 800 MB and a JSON text of more). Past
# either bound "results" is left out, "results_omitted" counts what was, and --results PATH has
# every result (written as they come, in constant memory).
JSON_RESULTS_LIMIT = 100_000
JSON_RESULTS_BYTES = 64 * 1024 * 1024
# How the engine words a job whose workers could not set it up because its target (or initializer)
# does not load: Target.load raised SpecError in the worker (core/worker.py set_up_job).
SETUP_REFUSED = "worker could not start: SpecError: "


def tasks_command(out: IO[str] | None = None) -> int:
    import json

    from poolscope.tasks import BUILTIN_TASKS

    out = out or sys.stdout
    width = max(len(name) for name in BUILTIN_TASKS)
    for task in BUILTIN_TASKS.values():
        out.write(f"{task.name:<{width}}  {task.description}\n{'':<{width}}  default: --inputs {task.default_inputs}"
                  f"{' --kwargs ' + json.dumps(task.default_kwargs) if task.default_kwargs else ''}\n")
    return EXIT_OK


def run_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # First thing, while this process has one thread and no user code: the server that forks the
    # job's workers (core/fork_server.py), instead of an interpreter spawned for each.
    fork_server = None
    if args.backend == "processes":
        from poolscope.core.fork_server import ForkServer

        fork_server = ForkServer.start()
    try:
        return _run(args, parser, fork_server)
    finally:
        if fork_server is not None:
            fork_server.close()


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser, fork_server: Any) -> int:
    from poolscope.core.jobs import SpecError

    try:
        options = engine_options(args)
        if fork_server is not None:
            options["fork_server"] = fork_server
        # The job's own workers (or threads) import the target anyway: they are its check. Not
        # on the Dask backend (a cluster, costly to start and maybe remote), nor with --kwargs:
        # whether the function takes them is the check's to say (field "kwargs"); a worker
        # would only fail every task with a TypeError.
        checked_by_workers = args.backend != "dask" and args.kwargs is None
        spec = spec_from_args(args, args.target, checked_by_workers=checked_by_workers)
    except SpecError as exc:
        parser.exit(EXIT_USAGE, usage_errors("poolscope run", exc))
    results_file = None
    if args.results:
        try:
            results_file = open(args.results, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            parser.exit(EXIT_USAGE, f"poolscope run: error: results: cannot write {args.results!r}: {exc.strerror}\n")
    try:
        return HeadlessRun(spec, options, results_file, args.json).run()
    finally:
        if results_file is not None:
            results_file.close()


def setup_refusal(summary: Any) -> str | None:
    """``field: message`` if the job failed because its workers could not load its target or
    initializer (a bad field, as a check would have said), else None."""
    if summary.status.value != "failed" or not summary.errors:
        return None
    error = summary.errors[0]  # errors of the whole job come first
    if error.index >= 0 or error.type != "WorkerStartError" or not error.message.startswith(SETUP_REFUSED):
        return None
    return str(error.message[len(SETUP_REFUSED):])


def summary_json(summary: Any, job: Any, *, with_results: bool) -> str:
    """The ``--json`` text of a finished job: ``summary.to_json()``, with ``results`` inline if
    there are few enough (see ``JSON_RESULTS_LIMIT``), else ``results_omitted``."""
    import json

    data = summary.to_json(include_results=False)
    results = inline_results(job, summary) if with_results else None
    if with_results and results is None:
        data["results_omitted"] = summary.done
    text = json.dumps(data)
    return text if results is None else f'{text[:-1]}, "results": {results}}}'


def inline_results(job: Any, summary: Any) -> str | None:
    """The JSON list of the job's results by input index (null where a task did not finish), or
    None if the job has more than ``JSON_RESULTS_LIMIT`` tasks or the list more than
    ``JSON_RESULTS_BYTES``. Read one stored block at a time, never all at once."""
    from poolscope.core.json_form import json_text

    tasks = summary.total if summary.total is not None else summary.done + summary.failed + summary.cancelled
    if tasks > JSON_RESULTS_LIMIT:
        return None
    texts = ["null"] * tasks
    size = 0
    for index, value in job.iter_results():
        if index >= tasks:
            break
        texts[index] = text = json_text(value)
        size += len(text)
        if size > JSON_RESULTS_BYTES:
            return None
    return "[" + ", ".join(texts) + "]"


class HeadlessRun:
    """One job run by ``poolscope run``: progress on stderr, summary on stdout."""

    def __init__(self, spec: Any, options: dict[str, Any], results_file: IO[str] | None, as_json: bool) -> None:
        self.spec = spec
        self.options = options  # Engine keyword arguments
        self.results_file = results_file  # written on the engine thread by on_result
        self.as_json = as_json
        self.interrupts = 0  # Ctrl-C presses so far
        self.job: Any = None  # the engine's Job once submitted
        self.err = sys.stderr
        self.status = StatusLine(self.err)  # the progress line and the messages above it

    def on_result(self, index: int, value_in: Any, value_out: Any) -> None:
        from poolscope.core.json_form import result_line

        assert self.results_file is not None
        self.results_file.write(result_line(index, value_in, value_out))

    def run(self) -> int:
        from poolscope.core.engine import Engine
        from poolscope.core.history import record_engine, recording_wanted

        recorder = None
        with Engine(events=True, **self.options) as engine:
            previous = self.install_interrupt_handler(engine)
            try:
                if recording_wanted():
                    recorder = record_engine(engine, "poolscope run", on_message=self.message)
                if self.spec.backend == "dask":
                    self.start_dask(engine)
                self.job = engine.submit(self.spec, on_result=self.on_result if self.results_file else None)
                if self.interrupts:  # Ctrl-C came before the job existed: act on it now
                    engine.cancel(self.job) if self.interrupts == 1 else engine.terminate(self.job)
                self.follow(engine, self.job)
            finally:
                if previous is not None:
                    signal.signal(signal.SIGINT, previous)
        if recorder is not None:
            recorder.close()  # after the engine's last events
        # The job has ended (follow() saw it): its summary without results. Job.wait() would build
        # the list of every result, however many.
        summary = self.job.summary()
        self.status.clear()
        refusal = setup_refusal(summary)
        if refusal is not None and not self.interrupts:
            self.err.write(f"poolscope run: error: {refusal}\n")  # as a bad field is said before a job starts
            return EXIT_USAGE
        self.err.write(f"{summary.name}: {summary.status.value}: {summary.done} done, {summary.failed} failed, "
                       f"{summary.cancelled} cancelled of {summary.total} in {summary.wall_seconds:.2f} s\n")
        if self.as_json:
            sys.stdout.write(summary_json(summary, self.job, with_results=self.results_file is None) + "\n")
            sys.stdout.flush()
        if self.interrupts:
            return EXIT_INTERRUPTED
        return EXIT_OK if summary.status.value == "done" else EXIT_FAILED

    def start_dask(self, engine: Any) -> None:
        """Connect to (or start) the Dask cluster before the job, with Ctrl-C ignored meanwhile
        (:class:`poolscope.core.backends.start.BackendStart`, as the window starts one). A failure
        to start is the job's to report (it fails with a BackendError).
        """
        from poolscope.core.backends.start import BackendStart

        where = self.options.get("dask_scheduler") or "a local cluster"
        self.message(f"starting the Dask backend on {where} (Ctrl-C waits until it has started) ...")
        start = BackendStart(engine, "dask")
        try:
            slots = start.slots.result()
        except Exception:  # noqa: BLE001 - submitting the job reports it, as a failed job
            return
        finally:
            start.finish()
        self.message(f"the Dask backend is ready: {slots} worker threads")

    def install_interrupt_handler(self, engine: Any) -> Any:
        """Ctrl-C cancels the job, a second one terminates it. Returns the previous handler."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def interrupted(signum: int, frame: object) -> None:
            self.interrupts += 1
            if self.job is None:
                return  # run() acts on it once the job exists
            if self.interrupts == 1:
                engine.cancel(self.job)
                self.message("cancelling: running tasks finish (Ctrl-C again to terminate)")
            else:
                engine.terminate(self.job)
                self.message("terminating: killing the job's processes")

        return signal.signal(signal.SIGINT, interrupted)

    def follow(self, engine: Any, job: Any) -> None:
        """Read the engine's events until the job ends: failures as lines, progress as one line."""
        import queue

        from poolscope.core.events import JobFinished, JobNotice, TaskFailed
        from poolscope.monitor.log_text import log_line

        interval = self.status.interval
        next_progress = time.monotonic() + interval
        finished = False
        while not finished:
            try:
                batch = engine.events.get(timeout=interval)
            except queue.Empty:
                batch = []
            for event in batch:
                if isinstance(event, JobFinished) and event.job_id == job.id:
                    finished = True
                elif (isinstance(event, TaskFailed) and event.error.type == "WorkerStartError"
                      and (event.error.index >= 0 or event.error.message.startswith(SETUP_REFUSED))):
                    continue  # the job's one reason, said once: below if a refusal, else as index -1
                elif not isinstance(event, JobNotice) or event.job_id == job.id:
                    line = log_line(event, one_job=True)
                    if line is not None:
                        self.message(line.message)
            if time.monotonic() >= next_progress and not finished:
                self.progress_line(job.summary())
                next_progress = time.monotonic() + interval

    def progress_line(self, summary: Any) -> None:
        total = summary.total
        finished = summary.done + summary.failed + summary.cancelled
        rate = finished / summary.wall_seconds if summary.wall_seconds > 0 else 0.0
        share = f" {100 * finished / total:5.1f}%" if total else ""
        line = (f"{summary.name}: {finished}/{total if total is not None else '?'}{share} "
                f"{summary.failed} failed {rate:,.0f} tasks/s {summary.wall_seconds:.1f} s")
        self.status.show(line)

    def message(self, text: str) -> None:
        self.status.say(text)
