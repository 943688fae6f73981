"""Waiting on an engine in tests: conditions, its events, its workers."""

from __future__ import annotations

import os
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


def worker_processes(pid: int, count: int, timeout: float = 30.0) -> list[psutil.Process]:
    """The worker processes of the engine in process ``pid``, once there are ``count``: its
    descendants that lead a process group of their own (a worker calls setpgrp first thing),
    however they were started (spawned by it, or forked by its fork server)."""
    found: list[psutil.Process] = []

    def leads_its_group(process: psutil.Process) -> bool:
        try:
            return os.getpgid(process.pid) == process.pid and "poolscope lifeline" not in " ".join(process.cmdline())
        except (OSError, psutil.Error):
            return False

    def enough() -> bool:
        try:
            found[:] = [child for child in psutil.Process(pid).children(recursive=True) if leads_its_group(child)]
        except psutil.NoSuchProcess:
            raise AssertionError(f"process {pid} ended before {count} workers started") from None
        return len(found) >= count

    wait_until(enough, timeout=timeout, what=f"{count} workers")
    return found
