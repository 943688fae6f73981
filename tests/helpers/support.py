"""Waiting on an engine in tests: conditions, its events, its workers."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

import psutil

from poolscope.core.engine import Engine


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.01)


def drain(engine: Engine) -> list:
    events = []
    while True:
        try:
            events.extend(engine.events.get(timeout=0.2))
        except queue.Empty:
            return events


def full_strength(engine: Engine) -> bool:
    """Every worker slot has a live process."""
    pids = engine.worker_pids()
    return len(pids) == engine.workers and all(psutil.pid_exists(pid) for pid in pids)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
