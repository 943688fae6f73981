"""``poolscope.core`` and ``poolscope.monitor`` (and the CLI's headless paths) must work where Qt cannot be imported."""

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


def test_monitor_imports_and_folds_events_with_qt_blocked():
    """The reader's side (``poolscope.monitor``) is Qt-free too: another reader of the events (the
    CLI, a history store) may use it without a display."""
    code = BLOCK_QT + """
import pkgutil, importlib, time
import poolscope.monitor
names = [info.name for info in pkgutil.walk_packages(poolscope.monitor.__path__, 'poolscope.monitor.')]
assert {'poolscope.monitor.folder', 'poolscope.monitor.views', 'poolscope.monitor.log_text',
        'poolscope.monitor.worker_stats', 'poolscope.monitor.sampling'} <= set(names), names
for name in names:
    importlib.import_module(name)
from poolscope.core.events import JobSubmitted, TasksFinished, WorkerStarted
from poolscope.monitor.folder import EventFolder
from poolscope.monitor.sampling import LocalSampler
import os
folder = EventFolder()
folder.fold([JobSubmitted(1, 'noop', 'noop', 'range:0:4', 4, time.time()), TasksFinished(1, 3, 0, 0, time.time()),
             WorkerStarted(os.getpid(), 0, time.time())])
sampler = LocalSampler(0.05)
sampler.sample_into(folder)
time.sleep(0.1)
sampler.sample_into(folder)
update = folder.take_changes()
assert update.jobs[1].done == 3 and len(update.samples) == 2 and update.log, update
assert not any(name.startswith(('PySide6', 'pyqtgraph', 'shiboken6')) for name in sys.modules)
print('ok')
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
