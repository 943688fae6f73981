"""The error types for bad job fields, shared by every part of the core."""

from __future__ import annotations


class SpecError(ValueError):
    """A job field with a bad value. ``field`` names it (``target``, ``inputs``, ``kwargs`` ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SpecErrors(SpecError):
    """Several bad fields at once (field -> message, in the form's order). As a SpecError it is
    the first of them, so code that reports one field still can."""

    def __init__(self, errors: dict[str, str]) -> None:
        if not errors:
            raise ValueError("SpecErrors needs at least one field's error")
        field, message = next(iter(errors.items()))
        super().__init__(field, message)
        self.errors = dict(errors)
