"""The ``poolscope`` command line's arguments: every subcommand's flags and help."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from poolscope.cli.run import JSON_RESULTS_LIMIT

if TYPE_CHECKING:
    import argparse

TARGET_RULE = ("Targets: package.module:function is imported from the folder poolscope was started in, then "
               "sys.path (the same in every worker); path/to/file.py:function loads that file, whose folder is "
               "searched only while it is imported. 'poolscope run' has the job's workers import it (a target "
               "that does not import is an error, exit status 2); with --kwargs, or in the window, it is checked "
               "in a separate process before anything runs. Every job runs the code as it is on disk when it "
               "starts.")


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


def add_install_desktop_parser(commands: Any) -> None:
    """``poolscope install-desktop [--uninstall]``."""
    command = commands.add_parser("install-desktop", help="add poolscope to the desktop's applications, with its "
                                  "icon (under $XDG_DATA_HOME, default ~/.local/share)")
    command.add_argument("--uninstall", action="store_true", help="remove what install-desktop added")


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
