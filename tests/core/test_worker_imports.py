"""What a worker process imports: it starts for every worker of every job, so it stays lean.

The worker side (core/worker.py, and what it loads to set a job up) imports neither the engine,
numpy nor psutil; nor ``traceback`` (only a failure needs it) or ``ctypes.util`` (its
``find_library`` runs ldconfig). The main module a spawned worker imports again when the
``poolscope`` command started the engine (its script imports ``poolscope.cli``) is as lean.
Each check counts only the modules the import adds to a fresh interpreter that has imported
what every spawned child imports anyway (``multiprocessing.connection``), so modules an
environment preloads (site, .pth files) do not count.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(60)

# Never on the worker side.
WORKER_FORBIDDEN = ("numpy", "psutil", "poolscope.core.engine", "poolscope.core.telemetry",
                    "poolscope.core.backends.dask", "distributed", "poolscope.gui", "PySide6",
                    "traceback", "ctypes.util")
# Nor in the main module a worker imports again: the CLI parses and prints nothing there.
CLI_FORBIDDEN = (*WORKER_FORBIDDEN, "argparse", "json", "poolscope.core.jobs")

ADDED = """
import sys
import multiprocessing.connection  # every spawned child has it: its start-up imports it
before = set(sys.modules)
import {module}
added = sorted(set(sys.modules) - before)
print(" ".join(added))
"""


def added_modules(module: str) -> set[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run([sys.executable, "-c", ADDED.format(module=module)], capture_output=True, text=True,
                            env=env, timeout=30, check=True)
    return set(result.stdout.split())


def forbidden_in(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(name for name in modules if any(name == f or name.startswith(f + ".") for f in forbidden))


def test_importing_the_worker_loop_adds_no_engine_numpy_psutil():
    added = added_modules("poolscope.core.worker")
    assert "poolscope.core.worker" in added  # it was imported here, not before
    assert forbidden_in(added, WORKER_FORBIDDEN) == []


def test_the_cli_module_a_worker_imports_as_its_main_module_is_lean():
    added = added_modules("poolscope.cli")
    assert "poolscope.cli" in added
    assert forbidden_in(added, CLI_FORBIDDEN) == []


def test_a_worker_that_ran_a_job_of_a_file_target_has_imported_none_of_them(engine, tmp_path):
    from poolscope.core.jobs import JobSpec

    probe = tmp_path / "probe.py"
    probe.write_text("import sys\n\n\ndef modules(x):\n    return sorted(sys.modules)\n")
    job = engine.submit(JobSpec.create(f"{probe}:modules", "range:2", chunksize=1))
    summary = job.wait(30)
    assert summary.status.value == "done", summary.errors
    for modules in summary.results:
        assert "poolscope.core.worker" in modules  # it is a worker's list
        assert forbidden_in(set(modules), WORKER_FORBIDDEN) == []
