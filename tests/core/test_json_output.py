"""Results as JSON (``--json``, ``--results``, Save results): whatever a task returned, a line."""

from __future__ import annotations

import json
import math

from poolscope.core.json_form import result_line


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr today")


def test_a_result_line_is_written_for_any_value():
    big = math.factorial(2000)  # past Python's int-to-string limit: repr() and json.dumps() raise
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    for value, expected in [
        (big, lambda r: isinstance(r, str) and len(r) == 5736),
        ({1: big}, lambda r: r.startswith("<dict: repr() raised ValueError")),
        (BadRepr(), lambda r: r == "<BadRepr: repr() raised RuntimeError: no repr today>"),
        (nested, lambda r: r is not None),
        (float("nan"), lambda r: r == "nan"),
    ]:
        row = json.loads(result_line(7, "x", value))
        assert row["index"] == 7 and row["input"] == "x"
        assert expected(row["result"]), row["result"]
