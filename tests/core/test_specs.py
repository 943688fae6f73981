"""Job specs, input specs and targets: every bad field gives a clear error naming it."""

from __future__ import annotations

import pytest

from poolscope.core.errors import SpecErrors
from poolscope.core.inputs import parse_inputs
from poolscope.core.jobs import JobSpec, SpecError, field_errors
from poolscope.core.json_form import json_safe
from poolscope.core.targets import resolve_target
from tests.conftest import SAMPLE_TASKS, sample


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("range:5", [0, 1, 2, 3, 4]),
        ("range:2:5", [2, 3, 4]),
        ("range:10:0:-3", [10, 7, 4, 1]),
        ("json:[1, \"a\", [2]]", [1, "a", [2]]),
    ],
)
def test_input_specs_yield_their_inputs(text, expected):
    spec = parse_inputs(text)
    assert list(spec.iterate()) == expected
    assert spec.total == len(expected)


def test_a_huge_range_is_streamed_not_built():
    spec = parse_inputs("range:100000000")
    assert spec.total == 100_000_000
    iterator = spec.iterate()
    assert [next(iterator) for _ in range(3)] == [0, 1, 2]
    assert type(iterator).__name__ == "range_iterator"


def test_file_inputs_are_json_decoded_where_they_parse(tmp_path):
    path = tmp_path / "inputs.txt"
    path.write_text('1\n"two"\n\nthree\n[4, 5]\n{"six": 6}\n')
    spec = parse_inputs(f"file:{path}")
    assert spec.total == 5
    assert list(spec.iterate()) == [1, "two", "three", [4, 5], {"six": 6}]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("range:", "range:STOP"),
        ("range:a", "'a' is not a whole number"),
        ("range:5:1:0", "step must not be 0"),
        ("range:5:1", "empty"),
        ("range:1:2:3:4", "range:STOP"),
        ("json:[1,", "invalid JSON"),
        ("json:{\"a\": 1}", "must be a JSON list"),
        ("json:[]", "empty"),
        ("file:/no/such/file.txt", "does not exist"),
        ("file:/", "is a directory"),
        ("file:", "needs a path"),
        ("lines:1,2", "not an input spec"),
        ("5", "not an input spec"),
    ],
)
def test_bad_input_specs_name_the_field_and_the_problem(text, fragment):
    with pytest.raises(SpecError) as info:
        parse_inputs(text)
    assert info.value.field == "inputs"
    assert fragment in info.value.message


def test_an_unreadable_input_file_is_reported(tmp_path):
    not_a_directory = tmp_path / "plain.txt"
    not_a_directory.write_text("1\n")
    with pytest.raises(SpecError, match="cannot be read"):
        parse_inputs(f"file:{not_a_directory}/inputs.txt")


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("", "no target given"),
        ("no_such_task", "unknown built-in task 'no_such_task'"),
        ("no_such_module_xyz:f", "no module named 'no_such_module_xyz'"),
        ("json:no_such_function", "has no function 'no_such_function'"),
        ("os:sep", "is not callable"),
        ("/no/such/file.py:f", "does not exist"),
        (":f", "expected module:function"),
        ("json:", "expected module:function"),
        (f"{SAMPLE_TASKS}:NOT_CALLABLE", "is not callable"),
        (f"{SAMPLE_TASKS}:missing", "has no function 'missing'"),
    ],
)
def test_bad_targets_name_the_target_and_the_reason(target, fragment):
    with pytest.raises(SpecError) as info:
        resolve_target(target)
    assert info.value.field == "target"
    assert fragment in info.value.message


