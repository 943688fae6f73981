"""Fixtures for the channel between a script's engine and a window: a private runtime directory
per test (never the user's own), and a listener on it, stopped after the test."""

from __future__ import annotations

from typing import Any

import pytest

from poolscope.core.attach import RUNTIME_DIR_ENV, AttachListener


@pytest.fixture
def runtime(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The socket's directory for this test (report_to_window finds it through the environment)."""
    directory = str(tmp_path / "run" / "poolscope")
    (tmp_path / "run").mkdir()
    monkeypatch.setenv(RUNTIME_DIR_ENV, directory)
    return directory


@pytest.fixture
def listener(runtime: str) -> Any:
    listening = AttachListener(runtime)
    assert listening.start()
    yield listening
    listening.stop()
