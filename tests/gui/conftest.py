"""GUI test fixtures: offscreen Qt, settings in a temporary file, windows on a small real pool
or on a fake engine (no processes) for the tests that only need the form."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# QSettings made without a path (the app's default) must never touch the user's real config.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="poolscope-test-config-")
atexit.register(shutil.rmtree, os.environ["XDG_CONFIG_HOME"], True)
# A window run_gui opens listens for scripts (core/attach/): never in the user's runtime directory.
_RUNTIME = tempfile.mkdtemp(prefix="poolscope-test-run-")
os.environ["POOLSCOPE_RUNTIME_DIR"] = os.path.join(_RUNTIME, "poolscope")
atexit.register(shutil.rmtree, _RUNTIME, True)

# Imported only now: Qt reads QT_QPA_PLATFORM and XDG_CONFIG_HOME when it is first imported.
import itertools  # noqa: E402
import queue  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from poolscope.core.jobs import JobSpec, JobState  # noqa: E402
from tests.conftest import live_children  # noqa: E402

QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, os.environ["XDG_CONFIG_HOME"])


@pytest.fixture
def settings(tmp_path: Any) -> QSettings:
    return QSettings(str(tmp_path / "poolscope.ini"), QSettings.Format.IniFormat)


@dataclass
class FakeJob:
    id: int
    spec: JobSpec
    state: JobState = JobState.RUNNING

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class FakeEngine:
    """Stands in for Engine where no process is wanted: records what the window asks of it."""

    workers: int = 2
    events: Any = field(default_factory=queue.Queue)  # what the window's bridge reads
    submitted: list[JobSpec] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    terminated: list[int] = field(default_factory=list)
    shutdowns: list[dict[str, Any]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def submit(self, spec: JobSpec) -> FakeJob:
        self.submitted.append(spec)
        return FakeJob(next(self._ids), spec)

    def cancel(self, job: Any) -> None:
        self.cancelled.append(int(job))

    def terminate(self, job: Any) -> None:
        self.terminated.append(int(job))

    forgotten: list[int] = field(default_factory=list)

    def forget(self, job: Any) -> None:
        self.forgotten.append(int(job))

    dask_scheduler: str | None = None  # as Engine: the address Dask jobs use
    dask_started: bool = False  # as Engine: once Dask has started, its address is fixed

    def can_use_dask_scheduler(self, address: str | None) -> bool:
        return not self.dask_started or address == self.dask_scheduler

    def set_dask_scheduler(self, address: str | None) -> None:
        if not self.can_use_dask_scheduler(address):
            raise RuntimeError(f"Dask already runs on {self.dask_scheduler or 'a local cluster'}")
        self.dask_scheduler = address

    started_backends: list[str] = field(default_factory=list)  # start_backend() calls, in order
    on_start_backend: Any = None  # called (with the name) as start_backend() begins, in the caller's thread

    def start_backend(self, name: str, *, scheduler: str | None = None, timeout: float | None = None) -> int:
        self.started_backends.append(name)
        if self.on_start_backend is not None:
            self.on_start_backend(name)
        if name == "dask":
            self.dask_started = True
        return 2

    def worker_pids(self) -> list[int]:
        return []

    def backend_workers(self) -> dict[str, list[dict[str, Any]]]:
        return {}

    def shutdown(self, **kwargs: Any) -> None:
        self.shutdowns.append(kwargs)


@pytest.fixture
def fake_window(qtbot: Any, settings: QSettings) -> Any:
    from poolscope.gui.main_window import QUIT_TERMINATE, MainWindow

    window = MainWindow(FakeEngine(), settings=settings)
    yield window
    close(window, QUIT_TERMINATE)


@pytest.fixture
def window(qtbot: Any, settings: QSettings) -> Any:
    """A shown window on a real pool of two workers; shut down (terminating) after the test."""
    from poolscope.core.engine import Engine
    from poolscope.gui.main_window import QUIT_TERMINATE, MainWindow

    engine = Engine(workers=2, nice=10, events=True)
    window = MainWindow(engine, settings=settings, nice=10)
    window.show()
    yield window
    close(window, QUIT_TERMINATE)


def close(window: Any, mode: str) -> None:
    """Shut the window down without its quit question (qtbot.addWidget would close it and ask)."""
    window.shutdown(mode)
    assert not window.bridge.isRunning()
    window.close()
    window.deleteLater()


def assert_no_children() -> None:
    left = live_children()
    assert not left, f"child processes left: {[(c.pid, c.cmdline()) for c in left]}"
