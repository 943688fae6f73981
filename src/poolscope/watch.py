"""``poolscope watch script.py [args...]``: run an unmodified script with the standard library's
process pools standing for poolscope's, so its work shows in the window (or, ``--headless``, on
the terminal).

The script runs in this process as ``python script.py args...`` would run it (``runpy``, as
``__main__``, ``sys.argv`` and ``sys.path[0]`` set), with ``multiprocessing.Pool``,
``multiprocessing.pool.Pool``, ``concurrent.futures.ProcessPoolExecutor`` and
``concurrent.futures.process.ProcessPoolExecutor`` replaced (:func:`substituted`) by
``poolscope.pools.Pool`` and ``poolscope.pools.ProcessPoolExecutor``, looked up by name when the
command runs (:func:`drop_ins`). Those create an engine each and report it to the window
(core/attach/reporter.py ``report_to_window``). Spawned worker processes import the script as
``__mp_main__``, where ``if __name__ == "__main__":`` is false, exactly as under ``python``.

Without ``--headless`` a window is opened first if none listens: ``poolscope gui`` started in a
session of its own, so it outlives the script (and Ctrl-C in the terminal). ``--headless`` makes
this process the reader: a listener in a private directory of its own, and progress on stderr
(:class:`poolscope.monitor.terminal.TerminalProgress`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import runpy
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = [
    "EXECUTOR_NAMES",
    "POOL_NAMES",
    "WINDOW_START_TIMEOUT",
    "drop_ins",
    "open_window",
    "run_script",
    "substituted",
]

#: Where the standard library's process pool classes are found, and replaced.
POOL_NAMES = (("multiprocessing", "Pool"), ("multiprocessing.pool", "Pool"))
EXECUTOR_NAMES = (("concurrent.futures", "ProcessPoolExecutor"), ("concurrent.futures.process", "ProcessPoolExecutor"))
#: Seconds ``poolscope watch`` waits for a window it started to listen before it runs the script.
WINDOW_START_TIMEOUT = 20.0
#: Where the drop-ins live (imported by name when the command runs).
DROP_INS_MODULE = "poolscope.pools"

_MISSING = object()


def drop_ins() -> tuple[Any, Any]:
    """``(poolscope.pools.Pool, poolscope.pools.ProcessPoolExecutor)``."""
    module = importlib.import_module(DROP_INS_MODULE)
    return module.Pool, module.ProcessPoolExecutor


@contextlib.contextmanager
def substituted(pool: Any, executor: Any) -> Iterator[None]:
    """Within the block, the standard library's process pools are ``pool`` and ``executor``
    (every name in POOL_NAMES and EXECUTOR_NAMES); afterwards they are what they were.
    ``concurrent.futures.ProcessPoolExecutor`` is a lazy attribute of its package: one set here
    is removed again, and the package's own lookup answers as before."""
    saved: list[tuple[Any, str, Any]] = []
    try:
        for names, replacement in ((POOL_NAMES, pool), (EXECUTOR_NAMES, executor)):
            for module_name, attribute in names:
                module = importlib.import_module(module_name)
                saved.append((module, attribute, module.__dict__.get(attribute, _MISSING)))
                setattr(module, attribute, replacement)
        yield
    finally:
        for module, attribute, value in reversed(saved):
            if value is _MISSING:
                with contextlib.suppress(AttributeError):
                    delattr(module, attribute)
            else:
                setattr(module, attribute, value)


def run_script(path: str, args: Sequence[str], pool: Any, executor: Any) -> int:
    """Run the script at ``path`` as ``__main__`` with ``args``, the pools substituted; return
    the exit status ``python path args...`` would have (an uncaught exception: its traceback on
    stderr and 1; ``KeyboardInterrupt``: 130)."""
    path = os.path.abspath(path)
    saved_argv, saved_path0 = sys.argv, sys.path[0] if sys.path else None
    sys.argv = [path, *args]
    folder = os.path.dirname(path)
    if sys.path:
        sys.path[0] = folder
    else:
        sys.path.append(folder)
    try:
        with substituted(pool, executor):
            runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        return _exit_status(exc.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        return 130
    except BaseException:  # noqa: BLE001 - as python reports an uncaught exception
        traceback.print_exc()
        return 1
    finally:
        sys.argv = saved_argv
        if saved_path0 is not None:
            sys.path[0] = saved_path0
    return 0


def _exit_status(code: Any) -> int:
    """What ``sys.exit(code)`` makes the process's exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def open_window(timeout: float = WINDOW_START_TIMEOUT) -> str | None:
    """Make sure a window listens: start ``poolscope gui`` detached if none does, and wait until
    it listens. Returns None when one listens, else why none could be opened."""
    from poolscope.core.attach import window_listening

    if window_listening():
        return None
    log = tempfile.TemporaryFile(prefix="poolscope-window-")  # noqa: SIM115 - closed below
    try:
        window = subprocess.Popen(
            [sys.executable, "-m", "poolscope", "gui"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=log, start_new_session=True, close_fds=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if window_listening():
                return None
            if window.poll() is not None:
                log.seek(0)
                said = log.read().decode(errors="replace").strip().splitlines()
                return f"the window exited at once (status {window.returncode})" + (f": {said[-1]}" if said else "")
            time.sleep(0.05)
        return f"the window did not open within {timeout:.0f} s"
    finally:
        log.close()
