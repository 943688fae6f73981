"""``poolscope gui`` (the window, the default) and ``poolscope install-desktop`` (its entry and
icon among the desktop's applications)."""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING

from poolscope.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from poolscope.cli.options import engine_options, spec_from_args, usage_errors

if TYPE_CHECKING:
    import argparse


def gui_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from poolscope.core.jobs import SpecError

    try:
        options = engine_options(args)
        spec = spec_from_args(args, args.run) if getattr(args, "run", None) else None
    except SpecError as exc:
        parser.exit(EXIT_USAGE, usage_errors("poolscope", exc))
    from poolscope.gui.app import run_gui

    return run_gui(spec, **options)


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
