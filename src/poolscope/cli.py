"""The command line: ``poolscope`` (the window), ``poolscope run`` (headless), ``poolscope tasks``,
``poolscope watch`` (a script's own pools, in the window), ``poolscope history`` and ``poolscope results``
(past jobs), ``poolscope install-desktop`` (the desktop entry and icon).

This module imports no Qt and nothing heavy at import time: spawned worker processes import
the parent's main module (the ``poolscope`` command's script imports this one), and they must
start quickly; so even argparse and json are imported where they are used.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

COMMANDS = ("gui", "run", "tasks", "watch", "history", "results", "install-desktop")
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PROGRESS_INTERVAL = 0.25  # seconds between progress updates on a terminal
PROGRESS_INTERVAL_LOG = 2.0  # ... and when stderr is a file or a pipe
# --json holds the results inline only for a job of at most this many tasks, and only while they
# come to at most JSON_RESULTS_BYTES of JSON: the summary stays small and quick to write for any
# job (a job of 100 million tasks would make a list of 800 MB and a JSON text of more). Past
# either bound "results" is left out, "results_omitted" counts what was, and --results PATH has
# every result (written as they come, in constant memory).
JSON_RESULTS_LIMIT = 100_000
JSON_RESULTS_BYTES = 64 * 1024 * 1024


TARGET_RULE = ("Targets: package.module:function is imported from the folder poolscope was started in, then "
               "sys.path (the same in every worker); path/to/file.py:function loads that file, whose folder is "
               "searched only while it is imported. 'poolscope run' has the job's workers import it (a target "
               "that does not import is an error, exit status 2); with --kwargs, or in the window, it is checked "
               "in a separate process before anything runs. Every job runs the code as it is on disk when it "
               "starts.")
# How the engine words a job whose workers could not set it up because its target (or initializer)
# does not load: Target.load raised SpecError in the worker (core/worker.py set_up_job).
SETUP_REFUSED = "worker could not start: SpecError: "


def build_parser() -> argparse.ArgumentParser:
    import argparse

    job_flags = argparse.ArgumentParser(add_help=False)
    group = job_flags.add_argument_group("job")
    group.add_argument("--inputs", default="", metavar="SPEC",
                       help="range:STOP, range:START:STOP[:STEP], json:[...] or file:PATH "
                            "(default: the built-in task's default inputs)")
    group.add_argument("--kwargs", default=None, metavar="JSON", help="keyword arguments for every task, a JSON object")
    group.add_argument("--workers", default=None, metavar="N", help="worker processes (default: one per core)")
    group.add_argument("--chunksize", default=None, metavar="N", help="tasks per chunk (default: automatic)")
    group.add_argument("--timeout", default=None, metavar="SECONDS", help="per-task time limit")
    group.add_argument("--retries", default="0", metavar="N", help="times a task whose worker crashed is rerun")
    group.add_argument("--max-tasks-per-worker", default=None, metavar="N",
                       help="replace a worker after it ran this many of the job's tasks")
    group.add_argument("--initializer", default=None, metavar="TARGET",
                       help="package.module:function or path/to/file.py:function to call once in each "
                            "worker before the job's first task (e.g. to load a model)")
    group.add_argument("--name", default="", help="a name for the job")
    group.add_argument("--nice", default="10", metavar="N", help="nice level of the workers (default: 10)")
    group.add_argument("--backend", default="processes", metavar="NAME",
                       help="processes (default), threads (I/O-bound work) or dask (a cluster)")
    group.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="with --backend dask: a running scheduler, e.g. tcp://10.0.0.5:8786 "
                            "(default: start a local cluster)")

    parser = argparse.ArgumentParser(prog="poolscope", description="Run CPU-bound Python jobs on a process "
                                     "pool you can watch, cancel and terminate.", epilog=TARGET_RULE)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = commands.add_parser("gui", parents=[job_flags], help="open the window (the default)")
    gui.add_argument("--run", metavar="TARGET", default=None, help="start this job in the window at once")
    run = commands.add_parser("run", parents=[job_flags], help="run a job headless, progress on stderr",
                              epilog=TARGET_RULE)
    run.add_argument("target", metavar="TARGET", help="a built-in task (see 'poolscope tasks'), "
                     "package.module:function (imported from the current folder, then sys.path) or "
                     "path/to/file.py:function")
    run.add_argument("--results", metavar="PATH", default=None,
                     help="write results as JSON Lines to PATH as tasks finish")
    run.add_argument("--json", action="store_true",
                     help="print a JSON summary on stdout at the end: status, counts and errors, and the "
                          f"results by input index if the job has at most {JSON_RESULTS_LIMIT:,} tasks "
                          "(else they are left out: use --results)")
    commands.add_parser("tasks", help="list the built-in tasks")
    add_watch_parser(commands)
    add_history_commands(commands)
    add_install_desktop_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in COMMANDS + ("-h", "--help"):
        arguments.insert(0, "gui")  # the window is the default: "poolscope", "poolscope --workers 4"
    args = parser.parse_args(arguments)
    if args.command == "run":
        return run_command(args, parser)
    if args.command == "tasks":
        return tasks_command()
    if args.command == "watch":
        return watch_command(args, parser)
    if args.command in ("history", "results"):
        return history_commands(args, parser)
    if args.command == "install-desktop":
        return install_desktop_command(args)
    return gui_command(args, parser)


def add_watch_parser(commands: Any) -> None:
    import argparse

    watch = commands.add_parser(
        "watch", help="run a script with its multiprocessing.Pool and ProcessPoolExecutor in the window",
        usage="poolscope watch [-h] [--headless] SCRIPT [ARGS ...]",
        description="Run an unmodified Python script with multiprocessing.Pool, multiprocessing.pool.Pool and "
                    "concurrent.futures.ProcessPoolExecutor standing for poolscope's, so its pools show in the "
                    "window (opened if none is). Arguments after the script are the script's.")
    watch.add_argument("--headless", action="store_true",
                       help="show the pools' progress on this terminal instead of in a window")
    watch.add_argument("command_line", nargs=argparse.REMAINDER, metavar="SCRIPT [ARGS ...]",
                       help="the script to run, as python would run it, and its arguments")


def watch_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``poolscope watch [--headless] SCRIPT [ARGS...]``: see poolscope/watch.py."""
    import os

    from poolscope import watch

    def usage(message: str) -> None:
        parser.exit(EXIT_USAGE, f"poolscope watch: error: {message}\n")

    if not args.command_line:
        usage("script: missing: poolscope watch [--headless] SCRIPT [ARGS ...]")
    args.script, args.args = args.command_line[0], args.command_line[1:]
    if not os.path.exists(args.script):
        usage(f"script: no such file: {args.script!r}")
    if not os.path.isfile(args.script):
        usage(f"script: not a file: {args.script!r}")
    if not os.access(args.script, os.R_OK):
        usage(f"script: cannot be read: {args.script!r}")
    try:
        pool, executor = watch.drop_ins()
    except (ImportError, AttributeError) as exc:
        sys.stderr.write(f"poolscope watch: error: poolscope's drop-in pools cannot be loaded: {exc}\n")
        return EXIT_FAILED
    from poolscope.core.attach import close_all_reporters

    progress = None
    if args.headless:
        from poolscope.monitor.terminal import TerminalProgress

        progress = TerminalProgress()
        progress.start()
    else:
        problem = watch.open_window()
        if problem is not None:
            sys.stderr.write(f"poolscope watch: no window: {problem}; running the script without one "
                             "(--headless shows its progress here)\n")
    try:
        return watch.run_script(args.script, args.args, pool, executor)
    finally:
        close_all_reporters()  # what the script's pools still hold goes out before the reader stops
        if progress is not None:
            progress.stop()


