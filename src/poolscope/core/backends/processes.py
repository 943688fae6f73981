"""The default backend: worker processes on this machine, at a lower priority."""

from __future__ import annotations

import os
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

from poolscope.core import worker as protocol
from poolscope.core.backends import PROCESSES
from poolscope.core.processes import kill_process_tree


class ProcessWorker:
    """A worker process (see core/worker.py) and how to kill it with its whole tree."""

    can_kill = True

    def __init__(self, process: Any) -> None:
        self.process = process
        self.pid: int = process.pid
        self.sentinel = process.sentinel

    def is_alive(self) -> bool:
        return bool(self.process.is_alive())

    def join(self, timeout: float | None = None) -> None:
        self.process.join(timeout)

    @property
    def exitcode(self) -> int | None:
        return self.process.exitcode

    def kill(self) -> None:
        kill_process_tree(self.pid)


class ProcessBackend:
    name = PROCESSES

    def __init__(self, context: BaseContext, size: int, nice: int) -> None:
        self.context = context
        self.size = size
        self.nice = nice

    def slot_count(self) -> int:
        return self.size

    def start_worker(self, slot: int) -> tuple[Connection, ProcessWorker]:
        engine_end, worker_end = self.context.Pipe(duplex=True)
        process = self.context.Process(  # type: ignore[attr-defined]
            target=protocol.worker_main,
            args=(worker_end, os.getpid(), self.nice),
            name=f"poolscope-worker-{slot}",
            daemon=False,  # a task may start processes of its own (daemons may not)
        )
        process.start()
        worker_end.close()
        return engine_end, ProcessWorker(process)

    def describe_workers(self) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        pass
