"""Whether a worker's pickled results would unpickle, checked on the engine thread without building
any of them: every class or function a pickle names becomes a stand-in, so no user module is imported.
"""

from __future__ import annotations

import bisect
import collections
import copyreg
import io
import itertools
import operator
import pickle
import re
from typing import Any


class _StandInType(type):
    def __getattr__(cls, name: str) -> Any:  # getattr(SomeClass, "MEMBER") in a reduce: still a stand-in
        return cls


class _StandIn(metaclass=_StandInType):
    """What every class or function a checked pickle names becomes: accepts whatever unpickling
    does with it (call, ``__new__``, state, appended or set items) and runs no code of its own in
    the common cases (``__setstate__``, ``append`` and ``extend`` are ``id``: C, and unbound)."""

    __setstate__ = id
    append = id
    extend = id

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


class _CheckUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:  # never imports: see check_pickled
        return _StandIn


CHECK_SLICE = 2000  # pickles checked per run of C calls, so the engine thread holds the GIL briefly

# Whether a pickle may name a global (a class, a function): it contains the STACK_GLOBAL opcode's
# byte, the only opcode a protocol 4 or 5 pickler writes for one (workers pickle with the highest
# protocol), as an opcode or by chance inside its data. A pickle without it builds only built-in
# containers and scalars, so pickle.loads checks it at full C speed and imports nothing. EXT1/2/4
# name a global only through copyreg's extension registry of this process; if something
# registered one, pickles with their bytes are suspects too (as are GLOBAL and INST then, for good
# measure).
_STACK_GLOBAL = b"\x93"
_call = operator.methodcaller("__call__")  # operator.call, which Python 3.10 lacks
_NAMES_A_GLOBAL = re.compile(rb"[\x93\x82\x83\x84ci]").search


def _suspect_positions(part: list[bytes]) -> list[int]:
    """The positions in ``part`` of the pickles that may name a global, in order.

    Looks for the byte in the slice joined (C speed), then takes a Python step per pickle that
    has it only: a flood of tuples pays almost nothing per result."""
    if copyreg._inverted_registry:  # type: ignore[attr-defined]
        return [position for position, found in enumerate(map(_NAMES_A_GLOBAL, part)) if found]
    joined = b"".join(part)
    at = joined.find(_STACK_GLOBAL)
    if at < 0:
        return []
    ends = list(itertools.accumulate(map(len, part)))
    positions = []
    while at >= 0:
        position = bisect.bisect_right(ends, at)
        positions.append(position)
        at = joined.find(_STACK_GLOBAL, ends[position])  # on from the next pickle
    return positions


def check_pickled(pickled: list[bytes]) -> bool:
    """Whether every one of ``pickled`` (each a result pickled on its own) unpickles, structurally.

    Imports nothing and runs none of the user's code: every class or function a pickle names is
    replaced by a stand-in, so a result of a class defined in a user's file passes here (the
    caller's :class:`ResultLoader` builds it), while a truncated or malformed pickle fails. The
    objects made are dropped at once. A slice at a time, in C but for a step per pickle that
    may name a class.

    The pickles that may name a class are checked as one stream by one unpickler (building an
    unpickler per pickle cost more than the check): each ``load()`` must end exactly where its
    pickle does, so one cut short (which would read on into the next) fails the whole check.
    """
    loads = pickle.loads
    try:
        for start in range(0, len(pickled), CHECK_SLICE):
            part = pickled[start : start + CHECK_SLICE]
            positions = _suspect_positions(part)
            if len(positions) * 8 < len(part):  # a few: the runs between them through pickle.loads
                previous = 0
                for position in positions:
                    collections.deque(map(loads, part[previous:position]), maxlen=0)
                    previous = position + 1
                collections.deque(map(loads, part[previous:]), maxlen=0)
                suspects = [part[position] for position in positions]
            else:  # many (results of a class): the others picked out in C
                named = [False] * len(part)
                for position in positions:
                    named[position] = True
                collections.deque(map(loads, itertools.compress(part, map(operator.not_, named))), maxlen=0)
                suspects = list(itertools.compress(part, named))
            if suspects:
                stream = io.BytesIO(b"".join(suspects))
                unpickler = _CheckUnpickler(stream)
                count = len(suspects)
                # load(), tell(), load(), tell(), ...: the positions each load ended at, in C
                calls = itertools.chain.from_iterable(zip(itertools.repeat(unpickler.load, count),
                                                          itertools.repeat(stream.tell, count), strict=True))
                if list(map(_call, calls))[1::2] != list(itertools.accumulate(map(len, suspects))):
                    return False
    except BaseException:  # noqa: BLE001 - one of them does not unpickle
        return False
    return True


def check_one_pickled(data: bytes) -> None:
    """Raise what unpickling ``data`` raises, with stand-ins for what it names (see check_pickled)."""
    _CheckUnpickler(io.BytesIO(data)).load()