def tasks_command(out: IO[str] | None = None) -> int:
    import json

    from poolscope.tasks import BUILTIN_TASKS

    out = out or sys.stdout
    width = max(len(name) for name in BUILTIN_TASKS)
    for task in BUILTIN_TASKS.values():
        out.write(f"{task.name:<{width}}  {task.description}\n{'':<{width}}  default: --inputs {task.default_inputs}"
                  f"{' --kwargs ' + json.dumps(task.default_kwargs) if task.default_kwargs else ''}\n")
    return EXIT_OK


def add_install_desktop_parser(commands: Any) -> None:
    """``poolscope install-desktop [--uninstall]``."""
    command = commands.add_parser("install-desktop", help="add poolscope to the desktop's applications, with its "
                                  "icon (under $XDG_DATA_HOME, default ~/.local/share)")
    command.add_argument("--uninstall", action="store_true", help="remove what install-desktop added")


def install_desktop_command(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """Install (or, with --uninstall, remove) the desktop entry and the icon for this user."""
    from poolscope.desktop import install_desktop, installed_paths, user_data_home

    out = out or sys.stdout
    try:
        paths = install_desktop(uninstall=args.uninstall)
    except OSError as exc:
        where = exc.filename or user_data_home()
        sys.stderr.write(f"poolscope install-desktop: error: {where}: {exc.strerror or exc}\n")
        return EXIT_FAILED
    if args.uninstall:
        if not paths:
            entry, icon = installed_paths(user_data_home())
            out.write(f"nothing to remove: neither {entry} nor {icon} exists\n")
        for path in paths:
            out.write(f"removed {path}\n")
        return EXIT_OK
    for path in paths:
        out.write(f"installed {path}\n")
    return EXIT_OK


def spec_from_args(args: argparse.Namespace, target: str, *, checked_by_workers: bool = False) -> Any:
    """Build the JobSpec from the job flags; raises SpecError naming the bad field.

    ``checked_by_workers``: the target and initializer are only parsed here (a file target must
    exist), not imported in a check process of their own: the job's workers import them anyway,
    and one that does not load fails the job with the field's SpecError (see ``setup_refusal``).
    Only if another field is bad is the target checked here first, so that a bad target is still
    the error said first, as with the check. Else (the window) a target of the user's own code
    is checked in a child process before anything else.
    """
    from poolscope.core.jobs import JobSpec, SpecError, resolve_initializer
    from poolscope.core.targets import parse_target, resolve_target

    def create(target: Any, initializer: Any) -> Any:
        return JobSpec.create(target, args.inputs, kwargs=args.kwargs, chunksize=args.chunksize,
                              timeout=args.timeout, retries=args.retries, name=args.name,
                              max_tasks_per_worker=args.max_tasks_per_worker, backend=args.backend,
                              initializer=initializer)

    if not checked_by_workers:
        return create(target, args.initializer)
    parsed = parse_target(target)
    initializer = None
    if args.initializer is not None and args.initializer.strip():
        try:
            initializer = parse_target(args.initializer)
        except SpecError as exc:
            raise SpecError("initializer", exc.message) from None
    try:
        return create(parsed, initializer)  # a Target given is taken as checked (core/jobs.py JobSpec.create)
    except SpecError:
        resolve_target(parsed)  # a target that does not load is the first error to say, as before
        resolve_initializer(args.initializer)
        raise


def usage_errors(prog: str, exc: Exception) -> str:
    """A bad field's message for the terminal, a line per field when several are bad (SpecErrors)."""
    errors = getattr(exc, "errors", None) or {getattr(exc, "field", ""): getattr(exc, "message", str(exc))}
    return "".join(f"{prog}: error: {field}: {message}\n" if field else f"{prog}: error: {message}\n"
                   for field, message in errors.items())


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Engine's keyword arguments from the flags; raises SpecError naming a bad one."""
    from poolscope.core.jobs import SpecError, check_backend, parse_optional_int

    workers = parse_optional_int("workers", args.workers)
    check_backend(args.backend)
    if args.scheduler is not None and args.backend != "dask":
        raise SpecError("scheduler", "is only for --backend dask")
    try:
        nice = int(args.nice)
    except ValueError:
        raise SpecError("nice", f"must be a whole number from 0 to 19, not {args.nice!r}") from None
    if not 0 <= nice <= 19:
        raise SpecError("nice", f"must be a whole number from 0 to 19, not {nice}")
    options: dict[str, Any] = {"nice": nice, "dask_scheduler": args.scheduler}
    if args.backend == "threads":
        options["threads"] = workers
    elif args.backend == "dask":
        options["workers"] = 1  # the local pool idles; the cluster does the work
        options["dask_workers"] = workers or 2
    else:
        options["workers"] = workers
    return options


def gui_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from poolscope.core.jobs import SpecError

    try:
        options = engine_options(args)
        spec = spec_from_args(args, args.run) if getattr(args, "run", None) else None
    except SpecError as exc:
        parser.exit(EXIT_USAGE, usage_errors("poolscope", exc))
    from poolscope.gui.app import run_gui

    return run_gui(spec, **options)


def run_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from poolscope.core.jobs import SpecError

    try:
        options = engine_options(args)
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
    from poolscope.core.jobs import json_text

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
        self.tty = self.err.isatty()
        self.last_line = ""

    def on_result(self, index: int, value_in: Any, value_out: Any) -> None:
        from poolscope.core.jobs import result_line

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
        self.clear_line()
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

        interval = PROGRESS_INTERVAL if self.tty else PROGRESS_INTERVAL_LOG
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
        if self.tty:
            self.err.write("\r" + line.ljust(len(self.last_line)))
            self.last_line = line
        else:
            self.err.write(line + "\n")
        self.err.flush()

    def message(self, text: str) -> None:
        self.clear_line()
        self.err.write(text + "\n")
        self.err.flush()

    def clear_line(self) -> None:
        if self.tty and self.last_line:
            self.err.write("\r" + " " * len(self.last_line) + "\r")
            self.last_line = ""


# -- poolscope history, poolscope results ---------------------------------------------------------

def add_history_commands(commands: Any) -> None:
    """``poolscope history`` and ``poolscope results``: the job history (core/history/)."""
    history = commands.add_parser("history", help="list past jobs (kept in the user's data directory, or "
                                  "$POOLSCOPE_DATA_DIR)")
    history.add_argument("--json", action="store_true", help="print the jobs as a JSON list")
    history.add_argument("--limit", default="20", metavar="N", help="the newest N jobs (default: 20)")
    history.add_argument("--state", default=None, metavar="STATE",
                         help="only jobs in this state (done, failed, cancelled, terminated, interrupted, running)")
    history.add_argument("--prune", default=None, metavar="DAYS",
                         help="remove the jobs that ended and were submitted more than DAYS days ago, with their "
                              "results files")
    results = commands.add_parser("results", help="write a past job's results (or its timeline)")
    results.add_argument("job", metavar="JOB", help="the job's number, as 'poolscope history' lists it")
    results.add_argument("--format", default="jsonl", choices=("jsonl", "csv", "trace"),
                         help="jsonl (a line per result), csv (a column per field of dict results, else "
                              "input/result) or trace (the job's timeline as Chrome trace JSON, for Perfetto)")
    results.add_argument("--output", default=None, metavar="PATH", help="write to PATH (default: stdout)")


def history_commands(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from poolscope.core.history import FINAL_STATES, History, HistoryError
    from poolscope.core.jobs import SpecError, parse_optional_int

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


if __name__ == "__main__":
    sys.exit(main())
