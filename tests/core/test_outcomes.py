"""How a worker packs its tasks' outcomes for a report (core/outcomes.py Outcomes): results of
built-in types travel as one pickled list that names no class; anything else, each on its own."""

from __future__ import annotations

import dataclasses
import pickle
import pickletools

import pytest

from poolscope.core.outcomes import STATUS_ERROR, STATUS_PICKLED, STATUS_VALUE, Outcomes, pickle_builtins
from poolscope.core.protocol import ErrorInfo, PickledValues


@dataclasses.dataclass
class Point:
    x: int


def globals_named(data: bytes) -> list[str]:
    """The classes and functions a pickle names (what unpickling it would import)."""
    names, strings = [], []
    for opcode, argument, _ in pickletools.genops(data):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(argument)
        elif opcode.name == "STACK_GLOBAL":
            names.append(".".join(strings[-2:]))
        elif opcode.name == "GLOBAL":
            names.append(argument)
    return names


RESULTS_OF_BUILTIN_TYPES = [
    1, 2.5, "text", b"bytes", True, None, 10**5000, 3 + 4j, (1, "a"), [1, [2, 3]], {"key": (1.5, None)},
    {1, 2}, frozenset({3}), bytearray(b"ab"), (),
]


def test_results_of_built_in_types_travel_as_one_list_that_names_no_class_of_the_users():
    outcomes = Outcomes()
    outcomes.add_results(RESULTS_OF_BUILTIN_TYPES[:5])
    outcomes.add_results(RESULTS_OF_BUILTIN_TYPES[5:])
    statuses, values = outcomes.pack()
    assert statuses is None and isinstance(values, PickledValues)
    assert values.size == len(RESULTS_OF_BUILTIN_TYPES)
    assert pickle.loads(values.data) == RESULTS_OF_BUILTIN_TYPES
    assert set(globals_named(values.data)) <= {"builtins.complex"}
    assert len(outcomes) == 0 and outcomes.pack() == (None, [])  # empty again


def test_a_result_of_another_class_sends_each_result_on_its_own():
    outcomes = Outcomes()
    outcomes.add_results([1, (2, 3), Point(4), "five"])
    statuses, values = outcomes.pack()
    assert isinstance(values, list) and statuses is not None
    assert list(statuses) == [STATUS_VALUE, STATUS_PICKLED, STATUS_PICKLED, STATUS_VALUE]
    assert values[0] == 1 and values[3] == "five"
    assert pickle.loads(values[1]) == (2, 3) and pickle.loads(values[2]) == Point(4)
    # The next report starts afresh on the fast path.
    outcomes.add_results([6, 7])
    statuses, values = outcomes.pack()
    assert statuses is None and isinstance(values, PickledValues) and pickle.loads(values.data) == [6, 7]


def test_a_container_holding_what_cannot_be_pickled_fails_its_own_task_only():
    outcomes = Outcomes()
    outcomes.add_results([1, (2, lambda: 3), 4])
    statuses, values = outcomes.pack()
    assert statuses is not None and list(statuses) == [STATUS_VALUE, STATUS_ERROR, STATUS_VALUE]
    assert isinstance(values[1], ErrorInfo) and values[1].type_name == "UnpicklableResult"
    assert values[0] == 1 and values[2] == 4


def test_a_result_nested_too_deep_to_pickle_fails_alone():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    outcomes = Outcomes()
    outcomes.add_results([1, deep])
    statuses, values = outcomes.pack()
    assert statuses is not None and list(statuses) == [STATUS_VALUE, STATUS_ERROR]


def test_results_kept_before_a_failure_are_encoded_with_it_in_order():
    outcomes = Outcomes()
    outcomes.add_results([1, Point(2)])
    outcomes.add(STATUS_ERROR, ErrorInfo("ValueError", "bad", ""))
    outcomes.add_results([(3,)])
    statuses, values = outcomes.pack()
    assert statuses is not None
    assert list(statuses) == [STATUS_VALUE, STATUS_PICKLED, STATUS_ERROR, STATUS_PICKLED]
    assert pickle.loads(values[1]) == Point(2) and pickle.loads(values[3]) == (3,)


def test_plain_values_added_one_by_one_stay_on_the_fast_path():
    outcomes = Outcomes()
    for value in (1, "two", 3.0):
        outcomes.add(STATUS_VALUE, value)
    statuses, values = outcomes.pack()
    assert statuses is None and isinstance(values, PickledValues) and pickle.loads(values.data) == [1, "two", 3.0]


@pytest.mark.parametrize("value", [Point(1), [Point(1)], {"k": Point(1)}, pickle])
def test_the_builtins_pickler_refuses_anything_else(value):
    with pytest.raises(Exception):  # noqa: B017 - NotBuiltin, or what pickling the object raises
        pickle_builtins([value])
