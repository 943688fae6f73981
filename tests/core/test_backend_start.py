"""A backend started ahead of its jobs (core/backends/start.py): SIGINT is ignored from before the
engine is asked until finish() on the main thread; the slots, or what the start raised, come as a
future. No process is started: the engine here is a stand-in that records what it saw."""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest

from poolscope.core.backends.start import BackendStart


class StandInEngine:
    """Starts a backend when told to (``go``), recording the SIGINT handler it saw meanwhile."""

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome  # the slots to return, or an exception to raise
        self.go = threading.Event()
        self.seen: list[tuple[str, float | None, Any]] = []  # (name, timeout, SIGINT's handler), by its thread

    def start_backend(self, name: str, *, timeout: float | None = None) -> int:
        self.seen.append((name, timeout, signal.getsignal(signal.SIGINT)))
        assert self.go.wait(10)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return int(self.outcome)


@pytest.fixture
def handler():
    """A SIGINT handler of our own (as the CLI and the window install), put back after the test."""
    def own(signum: int, frame: object) -> None:  # pragma: no cover - never called
        raise AssertionError("SIGINT")

    previous = signal.signal(signal.SIGINT, own)
    yield own
    signal.signal(signal.SIGINT, previous)


@pytest.mark.timeout(20)
def test_sigint_is_ignored_while_the_backend_starts_and_until_finish(handler):
    engine = StandInEngine(3)
    start = BackendStart(engine, "dask", timeout=5.0)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and not start.slots.done()  # the caller is not held
    engine.go.set()
    assert start.slots.result(10) == 3
    assert engine.seen == [("dask", 5.0, signal.SIG_IGN)]
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and not start.finished  # until finish()
    start.finish()
    assert signal.getsignal(signal.SIGINT) is handler and start.finished
    start.finish()  # again: nothing
    assert signal.getsignal(signal.SIGINT) is handler


@pytest.mark.timeout(20)
def test_a_failed_start_is_the_futures_and_finish_from_another_thread_does_nothing(handler):
    engine = StandInEngine(ConnectionError("no Dask scheduler"))
    start = BackendStart(engine, "dask")
    engine.go.set()
    with pytest.raises(ConnectionError, match="no Dask scheduler"):
        start.slots.result(10)
    other = threading.Thread(target=start.finish)  # only the main thread may set a handler
    other.start()
    other.join(10)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and not start.finished
    start.finish()
    assert signal.getsignal(signal.SIGINT) is handler


@pytest.mark.timeout(20)
def test_a_handler_set_while_it_started_is_kept(handler):
    engine = StandInEngine(2)
    start = BackendStart(engine, "dask")
    engine.go.set()
    assert start.slots.result(10) == 2

    def newer(signum: int, frame: object) -> None:  # pragma: no cover - never called
        raise AssertionError("SIGINT")

    signal.signal(signal.SIGINT, newer)  # e.g. the window's, installed as it opened
    start.finish()
    assert signal.getsignal(signal.SIGINT) is newer
