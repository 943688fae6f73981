"""Results made JSON-ready for the window's "Save results…" in a child process, so that the
user's classes (and their ``repr``) never run in the window's process.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from poolscope.core.outcomes import STATUS_PICKLED
from poolscope.core.results.loader import ResultLoader
from poolscope.core.results.store import EncodedBlock, file_blocks_in_order

if TYPE_CHECKING:
    from poolscope.core.targets import Target


class JsonReadyBlocks:
    """A child process that turns stored blocks into lists of JSON-ready values (``json_safe``).

    It unpickles with a :class:`ResultLoader`, so the user's classes (and their ``repr``, which
    ``json_safe`` writes for what JSON cannot hold) run there, never in this process. One block
    goes over the pipe at a time and its values come back (plain values only) before the next.
    Started on the first block that needs it: a job of plain results never starts one. If the
    child dies (a module that exits at import), ``OSError`` says so.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        # Ours: the parent's end of a duplex pipe. We send a block's bytes, it sends back the
        # block's values made JSON-ready (a list of plain values), or ("error", text).
        self._conn: Any = None
        self._process: Any = None

    def __enter__(self) -> Callable[[bytes], list[Any]]:
        return self.convert

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()  # the child reads end-of-file and exits
        if self._process is not None:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()

    def convert(self, data: bytes) -> list[Any]:
        block = pickle.loads(data)  # plain values and bytes only (see store.py _load)
        if not isinstance(block, EncodedBlock) or STATUS_PICKLED not in block.statuses:
            from poolscope.core.json_form import json_safe

            return [json_safe(value) for value in (block.values if isinstance(block, EncodedBlock) else block)]
        if self._process is None:
            context = multiprocessing.get_context("spawn")
            self._conn, child = context.Pipe()
            self._process = context.Process(target=_json_ready_child, args=(child, self.target),
                                             name="poolscope-save-results", daemon=True)
            self._process.start()
            child.close()
        try:
            self._conn.send_bytes(data)
            reply = self._conn.recv()
        except (EOFError, OSError):
            self._process.join(5)
            raise OSError(f"the process that reads the results of {self.target.text} ended "
                          f"(exit code {self._process.exitcode})") from None
        if isinstance(reply, tuple):
            raise OSError(f"reading the results of {self.target.text} failed: {reply[1]}")
        values: list[Any] = reply
        return values


def _json_ready_child(conn: Any, target: Target) -> None:
    """Runs in the child process of :class:`JsonReadyBlocks`: block bytes in, JSON-ready lists out."""
    from poolscope.core.json_form import json_safe

    loads = ResultLoader(target)

    def ready(value: bytes) -> Any:
        return json_safe(loads(value))  # an UnreadableResult is written as its repr

    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            block = pickle.loads(data)
            conn.send([ready(value) if status == STATUS_PICKLED else json_safe(value)
                       for status, value in zip(block.statuses, block.values, strict=True)])
        except Exception as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def file_json_ready_items(path: str, target: Target) -> Iterator[tuple[int, Any]]:
    """(input index, JSON-ready result) of a results file; results of the user's classes made
    JSON-ready in a child process (:class:`JsonReadyBlocks`), so the caller may be the window."""
    with JsonReadyBlocks(target) as convert:
        for start, data in file_blocks_in_order(path):
            yield from enumerate(convert(data), start)
