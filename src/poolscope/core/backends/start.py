"""Starting a backend ahead of its jobs with Ctrl-C ignored meanwhile: one sequence for
``poolscope run`` and the window (why Ctrl-C is ignored: :func:`poolscope.core.processes.ignore_sigint`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

from poolscope.core.processes import ignore_sigint


class BackendStarter(Protocol):
    """What starts a backend: the Engine (``Engine.start_backend``)."""

    def start_backend(self, name: str, *, timeout: float | None = None) -> int: ...


class BackendStart:
    """A backend being started, with SIGINT ignored in this process until :meth:`finish`.

    Made on the main thread: it ignores SIGINT there, then a helper thread asks the engine to
    start the backend, which the engine does on its own thread (before or with the job that
    needs it, whichever comes first), so the processes the backend starts inherit the ignoring.
    :attr:`slots` settles with the backend's worker slots or what starting it raised. Whoever
    made it calls :meth:`finish` on the main thread once it has settled (or it is no longer
    waited for): ``poolscope run`` waits on :attr:`slots`; the window is told of it by a signal
    and so never blocks its thread.
    """

    def __init__(self, engine: BackendStarter, name: str, *, timeout: float | None = None) -> None:
        self.name = name
        # The backend's number of worker slots, or the exception starting it raised (a timeout
        # included); set once, by the helper thread.
        self.slots: Future[int] = Future()
        # Puts SIGINT's handler back; None once finish() has run. Main thread only.
        self._restore_sigint: Callable[[], None] | None = ignore_sigint()
        self._thread = threading.Thread(target=self._start, args=(engine, timeout),
                                        name=f"poolscope-{name}-start", daemon=True)
        self._thread.start()

    def _start(self, engine: BackendStarter, timeout: float | None) -> None:
        """The helper thread: start the backend and settle :attr:`slots`."""
        try:
            self.slots.set_result(engine.start_backend(self.name, timeout=timeout))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on slots
            self.slots.set_exception(exc)

    @property
    def finished(self) -> bool:
        """Whether :meth:`finish` has run: Ctrl-C is this process's own again."""
        return self._restore_sigint is None

    def finish(self) -> None:
        """Give SIGINT back (on the main thread; again, or from another thread, it does nothing)."""
        if threading.current_thread() is not threading.main_thread():
            return
        restore, self._restore_sigint = self._restore_sigint, None
        if restore is not None:
            restore()
