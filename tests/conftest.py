"""Shared fixtures: every test checks that no child process outlives it."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_TASKS = ROOT / "tests" / "helpers" / "sample_tasks.py"

if str(ROOT / "src") not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))


def sample(function: str) -> str:
    """The target text of a function in tests/helpers/sample_tasks.py (a file target)."""
    return f"{SAMPLE_TASKS}:{function}"


def live_children() -> list[psutil.Process]:
    """This process's descendants, except multiprocessing's resource tracker (it lives for the session)."""
    children = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if "resource_tracker" in " ".join(child.cmdline()):
                continue
        except psutil.NoSuchProcess:
            continue
        children.append(child)
    return children


@pytest.fixture(autouse=True)
def no_orphans():
    """Fail the test if any process it started is still alive shortly after it ends."""
    before = {child.pid for child in live_children()}
    yield
    deadline = time.monotonic() + 3.0
    while True:
        left = [child for child in live_children() if child.pid not in before]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"child processes outlived the test: {[(c.pid, c.cmdline()) for c in left]}"


def live_threads() -> set[threading.Thread]:
    """Threads that keep the interpreter from exiting (daemon threads do not)."""
    return {thread for thread in threading.enumerate() if not thread.daemon and thread.is_alive()}


@pytest.fixture(autouse=True)
def no_stray_threads():
    """Fail the test if a thread it started still runs shortly after it ends: at the end of the
    session the interpreter would wait for that thread, and the run would hang instead of failing."""
    before = live_threads()
    yield
    deadline = time.monotonic() + 3.0
    while True:
        left = live_threads() - before
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"threads outlived the test: {sorted(thread.name for thread in left)}"


_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


def pytest_unconfigure(config: pytest.Config) -> None:
    """A thread still running after the summary would hang the interpreter's exit, and with it the
    run: name it, and end the process with a failing status (the test that left it has failed)."""
    left = live_threads() - {threading.main_thread()}
    if left:
        import faulthandler

        sys.stderr.write(f"\nthreads still running at the end of the session: {sorted(t.name for t in left)}\n")
        faulthandler.dump_traceback(all_threads=True)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(max(_exit_status or [1]) or 1)


@pytest.fixture
def engine():
    from poolscope.core.engine import Engine

    instance = Engine(workers=2, nice=0, events=True)
    yield instance
    instance.shutdown(terminate=True, timeout=20)


os.environ.setdefault("PYTHONFAULTHANDLER", "1")

# The job history and the results files of the jobs the tests run (core/history/) go to a folder
# of the session's own, never the user's data directory; subprocesses inherit it.
os.environ["POOLSCOPE_DATA_DIR"] = tempfile.mkdtemp(prefix="poolscope-test-data-")
