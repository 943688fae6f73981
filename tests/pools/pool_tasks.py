"""Functions the drop-in pool tests run in workers (importable by name, as a script's are)."""

from __future__ import annotations

import os
import signal
import threading
import time


class TaskBoom(Exception):
    """A task's own exception type: the caller must get this very class back."""


def square(x: int) -> int:
    return x * x


def add(a: int, b: int) -> int:
    return a + b


def boom_at_3(x: int) -> int:
    if x == 3:
        raise TaskBoom(f"input {x} is bad")
    return x


def sleep_then(x: float) -> float:
    time.sleep(x)
    return x


def pid(_: object = None) -> int:
    return os.getpid()


def kill_myself_at_2(x: int) -> int:
    if x == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def return_lock(_: object) -> object:
    return threading.Lock()


INITIALIZED: list[str] = []


def remember(tag: str) -> None:
    INITIALIZED.append(tag)


def initialized(_: object = None) -> tuple[int, list[str]]:
    return os.getpid(), list(INITIALIZED)


def failing_initializer() -> None:
    raise RuntimeError("the initializer cannot start")


def make_pool_inside(_: object) -> str:
    from poolscope import Pool

    try:
        Pool(1)
    except AssertionError as exc:
        return f"refused: {exc}"
    return "made"


def executor_inside(n: int) -> list[int]:
    from poolscope import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as executor:
        return list(executor.map(square, range(n)))
