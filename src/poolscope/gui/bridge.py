"""The bridge from the engine's event queue to the GUI thread: a QThread that drains the queue,
folds what it read into an :class:`~poolscope.monitor.folder.EventFolder` (with the monitor's own
samples and a poller's readings of remote workers), and hands what changed to the GUI thread at
most once a frame. Its place in the whole: DESIGN.md, Data flow.

The GUI thread never waits on the queue and never sees one signal per event: however fast
events arrive, at most one ``updates_ready`` is queued to it at a time (a second when a job's
submission, start or end joins an update that did not carry one: the window takes such an
update at once), and an update not yet taken absorbs later changes. Counts are folded from
incremental events, so the counts the window shows equal the engine's once the queue is drained.

``backend_workers()`` may talk to a Dask scheduler over the network, so neither the GUI thread
nor the bridge thread calls it: a poller thread of the bridge does, and a slow or unreachable
scheduler delays only the cluster's rows, never the jobs' progress.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QThread, Signal

from poolscope.monitor.folder import EventFolder
from poolscope.monitor.sampling import TELEMETRY_INTERVAL, LocalSampler
from poolscope.monitor.views import BridgeUpdate
from poolscope.monitor.worker_stats import WorkerStats, cluster_stats

__all__ = ["FRAME_INTERVAL", "STOP_BRIDGE", "EventBridge"]


@dataclass(frozen=True)
class _StopBridge:
    """The type of :data:`STOP_BRIDGE`; compared by type, so it survives a trip through a pickle."""


#: Put on the event queue (by :meth:`EventBridge.stop`) to end the bridge after what came before it.
STOP_BRIDGE = _StopBridge()

#: How often the bridge may hand an update to the GUI thread (seconds): about a display frame rate.
FRAME_INTERVAL = 1 / 30
#: How often the poller asks the engine what its remote backends' workers do (seconds): 2 Hz.
BACKEND_POLL_INTERVAL = 0.5


class EventSource(Protocol):
    """What the bridge reads: a ``multiprocessing.Queue`` or a ``queue.Queue`` of event lists."""

    def get(self, block: bool = True, timeout: float | None = None) -> Any: ...

    def get_nowait(self) -> Any: ...

    def put(self, item: Any) -> None: ...


class EventBridge(QThread):
    """Reads the engine's event queue in its own thread and hands coalesced updates to the GUI.

    Connect ``updates_ready`` and call :meth:`take_update` in the slot. Stop with :meth:`stop`
    (puts :data:`STOP_BRIDGE` on the queue, so every event before it is still folded) then
    ``wait()``.

    ``backend_workers`` (the engine's method of that name), when given, is called by a poller
    thread every ``backend_interval`` seconds; each reading becomes the Dask workers' rows and a
    :class:`ClusterSample`. :meth:`stop_polling` ends the poller (before the engine shuts down).
    """

    updates_ready = Signal()  # no payload: an update is waiting; take it with take_update()
    stopped = Signal()  # the bridge thread has ended (its last update is waiting)

    def __init__(self, source: EventSource, *, frame_interval: float = FRAME_INTERVAL,
                 telemetry_interval: float | None = TELEMETRY_INTERVAL,
                 backend_workers: Callable[[], dict[str, list[dict[str, Any]]]] | None = None,
                 backend_interval: float = BACKEND_POLL_INTERVAL, attached: queue.Queue[Any] | None = None,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("poolscope-event-bridge")
        self._source = source  # the engine's event queue: lists of events, written by the engine thread
        self._frame_interval = frame_interval
        self._telemetry_interval = telemetry_interval  # None: no psutil sampling (tests of the folding)
        self._folder = EventFolder()  # touched only by the bridge thread
        self._sampler: LocalSampler | None = None  # made in the bridge thread
        self._lock = threading.Lock()  # guards _pending, _forget, _polled
        self._pending: BridgeUpdate | None = None  # the update handed over and not yet taken
        self._forget: list[int] = []  # job ids the GUI cleared, for the bridge thread to drop
        # What scripts attached to the window send (core/attach/listener.py AttachListener.incoming),
        # written by the listener's threads; drained by the bridge thread every turn of its loop.
        self._attached = attached
        self._stop_requested = threading.Event()  # set by stop(), in case the sentinel cannot be queued
        self.signals_emitted = 0  # updates_ready emissions so far (statistics, tests)
        # -- the backend poller ---------------------------------------------------------------
        self._backend_workers = backend_workers  # engine.backend_workers: may call a Dask scheduler
        self._backend_interval = backend_interval
        self._polled: tuple[float, list[WorkerStats]] | None = None  # latest reading of the cluster's
        # workers, written by the poller thread, taken by the bridge thread
        self._poll_stop = threading.Event()  # set by stop_polling() / stop()
        self._poller: threading.Thread | None = None

    # -- GUI thread side -------------------------------------------------------------------

    def take_update(self) -> BridgeUpdate | None:
        """The waiting update, if any (GUI thread). The bridge hands over the next one after this."""
        with self._lock:
            update, self._pending = self._pending, None
        return update

    def update_is_urgent(self) -> bool:
        """Whether the waiting update is urgent (BridgeUpdate.urgent), any thread."""
        with self._lock:
            return self._pending is not None and self._pending.urgent

    def forget_job(self, job_id: int) -> None:
        """Tell the bridge a finished job was cleared from the window, so it stops keeping it."""
        with self._lock:
            self._forget.append(job_id)

    def stop_polling(self, timeout: float = 2.0) -> None:
        """End the backend poller (any thread): call before the engine shuts its backends down."""
        self._poll_stop.set()
        poller = self._poller
        if poller is not None and poller is not threading.current_thread():
            poller.join(timeout)

    def stop(self, timeout: float = 5.0) -> bool:
        """Fold what is queued, then end the thread; returns whether it ended within ``timeout``."""
        self.stop_polling()
        self._stop_requested.set()
        try:
            self._source.put(STOP_BRIDGE)
        except (ValueError, OSError, AssertionError):
            pass  # the queue is closed: the stop flag ends the loop within a frame
        return self.wait(int(timeout * 1000)) if self.isRunning() else True

    # -- bridge thread side ----------------------------------------------------------------

    def run(self) -> None:
        folder = self._folder
        sampler = self._sampler = LocalSampler(self._telemetry_interval) if self._telemetry_interval is not None \
            else None
        if self._backend_workers is not None and not self._poll_stop.is_set():
            poller = threading.Thread(target=self._poll_backends, name="poolscope-backend-poller", daemon=True)
            poller.start()
            self._poller = poller  # only once started: stop_polling() may join it from another thread
        now = time.monotonic()
        next_handover = now
        next_sample = now + (self._telemetry_interval or 0.0)
        stopping = False
        while not stopping:
            now = time.monotonic()
            deadline = next_sample if sampler is not None else now + 0.1
            if folder.has_changes:
                deadline = min(deadline, next_handover)
            try:
                item = self._source.get(timeout=max(0.0, min(deadline - now, 0.1)))
            except queue.Empty:
                item = None
            except (EOFError, OSError, ValueError):
                break  # the queue was closed under us
            if item is not None:
                stopping = self._fold_available(item, budget_end=time.monotonic() + self._frame_interval)
            if self._stop_requested.is_set() and not stopping:
                stopping = self._drain_after_stop()
            now = time.monotonic()
            if sampler is not None and now >= next_sample and not stopping:
                sampler.sample_into(folder)
                next_sample = now + sampler.next_interval(folder)
            elif sampler is not None and next_sample - now > sampler.interval:
                next_sample = min(next_sample, now + sampler.next_interval(folder))  # a job started: sample at its rate
            self._apply_forget(folder)
            self._fold_polled(folder)
            self._fold_attached(folder)
            if folder.has_changes and (now >= next_handover or stopping):
                self._hand_over(folder, final=stopping)
                # Advanced even when the GUI had not taken the last update: otherwise the
                # deadline stays in the past and the loop spins on get(timeout=0) while it is busy.
                next_handover = now + self._frame_interval
        self.stop_polling()
        self._fold_attached(folder)
        self._hand_over(folder, final=True)
        self.stopped.emit()

    def _fold_available(self, item: Any, *, budget_end: float) -> bool:
        """Fold ``item`` and whatever else is queued, for at most about one frame; True on STOP."""
        folder = self._folder
        while True:
            if isinstance(item, _StopBridge):
                return True
            folder.fold(item)
            if time.monotonic() >= budget_end:
                return False
            try:
                item = self._source.get_nowait()
            except queue.Empty:
                return False
            except (EOFError, OSError, ValueError):
                return True

    def _drain_after_stop(self) -> bool:
        """After stop(): fold what is still queued (up to STOP_BRIDGE); True once there is no more."""
        while True:
            try:
                item = self._source.get_nowait()
            except (queue.Empty, EOFError, OSError, ValueError):
                return True
            if isinstance(item, _StopBridge):
                return True
            self._folder.fold(item)

    def _poll_backends(self) -> None:
        """The poller thread: ask the engine about its remote backends' workers, keep the latest."""
        assert self._backend_workers is not None
        while not self._poll_stop.is_set():
            try:
                stats: list[WorkerStats] | None = cluster_stats(self._backend_workers())
            except Exception:  # noqa: BLE001 - a scheduler gone away: the rows stay as they were
                stats = None
            if stats is not None and not self._poll_stop.is_set():
                with self._lock:
                    self._polled = (time.monotonic(), stats)
            self._poll_stop.wait(self._backend_interval)

    def _fold_attached(self, folder: EventFolder) -> None:
        """Fold what attached scripts sent since the last turn (their batches come at most every
        0.1 s, as the window's own engine's do)."""
        if self._attached is None:
            return
        while True:
            try:
                item = self._attached.get_nowait()
            except queue.Empty:
                return
            folder.fold_attached(item)

    def _fold_polled(self, folder: EventFolder) -> None:
        with self._lock:
            polled, self._polled = self._polled, None
        if polled is not None:
            folder.fold_cluster(polled[1], polled[0])

    def _apply_forget(self, folder: EventFolder) -> None:
        with self._lock:
            forget, self._forget = self._forget, []
        for job_id in forget:
            folder.forget_job(job_id)

    def _hand_over(self, folder: EventFolder, *, final: bool) -> None:
        """Hand the changes to the GUI unless it has not taken the previous ones yet: then merge
        into those when ``final``, or when the changes are urgent (and signal again if those were
        not). Emits at most one signal."""
        with self._lock:
            if self._pending is not None:
                if not (final or folder.urgent):
                    return  # the GUI has not taken it yet: keep accumulating and hand over later
                # a job submitted, started or ended: into the waiting update, and say so again
                # (the GUI takes an urgent update at once, see main_window)
                signalled = self._pending.urgent
                _merge_into(self._pending, folder.take_changes())
                if final or signalled:
                    return  # the GUI takes it (at once, if it was urgent) or the bridge ends
            elif not folder.has_changes:
                return
            else:
                self._pending = folder.take_changes()
        self.signals_emitted += 1
        self.updates_ready.emit()


def _merge_into(target: BridgeUpdate, later: BridgeUpdate) -> None:
    target.jobs.update(later.jobs)
    target.workers.update(later.workers)
    target.log.extend(later.log)
    target.notices.extend(later.notices)
    target.samples.extend(later.samples)
    target.cluster.extend(later.cluster)
    target.events += later.events
    target.as_of = later.as_of
    target.urgent = target.urgent or later.urgent
