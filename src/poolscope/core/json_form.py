"""A job's values in JSON form: a value as JSON holds it faithfully, else its ``repr``
(:func:`json_safe`, never raising), and the lines of a results file (``poolscope run
--results``, the window's "Save results", exports).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

__all__ = ["json_safe", "json_text", "result_line", "with_inputs", "write_results"]


def json_safe(value: Any) -> Any:
    """``value`` if JSON can represent it faithfully, else its ``repr``; never raises.

    An integer too long for Python's int-to-string limit (``sys.get_int_max_str_digits()``,
    4,300 digits by default: ``json.dumps`` and ``repr`` both refuse it, and Python's ``json``
    could not read it back as a number) is given as the string of its digits, which its
    ``repr`` would be. A value whose ``repr`` raises is named by its type and the error.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if value.bit_length() < _SAFE_INT_BITS or _fits_int_limit(value) else _int_digits(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    try:
        if isinstance(value, (list, tuple)):
            return [json_safe(item) for item in value]
        if isinstance(value, dict) and all(isinstance(key, str) for key in value):
            return {key: json_safe(item) for key, item in value.items()}
    except RecursionError:  # nested deeper than the interpreter's limit
        pass
    return _safe_repr(value)


# Integers shorter than this many bits have fewer digits than the smallest int-to-string limit
# Python allows (640), so they are written as numbers without a check.
_SAFE_INT_BITS = 2000


def _fits_int_limit(value: int) -> bool:
    try:
        str(value)
    except ValueError:
        return False
    return True


def _int_digits(value: int) -> str:
    """The decimal digits of ``value``, whatever the int-to-string limit (``decimal`` has none)."""
    import decimal

    return str(decimal.Decimal(value))


def json_text(value: Any) -> str:
    """``value`` as JSON text (see :func:`json_safe`); never raises."""
    try:
        return json.dumps(json_safe(value))
    except (ValueError, RecursionError):  # e.g. nested deeper than json.dumps goes
        return json.dumps(_safe_repr(value))


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:  # noqa: BLE001 - a repr that raises (or an int in it too long to write)
        return f"<{type(value).__name__}: repr() raised {type(exc).__name__}: {exc}>"


WRITE_PROGRESS_EVERY = 1000  # result lines between calls of write_results' progress


def result_line(index: int, value_in: Any, value_out: Any) -> str:
    """One line of a results file (JSON Lines), as ``poolscope run --results`` and the window's
    "Save results" write it: ``{"index": i, "input": x, "result": r}``."""
    return f'{{"index": {index}, "input": {json_text(value_in)}, "result": {json_text(value_out)}}}\n'


def write_results(stream: IO[str], results: Iterable[tuple[int, Any]], inputs: Iterable[Any] | None,
                  progress: Callable[[int], None] | None = None) -> int:
    """Write ``(index, result)`` pairs, in input order, as result lines; return how many.

    ``inputs`` (the job's inputs again, in order; None: not known, written as null) is read
    alongside, so neither needs to be in memory at once. ``progress`` is called with the count
    written so far every ``WRITE_PROGRESS_EVERY`` lines.
    """
    count = 0
    for index, value_in, value_out in with_inputs(results, inputs):
        if progress is not None and count % WRITE_PROGRESS_EVERY == 0 and count:
            progress(count)
        stream.write(result_line(index, value_in, value_out))
        count += 1
    return count


def with_inputs(results: Iterable[tuple[int, Any]],
                inputs: Iterable[Any] | None) -> Iterator[tuple[int, Any, Any]]:
    """``(index, input, result)`` for ``(index, result)`` pairs in input order, the inputs read
    alongside (None where they are not known), so neither is held in memory."""
    pending = enumerate(inputs) if inputs is not None else None
    for index, value_out in results:
        value_in = None
        if pending is not None:
            for position, value in pending:  # advance to this index
                if position == index:
                    value_in = value
                    break
        yield index, value_in, value_out
