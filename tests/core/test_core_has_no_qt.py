"""``poolscope.core`` (and the CLI's headless paths) must work where Qt cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

BLOCK_QT = """
import sys
class BlockQt:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'PyQt5', 'PyQt6'):
            raise ImportError(f'{name} is blocked in this test')
sys.meta_path.insert(0, BlockQt())
"""


def test_core_imports_and_runs_a_job_with_qt_blocked():
    code = BLOCK_QT + """
import pkgutil, importlib
import poolscope, poolscope.core, poolscope.cli, poolscope.tasks
for info in pkgutil.walk_packages(poolscope.core.__path__, 'poolscope.core.'):
    importlib.import_module(info.name)
from poolscope import Engine, JobSpec
if __name__ == '__main__':
    with Engine(workers=1, nice=0) as engine:
        assert engine.submit(JobSpec.create('noop', 'range:5')).wait(60).results == [0, 1, 2, 3, 4]
    assert not any(name.startswith(('PySide6', 'pyqtgraph')) for name in sys.modules)
    print('ok')
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
