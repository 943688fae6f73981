"""Start the window: ``run_gui()`` makes the QApplication, the pool and the window, and runs."""

from __future__ import annotations

import signal
import sys

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from poolscope.core.jobs import JobSpec

__all__ = ["APPLICATION", "ORGANIZATION", "run_gui"]

#: The names QSettings files are kept under.
ORGANIZATION = "poolscope"
APPLICATION = "poolscope"


def run_gui(spec: JobSpec | None = None, workers: int | None = None, nice: int = 10) -> int:
    """Open the window on a local pool of ``workers`` processes at ``nice``; start ``spec`` if
    given; return the application's exit code once the window is closed."""
    import pyqtgraph as pg

    from poolscope.core.engine import Engine
    from poolscope.gui.main_window import QUIT_CANCEL, MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("poolscope")
    pg.setConfigOptions(antialias=False, useOpenGL=False)

    engine = Engine(workers, nice=nice, events=True)
    window = None
    try:
        window = MainWindow(engine, settings=QSettings(ORGANIZATION, APPLICATION), nice=nice)
        window.show()
        if spec is not None:
            window.submit(spec)
        # Ctrl-C in the terminal closes the window (cancelling its jobs) instead of being
        # swallowed by Qt's event loop; the timer lets Python run its signal handlers.
        previous = signal.signal(signal.SIGINT, lambda *_: window.quit_now(QUIT_CANCEL))
        wake = QTimer()
        wake.timeout.connect(lambda: None)
        wake.start(250)
        try:
            return int(app.exec())
        finally:
            wake.stop()
            signal.signal(signal.SIGINT, previous)
    finally:
        if window is not None:
            window.shutdown()
        else:
            engine.shutdown(terminate=True, timeout=10)