def test_file_targets_with_syntax_or_import_errors_are_reported(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def f(x):\n    return (x\n")
    with pytest.raises(SpecError, match=r"syntax error in broken.py line \d"):
        resolve_target(f"{broken}:f")
    failing = tmp_path / "failing.py"
    failing.write_text("import no_such_dependency_xyz\ndef f(x):\n    return x\n")
    with pytest.raises(SpecError, match="ModuleNotFoundError"):
        resolve_target(f"{failing}:f")


def test_targets_resolve_builtins_modules_files_and_functions():
    assert resolve_target("primes").kind == "builtin"
    assert resolve_target("math:sqrt").load()(9) == 3
    assert resolve_target(sample("square")).load()(4) == 16
    from tests.helpers.sample_tasks import square

    assert resolve_target(square).text == "tests.helpers.sample_tasks:square"
    with pytest.raises(SpecError, match="top-level function"):
        resolve_target(lambda x: x)


@pytest.mark.parametrize(
    ("field", "kwargs", "fragment"),
    [
        ("kwargs", {"kwargs": "[1, 2]"}, "must be a JSON object"),
        ("kwargs", {"kwargs": "{bad"}, "invalid JSON"),
        ("chunksize", {"chunksize": "0"}, "at least 1"),
        ("chunksize", {"chunksize": "-4"}, "at least 1"),
        ("chunksize", {"chunksize": "many"}, "whole number"),
        ("timeout", {"timeout": "0"}, "positive"),
        ("timeout", {"timeout": "-1"}, "positive"),
        ("timeout", {"timeout": "soon"}, "number of seconds"),
        ("timeout", {"timeout": "nan"}, "positive"),
        ("retries", {"retries": "-1"}, "0 or more"),
        ("retries", {"retries": "x"}, "whole number"),
        ("max_tasks_per_worker", {"max_tasks_per_worker": "0"}, "at least 1"),
    ],
)
def test_bad_job_fields_name_the_field(field, kwargs, fragment):
    with pytest.raises(SpecError) as info:
        JobSpec.create("math:sqrt", "range:3", **kwargs)
    assert info.value.field == field
    assert fragment in info.value.message


def test_builtin_defaults_fill_empty_inputs_and_kwargs():
    spec = JobSpec.create("primes")
    assert spec.inputs.total and spec.inputs.total > 0
    assert spec.kwargs
    assert spec.name == "primes"
    with pytest.raises(SpecError, match="no inputs given"):
        JobSpec.create("math:sqrt")


def test_json_safe_falls_back_to_repr():
    assert json_safe([1, 2.5, "a", None, {"k": (1, 2)}]) == [1, 2.5, "a", None, {"k": [1, 2]}]
    assert json_safe({1, 2}) == repr({1, 2})
    assert json_safe(float("inf")) == "inf"


def test_a_range_is_read_in_chunks_that_are_ranges():
    reader = parse_inputs("range:10:0:-3").open()  # 10, 7, 4, 1
    assert [reader.take(3), reader.take(3), reader.take(3)] == [range(10, 1, -3), range(1, -2, -3), range(1, 1, -3)]
    huge = parse_inputs("range:100000000").open()
    assert huge.take(20_000) == range(20_000)  # a few bytes to send, however many inputs


def test_other_inputs_are_read_in_chunks_that_are_lists():
    reader = parse_inputs('json:[1, "a", [2]]').open()
    assert [reader.take(2), reader.take(2), reader.take(2)] == [[1, "a"], [[2]], []]


@pytest.mark.parametrize(("initializer", "backend", "message"), [
    ("nosuchmodule_xyz:setup", "processes", "nosuchmodule_xyz"),
    (f"{SAMPLE_TASKS}:no_such_function", "processes", "no function 'no_such_function'"),
    (f"{SAMPLE_TASKS}:load_state", "dask", "not available on the dask backend"),
])
def test_a_bad_initializer_is_reported_on_its_own_field(initializer, backend, message):
    with pytest.raises(SpecError) as caught:
        JobSpec.create("noop", "range:3", initializer=initializer, backend=backend)
    assert caught.value.field == "initializer" and message in caught.value.message


def test_no_initializer_is_none():
    assert JobSpec.create("noop", "range:3", initializer="  ").initializer is None


def test_every_bad_field_is_named_at_once_and_each_parser_runs_once(monkeypatch):
    """The window marks every bad field from one call: JobSpec.create says all of them (as
    SpecErrors, still a SpecError naming the first), and field_errors the same without a target."""
    import poolscope.core.jobs as jobs

    calls: list[str] = []
    real = jobs.parse_optional_int

    def counting(field_name, value):
        calls.append(field_name)
        return real(field_name, value)

    monkeypatch.setattr(jobs, "parse_optional_int", counting)
    bad = dict(kwargs="[]", chunksize="0", timeout="-1", retries="r", max_tasks_per_worker="x")
    with pytest.raises(SpecErrors) as caught:
        JobSpec.create("nope:nope", "range:0", **bad)
    expected = {"target", "inputs", "kwargs", "chunksize", "timeout", "retries", "max_tasks_per_worker"}
    assert set(caught.value.errors) == expected
    assert isinstance(caught.value, SpecError) and caught.value.field == "target"
    assert sorted(calls) == ["chunksize", "max_tasks_per_worker"]  # once each
    assert set(field_errors("range:0", **bad)) == expected - {"target"}
    assert field_errors("range:3", kwargs='{"n": 1}', chunksize="2") == {}
    with pytest.raises(SpecErrors) as caught:  # a rule between two fields is named too
        JobSpec.create("noop", "range:3", backend="dask", initializer="math:sqrt")
    assert caught.value.errors == {"initializer": caught.value.message}
