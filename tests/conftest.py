"""Shared fixtures: every test checks that no child process outlives it."""

from __future__ import annotations

import os
import sys
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


@pytest.fixture
def engine():
    from poolscope.core.engine import Engine

    instance = Engine(workers=2, nice=0, events=True)
    yield instance
    instance.shutdown(terminate=True, timeout=20)


os.environ.setdefault("PYTHONFAULTHANDLER", "1")
