"""The one error type for bad job fields, shared by every part of the core."""

from __future__ import annotations


class SpecError(ValueError):
    """A job field with a bad value. ``field`` names it (``target``, ``inputs``, ``kwargs`` ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
