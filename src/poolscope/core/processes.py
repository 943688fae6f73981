"""Process helpers: kill a worker with every process it started (psutil); start children with
Ctrl-C ignored."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable

import psutil


def kill_process_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and all its descendants; return the pids that were signalled.

    The tree is frozen first (SIGSTOP) so that no process can start a new child between being
    listed and being killed, then killed bottom-up.
    """
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return []
    try:
        leads_group = hasattr(os, "killpg") and os.getpgid(pid) == pid
    except OSError:
        leads_group = False
    with contextlib.suppress(psutil.Error):
        root.suspend()
    tree = [root]
    seen: set[int] = {pid}
    for _ in range(3):  # list again after freezing what was found, to catch late forks
        try:
            found = root.children(recursive=True)
        except psutil.Error:
            break
        new = [child for child in found if child.pid not in seen]
        if not new:
            break
        for child in new:
            seen.add(child.pid)
            tree.append(child)
            with contextlib.suppress(psutil.Error):
                child.suspend()
    for process in reversed(tree):
        with contextlib.suppress(psutil.Error):
            process.kill()
    if leads_group:
        # A worker leads its own process group: this also reaches descendants whose parent
        # already exited (and so are no longer listed as children).
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    return [process.pid for process in tree]


def signal_name(exitcode: int | None) -> str:
    """'SIGKILL' for -9, 'exit code 3' for 3, 'still running' for None."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


def ignore_sigint() -> Callable[[], None]:
    """Ignore SIGINT (Ctrl-C) in this process from now on; return the function that puts the
    previous handler back. Both ``poolscope run`` and the window call it around starting a local
    Dask cluster.

    A LocalCluster's worker processes share the terminal's process group, so a Ctrl-C reaches
    them too; one while they are still starting (before Dask's preload hook makes them ignore it)
    kills them. Processes started while SIGINT is ignored, from any thread of this process,
    inherit the ignoring, and Python keeps it, so Ctrl-C stays poolscope's (the engine's cancel,
    then terminate; the window's quit). A Ctrl-C pressed meanwhile is lost.

    Only the main thread may set a signal handler: called from another thread this ignores
    nothing and the returned function does nothing. Call the returned function on the main
    thread too; it puts the handler back only if SIGINT is still ignored, so a handler set
    meanwhile (e.g. the window's, installed or removed as it opens or closes) is kept.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def restore() -> None:
        if previous is not None and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)

    return restore
