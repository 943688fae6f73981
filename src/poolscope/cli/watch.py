"""``poolscope watch``: a script run with its process pools shown in the window, or on the terminal."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from poolscope.cli import EXIT_FAILED, EXIT_USAGE

if TYPE_CHECKING:
    import argparse


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
