"""Process helpers: kill a worker with every process it started (psutil); end a worker's process
group; the lifeline that ends every worker's group when the engine's process goes; start children
with Ctrl-C ignored."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable


def kill_process_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and all its descendants; return the pids that were signalled.

    The tree is frozen first (SIGSTOP) so that no process can start a new child between being
    listed and being killed, then killed bottom-up.
    """
    import psutil  # here, not at the top: a worker and the CLI import this module, and rarely kill

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


def end_process_group(pgid: int) -> None:
    """SIGKILL every process left in the process group ``pgid`` (a worker's: it leads its own).

    Call it after the worker has exited and before it is reaped: while it is a zombie its pid,
    and so the group id, cannot be given to another process, so this reaches only what its tasks
    started (a ``subprocess`` left running, a nested pool's workers, orphans of either).
    """
    with contextlib.suppress(OSError):  # ESRCH: nothing was left in the group
        os.killpg(pgid, signal.SIGKILL)


# The lifeline's program, for /bin/sh (which starts in about a millisecond, against 10 to 20 of
# CPU for a Python): read "+PGID" / "-PGID" lines from stdin, the pipe whose only write end the
# engine's process holds; at end-of-file (that process has exited or died, however: even SIGKILL)
# kill every group still registered, then exit. It needs no Python code to run in the workers, so
# a worker stuck in one long C call, which holds its interpreter lock, goes as surely as an idle one.
LIFELINE_PROGRAM = r"""# poolscope lifeline: ends the worker process groups when the engine's process goes
trap '' INT HUP TERM
groups=" "
while read -r line; do
    case $line in
        +*) groups="$groups${line#+} " ;;
        -*) p=${line#-}
            case $groups in *" $p "*) groups="${groups%% "$p" *} ${groups#* "$p" }" ;; esac ;;
    esac
done
for g in $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
"""


class Lifeline:
    """A small watcher process that kills the worker process groups registered with it when the
    process that started it ends, whatever ends it (see ``LIFELINE_PROGRAM``).

    One per process backend, started with it (one ``Popen`` of /bin/sh, under a millisecond,
    once; a worker's start costs one ``write``). It runs in a session of its own and ignores
    SIGINT, SIGHUP and SIGTERM, so what is meant for the engine's process does not end it first.
    A worker's group is registered by its leader's pid when the worker starts, and released
    after the group has been ended, before the worker is reaped, so the lifeline never holds a
    group id that could have been reused. Written by the engine thread (it starts and reaps the
    workers); the pipe carries lines of a few bytes, which the lifeline reads at once.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            ["/bin/sh", "-c", LIFELINE_PROGRAM],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True, bufsize=0)
        assert self._process.stdin is not None
        # The write end of the lifeline: not inheritable (so no worker, nor any other child, holds it).
        self._fd = self._process.stdin.fileno()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def watch(self, pgid: int) -> None:
        """Kill group ``pgid`` if this process ends before ``release(pgid)``."""
        self._write(f"+{pgid}\n")

    def release(self, pgid: int) -> None:
        self._write(f"-{pgid}\n")

    def close(self, timeout: float = 2.0) -> None:
        """Close the lifeline (it kills what is still registered) and wait for it to exit."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _write(self, line: str) -> None:
        if self._process is None:
            return
        with contextlib.suppress(OSError):  # it was killed from outside: PR_SET_PDEATHSIG still holds
            os.write(self._fd, line.encode())


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
    previous handler back. ``poolscope run`` and the window call it around starting a local Dask
    cluster, through :class:`poolscope.core.backends.start.BackendStart`.

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
