"""Start the window: ``run_gui()`` makes the QApplication, the pool and the window, and runs."""

from __future__ import annotations

import signal
import sys
from typing import Any, cast

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from poolscope.core.backends import DASK, THREADS
from poolscope.core.jobs import JobSpec
from poolscope.desktop import APP_ID, icon_path
from poolscope.gui.colours import follow_colour_scheme

__all__ = ["APPLICATION", "ORGANIZATION", "application_icon", "run_gui"]

#: The names QSettings files are kept under.
ORGANIZATION = "poolscope"
APPLICATION = "poolscope"


def run_gui(spec: JobSpec | None = None, **engine_options: Any) -> int:
    """Open the window on an :class:`Engine` made with ``engine_options`` (its keyword arguments, as
    the CLI's ``engine_options()`` gives them: ``workers``, ``nice`` (default 10), ``threads``,
    ``dask_scheduler``, ``dask_workers``); start ``spec`` if given; return the application's exit
    code once the window is closed.

    The launch panel starts on the backend these are for: ``spec``'s, else Dask when
    ``dask_workers`` or a ``dask_scheduler`` is given, threads when ``threads`` is (otherwise the
    last one used). A ``dask_scheduler`` fills the panel's scheduler field: it is the one address
    this window's Dask jobs can use.
    """
    import pyqtgraph as pg

    from poolscope.core.engine import Engine
    from poolscope.gui.main_window import QUIT_CANCEL, MainWindow

    options = {"nice": 10, **engine_options}
    options.pop("events", None)  # the window always reads events
    nice = options["nice"]
    backend = _backend_of(spec, options)

    app = cast(QApplication, QApplication.instance() or QApplication(sys.argv[:1]))
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("poolscope")
    app.setDesktopFileName(APP_ID)  # the entry `poolscope install-desktop` installs: its icon and name
    app.setWindowIcon(application_icon())
    follow_colour_scheme(app)
    pg.setConfigOptions(antialias=False, useOpenGL=False)

    engine = Engine(events=True, **options)
    window = None
    listener = _listen_for_scripts()
    try:
        window = MainWindow(engine, settings=QSettings(ORGANIZATION, APPLICATION), nice=nice,
                            dask_scheduler=options.get("dask_scheduler"), attach_listener=listener)
        if spec is not None:
            window.launch_panel.show_spec(spec)  # the form shows the job it started, ready to change
        if backend is not None:
            window.launch_panel.set_backend(backend)
        window.show()
        # Ctrl-C in the terminal closes the window (cancelling its jobs) instead of being
        # swallowed by Qt's event loop; the timer lets Python run its signal handlers. Set before
        # the first job: one that starts a local Dask cluster ignores Ctrl-C until it has started.
        previous = signal.signal(signal.SIGINT, lambda *_: window.quit_now(QUIT_CANCEL))
        wake = QTimer()
        wake.timeout.connect(lambda: None)
        wake.start(250)
        try:
            if spec is not None:
                window.submit(spec)
            return int(app.exec())
        finally:
            wake.stop()
            signal.signal(signal.SIGINT, previous)
    finally:
        if window is not None:
            window.shutdown()
        else:
            engine.shutdown(terminate=True, timeout=10)
            if listener is not None:
                listener.stop()


def _listen_for_scripts() -> Any:
    """Start taking the reports of scripts' pools (core/attach/), or None: another window of
    this user already takes them, or the runtime directory is not this user's alone (said)."""
    from poolscope.core.attach import AttachListener

    listener = AttachListener()
    try:
        return listener if listener.start() else None
    except OSError as exc:
        sys.stderr.write(f"poolscope: scripts cannot report to this window: {exc}\n")
        return None


def application_icon() -> QIcon:
    """The application's icon (the package's SVG, drawn at any size); an empty icon if it is missing."""
    global _ICON
    if _ICON is None:
        try:
            _ICON = QIcon(str(icon_path()))
        except FileNotFoundError:
            _ICON = QIcon()
    return _ICON


_ICON: QIcon | None = None  # application_icon(), made once; GUI thread


def _backend_of(spec: JobSpec | None, options: dict[str, Any]) -> str | None:
    """The backend the launch panel starts on (see run_gui), or None: the one last used."""
    if spec is not None:
        return spec.backend
    if options.get("dask_scheduler") or "dask_workers" in options:
        return DASK
    if "threads" in options:
        return THREADS
    return None
