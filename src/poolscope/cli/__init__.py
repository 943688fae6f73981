"""The ``poolscope`` command's entry point: which subcommand runs (the window by default).

The subcommands: ``poolscope`` or ``poolscope gui`` (the window), ``run`` (a job headless),
``tasks``, ``watch`` (a script's own pools, in the window), ``history`` and ``results`` (past jobs),
``install-desktop`` (the desktop entry and icon). Their parts: ``parser.py`` (the arguments),
``options.py`` (the job flags into a JobSpec and the Engine's options), ``run.py`` (run, tasks),
``watch.py``, ``history.py`` (history, results), ``window.py`` (gui, install-desktop).

This package imports no Qt and nothing heavy at import time: spawned worker processes import
the parent's main module (the ``poolscope`` command's script imports this one), and they must
start quickly; so even argparse and json are imported where they are used, and the modules of
watch, history and the window only when theirs runs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

COMMANDS = ("gui", "run", "tasks", "watch", "history", "results", "install-desktop")
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    from poolscope.cli.parser import build_parser

    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in COMMANDS + ("-h", "--help"):
        arguments.insert(0, "gui")  # the window is the default: "poolscope", "poolscope --workers 4"
    args = parser.parse_args(arguments)
    if args.command in ("run", "tasks"):
        from poolscope.cli import run

        return run.run_command(args, parser) if args.command == "run" else run.tasks_command()
    if args.command == "watch":
        from poolscope.cli.watch import watch_command

        return watch_command(args, parser)
    if args.command in ("history", "results"):
        from poolscope.cli.history import history_commands

        return history_commands(args, parser)
    from poolscope.cli import window

    if args.command == "install-desktop":
        return window.install_desktop_command(args)
    return window.gui_command(args, parser)
