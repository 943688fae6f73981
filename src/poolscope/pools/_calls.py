"""What a worker runs for the drop-in pools. Imported in worker processes: keep it small, and
never import the engine from here (the import contract "a worker imports neither the engine...").

- :func:`call` runs one ``apply_async``/``submit`` call, ``(fn, args, kwargs)``: the inputs of a
  pool's open-ended job of single calls (core/inputs.py ``InputFeed``).
- :func:`star` runs ``fn(*args)`` (``starmap``, ``Executor.map`` over several iterables), and
  :func:`one` runs ``fn(x)`` for a callable that a worker cannot import by name (a partial, a
  bound method): ``fn`` travels as the job's keyword argument. A function importable by name
  is the job's target itself, called directly.
- :class:`PoolInitializer` runs a pool's ``initializer(*initargs)`` once per worker process, as
  the stdlib does, however many jobs of the pool the worker sets up.

A task's exception is not caught here: the worker reports it with the exception pickled
(core/protocol.py ``pickle_exception``), and the pool raises it in the caller.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from poolscope.core.targets import Target

# Tokens of the pools whose initializer has run in this process (one per pool; a worker serves
# one pool, as its engine is the pool's own).
_initialized: set[str] = set()


def call(item: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None) -> Any:
    """Run one call of a pool's open-ended job; None is a call cancelled before it was sent."""
    if item is None:
        return None
    fn, args, kwargs = item
    return fn(*args, **kwargs)


def star(args: tuple[Any, ...], fn: Callable[..., Any]) -> Any:
    return fn(*args)


def one(value: Any, fn: Callable[..., Any]) -> Any:
    return fn(value)


@dataclass(frozen=True)
class PoolInitializer(Target):
    """A pool's initializer as the engine takes one (a :class:`Target` that loads to a callable
    of no arguments), carrying the callable and its arguments; it runs once per process."""

    initializer: Callable[..., Any] | None = field(default=None, compare=False)
    initargs: tuple[Any, ...] = ()
    token: str = ""  # the pool's: a worker runs its pool's initializer once

    def load(self) -> Callable[[], None]:
        return functools.partial(_initialize_once, self.token, self.initializer, self.initargs)


def _initialize_once(token: str, initializer: Callable[..., Any] | None, initargs: tuple[Any, ...]) -> None:
    if token in _initialized or initializer is None:
        return
    initializer(*initargs)
    _initialized.add(token)  # only once it succeeded: a failure fails the job, and the next job tries again
