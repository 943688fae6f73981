"""Each job field parsed and checked on its own: text or a Python value into the field's type,
or a :class:`SpecError` naming the field. Shared by JobSpec (core/jobs.py), the CLI and the
launch panel.
"""

from __future__ import annotations

import json
import math
from typing import Any

from poolscope.core.errors import SpecError


def parse_kwargs(text: str) -> dict[str, Any]:
    text = text.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError("kwargs", f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(value, dict):
        raise SpecError("kwargs", f"must be a JSON object like {{\"size\": 1000}}, not {type(value).__name__}")
    return value


def parse_int(field_name: str, value: int | str) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise SpecError(field_name, f"must be a whole number, not {value!r}") from None
    check_non_negative_int(field_name, value)
    return value


def parse_optional_int(field_name: str, value: int | str | None) -> int | None:
    if value is None or isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise SpecError(field_name, f"must be a whole number, not {value!r}") from None
    check_positive_int(field_name, value)
    return value


def parse_optional_number(field_name: str, value: float | str | None) -> float | None:
    if value is None or isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise SpecError(field_name, f"must be a number of seconds, not {value!r}") from None
    check_positive_number(field_name, value)
    return float(value)


def check_backend(value: object) -> None:
    from poolscope.core.backends import BACKENDS, REGISTRY

    if not isinstance(value, str) or value not in REGISTRY:
        raise SpecError("backend", f"must be one of {', '.join(BACKENDS)}, not {value!r}")
    if not REGISTRY[value].available():
        raise SpecError("backend", REGISTRY[value].install_hint)


def check_positive_int(field_name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(field_name, f"must be a whole number, not {value!r}")
    if value <= 0:
        raise SpecError(field_name, f"must be at least 1, not {value}")


def check_non_negative_int(field_name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(field_name, f"must be a whole number, not {value!r}")
    if value < 0:
        raise SpecError(field_name, f"must be 0 or more, not {value}")


def check_positive_number(field_name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(field_name, f"must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise SpecError(field_name, f"must be a positive number of seconds, not {value}")
