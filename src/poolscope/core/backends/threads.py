"""Threads in the engine's process, for I/O-bound work.

A thread runs the same worker loop as a process (core/worker.py), so cancel works the same way.
Threads share one GIL: CPU-bound tasks on this backend use one core however many threads run,
which the per-core graph makes visible. A thread cannot be killed, so terminate asks the job's
tasks to stop (as cancel does) and says so.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any

from poolscope.core.backends import THREADS
from poolscope.core.worker import thread_worker_main


class ThreadWorker:
    """The engine's handle on a slot that is a thread of its own process."""

    can_kill = False
    sentinel = None  # its end is seen as end-of-file on its pipe

    def __init__(self, thread: threading.Thread) -> None:
        self.thread = thread
        self.pid: int = thread.native_id or 0

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    @property
    def exitcode(self) -> int | None:
        return None if self.thread.is_alive() else 0

    def kill(self) -> None:
        raise RuntimeError("threads cannot be killed")


class ThreadBackend:
    name = THREADS

    def __init__(self, size: int) -> None:
        self.size = size
        self.readers: list[threading.Thread] = []  # the slots' reader threads, appended by the slots

    def slot_count(self) -> int:
        return self.size

    def start_worker(self, slot: int) -> tuple[Connection, ThreadWorker]:
        engine_end, worker_end = multiprocessing.Pipe(duplex=True)
        thread = threading.Thread(target=thread_worker_main, args=(worker_end, self.readers),
                                  name=f"poolscope-thread-{slot}", daemon=True)
        thread.start()
        return engine_end, ThreadWorker(thread)

    def describe_workers(self) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        """Wait for the reader threads; the engine has closed its pipe ends, which ends them."""
        for reader in self.readers:
            reader.join(timeout=2)
        self.readers.clear()
