"""Tasks for the tests, imported by workers as a file target (tests/helpers/sample_tasks.py:fn)."""

from __future__ import annotations

import os
import threading
import time

from poolscope import Cancelled, cancel_requested, progress


def square(x: int) -> int:
    return x * x


def add(x: int, *, offset: int = 0) -> int:
    return x + offset


def fail_on(x: int, *, bad: int = 3) -> int:
    if x == bad:
        raise ValueError(f"input {x} is bad")
    return x


def spin(x: int, *, seconds: float = 0.2) -> int:
    """Busy for ``seconds``, reporting progress (so it stops when cancelled)."""
    end = time.monotonic() + seconds
    steps = 0
    while time.monotonic() < end:
        steps += 1
        progress(steps)
    return x


def spin_ignoring_cancel(x: int, *, seconds: float = 30.0) -> int:
    """Busy for ``seconds`` and never looks at cancellation: only terminate stops it."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return x


def wait_for_cancel(path: str, *, seconds: float = 30.0) -> str:
    """Creates ``path`` (so the test knows it runs), returns 'noticed' once cancel_requested() says so."""
    open(path, "w").close()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cancel_requested():
            return "noticed"
        time.sleep(0.005)
    return "timed out"


def progress_until_cancelled(x: int, *, seconds: float = 30.0) -> int:
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            progress(0.5, 1)
            time.sleep(0.001)
    except Cancelled:
        raise
    return x


def pid_of_worker(x: int, *, seconds: float = 0.0) -> int:
    time.sleep(seconds)
    return os.getpid()


def exit_hard(x: int, *, code: int = 3) -> int:
    os._exit(code)


def crash_on(x: int, *, bad: int = 2) -> int:
    if x == bad:
        os._exit(7)
    return x


def unpicklable_result(x: int) -> object:
    return threading.Lock()


NOT_CALLABLE = 42


def raise_base_exception(x: int) -> int:
    """Inputs 0, 1, 2 raise SystemExit, KeyboardInterrupt and a bare BaseException; others return."""
    kinds = [SystemExit(3), KeyboardInterrupt(), BaseException("odd")]
    if x < len(kinds):
        raise kinds[x]
    return x


def segfault(x: int) -> int:
    import faulthandler

    faulthandler.disable()  # keep the test output quiet; the crash is the point
    faulthandler._sigsegv()
    return x


def sleep_forever(x: int) -> int:
    while True:
        time.sleep(1)


def ignore_sigterm_and_spin(path: str, *, seconds: float = 60.0) -> int:
    """Ignore SIGTERM, write this worker's pid to ``path``, then spin without looking at cancel."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(path + ".tmp", "w") as handle:
        handle.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    return spin_ignoring_cancel(0, seconds=seconds)


def start_children_and_wait(path: str) -> int:
    """Start a subprocess and a nested multiprocessing pool, write their pids to ``path``, hang."""
    import multiprocessing
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    pool = multiprocessing.get_context("spawn").Pool(1)
    pool_pids = [process.pid for process in pool._pool]
    with open(path + ".tmp", "w") as handle:
        handle.write(" ".join(str(pid) for pid in [os.getpid(), child.pid, *pool_pids]))
    os.replace(path + ".tmp", path)
    while True:
        time.sleep(1)


class NeedsArguments(Exception):
    """Pickles fine, but unpickling calls __init__ with one argument, which fails."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first}/{second}")


def unpicklable_in_parent(x: int) -> object:
    return NeedsArguments("a", "b")


def bad_progress(x: int) -> int:
    progress("half")  # type: ignore[arg-type]
    return x


def huge_result(x: int, *, megabytes: int = 200) -> bytes:
    return b"x" * (megabytes * 1024 * 1024)


def progress_flood(x: int, *, calls: int = 1_000_000) -> int:
    for done in range(calls):
        progress(done, calls)
    return x


def allocate_too_much(x: int) -> int:
    data = bytearray(1 << 60)  # an exbibyte: a real MemoryError
    return len(data)


def pid_and_wait_for_kill(path: str) -> int:
    with open(path + ".tmp", "w") as handle:
        handle.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(60)
    return 0


_state: dict[str, int] = {}  # set by an initializer, read by tasks (per worker process)


def load_state() -> None:
    """An initializer: counts how often it ran in this worker."""
    _state["initialized"] = _state.get("initialized", 0) + 1


def initialized(x: int) -> tuple[int, int]:
    """The input, and how often this worker's initializer has run."""
    return (x, _state.get("initialized", 0))


def failing_initializer() -> None:
    raise RuntimeError("no model file here")


# -- user code that misbehaves at each stage of a task's life (tests/faults/test_engine_faults.py)

def _raise_unpickling_error(text: str) -> object:
    import pickle

    raise pickle.UnpicklingError(text)


class ExitsWhenPickled:
    """An argument or result whose pickling calls sys.exit(1) (or raises ``kind``)."""

    def __init__(self, kind: type[BaseException] = SystemExit) -> None:
        self.kind = kind

    def __reduce__(self) -> tuple:
        import sys

        if self.kind is SystemExit:
            sys.exit(1)
        raise self.kind()


class BadRepr(ExitsWhenPickled):
    """Cannot be pickled, and its repr (used to name an input in an error) raises SystemExit too."""

    def __repr__(self) -> str:
        raise SystemExit(2)


class FailsToUnpickle:
    """Pickles; unpickling it raises UnpicklingError (in the worker, for an argument)."""

    def __reduce__(self) -> tuple:
        return (_raise_unpickling_error, ("this object cannot be rebuilt",))


class ExitsWhenUnpickled:
    """Pickles; unpickling it ends the process with os._exit(code): a crash before any task starts."""

    def __init__(self, code: int = 5) -> None:
        self.code = code

    def __reduce__(self) -> tuple:
        return (os._exit, (self.code,))


def _segfault_now() -> None:
    import faulthandler

    faulthandler.disable()  # keep the test output quiet; the crash is the point
    faulthandler._sigsegv()


class SegfaultsWhenUnpickled:
    """Pickles; unpickling it segfaults the process: a crash before any task starts."""

    def __reduce__(self) -> tuple:
        return (_segfault_now, ())


class ExitsWhenUnpickledHere:
    """Pickles; unpickling it calls sys.exit(3): a result that does this fails in the engine."""

    def __reduce__(self) -> tuple:
        import sys

        return (sys.exit, (3,))


def result_exits_when_pickled(x: int) -> object:
    return ExitsWhenPickled()


def result_exits_when_unpickled(x: int) -> object:
    return ExitsWhenUnpickledHere()


def exit_in_initializer() -> None:
    os._exit(4)


def sleep_then_pid(seconds: float) -> int:
    """Sleeps ``seconds``; returns the worker's pid (which worker ran it)."""
    time.sleep(seconds)
    return os.getpid()
