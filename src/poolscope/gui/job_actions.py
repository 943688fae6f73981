"""What the user asks of jobs in the main window: start one (on the Dask scheduler the form names,
a local cluster started with Ctrl-C ignored), cancel or terminate (the window's own jobs, or sent
back to the attached scripts that run them), run again, clear the finished."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QMainWindow

from poolscope.core.backends import DASK, backend_info
from poolscope.core.errors import SpecError
from poolscope.core.jobs import JobSpec
from poolscope.gui.widgets.launch_panel import parse_scheduler_address
from poolscope.monitor.views import LogEntry

if TYPE_CHECKING:
    from concurrent.futures import Future

    from poolscope.core.backends.start import BackendStart
    from poolscope.gui.bridge import EventBridge
    from poolscope.gui.models import JobsModel, LogModel, WorkersModel
    from poolscope.gui.status_bar import StatusLine
    from poolscope.gui.widgets.job_table import JobTable
    from poolscope.gui.widgets.launch_panel import LaunchPanel
    from poolscope.gui.widgets.throughput_graph import ThroughputGraph

    _WindowBase = QMainWindow
else:
    _WindowBase = object

#: Seconds the window waits for a local Dask cluster to start before it takes Ctrl-C back.
DASK_START_TIMEOUT = 120.0


def full_address(address: str | None) -> str | None:
    """A scheduler address in the launch panel's full form (tcp://host:port), for comparing."""
    if not address:
        return None
    try:
        return parse_scheduler_address(address)
    except SpecError:
        return address.strip()


class JobActions(_WindowBase):
    """The main window's part that acts on jobs (mixed into MainWindow)."""

    job_submitted = Signal(object)  # Job: a job the window submitted to the engine
    # int (its worker slots) or the exception: the local Dask cluster has started, or failed to;
    # emitted from the thread that waited for it
    local_cluster_started = Signal(object)

    # What it uses of the window, made in MainWindow.__init__:
    engine: Any  # the pool
    attach_listener: Any  # scripts that report to this window (AttachListener), or None
    settings: QSettings
    jobs: dict[int, Any]  # job id -> engine Job handle
    dask_scheduler: str | None  # where the engine's Dask jobs run (full form); None: a local cluster
    launch_panel: LaunchPanel
    job_table: JobTable
    jobs_model: JobsModel
    workers_model: WorkersModel
    log_model: LogModel
    throughput_graph: ThroughputGraph
    bridge: EventBridge
    status: StatusLine
    _update_status: Callable[[], None]

    def _follow_job_actions(self) -> None:
        """Act on what the launch panel and the jobs table ask (called once, when the window is made)."""
        # The local Dask cluster's start while it holds SIGINT ignored (see submit); None: no
        # cluster is starting. Main thread only.
        self._cluster_start: BackendStart | None = None
        self._local_cluster_up = False  # the local Dask cluster started (this window's engine keeps it)
        self.launch_panel.launch_requested.connect(self._submit_from_panel)
        self.launch_panel.set_scheduler_check(self.dask_scheduler_problem)
        self.local_cluster_started.connect(self._local_cluster_ready)
        self.job_table.cancel_requested.connect(self.cancel_jobs)
        self.job_table.terminate_requested.connect(self.terminate_jobs)
        self.job_table.run_again_requested.connect(self.run_again)
        self.job_table.clear_finished_requested.connect(self.clear_finished)

    def _submit_from_panel(self, spec: JobSpec) -> None:
        """Start pressed and the form is good: submit ``spec``, a Dask job on the scheduler the
        form names (made the engine's now, not while the form was checked)."""
        if backend_info(spec.backend).takes_scheduler:
            wanted = full_address(self.launch_panel.scheduler_text())
            try:
                self.engine.set_dask_scheduler(wanted)
            except RuntimeError as exc:  # Dask started on another since the form was checked
                self._log_error(f"Could not start {spec.describe()}: {exc}")
                return
            if wanted != self.dask_scheduler:
                self.dask_scheduler = wanted
                self._update_status()  # the status bar names where Dask jobs run
        self.submit(spec)

    def submit(self, spec: JobSpec) -> Any:
        """Start ``spec`` on the engine; its row appears when the engine reports it. Returns the
        engine's Job, or None (and a log line) if the engine refused it. A Dask job runs where the
        engine's Dask runs (see :meth:`dask_scheduler_problem`).

        The first Dask job on a local cluster starts the cluster (in the engine's thread). Like
        ``poolscope run``, the window ignores Ctrl-C meanwhile (a :class:`BackendStart`), so that
        the cluster's worker processes start with it ignored; it does not block its own thread for
        that: ``local_cluster_started`` says when the start is over, and Ctrl-C is the window's again.
        """
        starts_cluster = (spec.backend == DASK and not self._local_cluster_up and self._cluster_start is None
                          and self.engine.dask_scheduler is None)
        try:
            if starts_cluster:
                self._start_local_cluster()
            job = self.engine.submit(spec)
        except Exception as exc:  # noqa: BLE001 - e.g. the pool is shutting down: say so, do not crash
            if starts_cluster:
                self._take_sigint_back()
            self._log_error(f"Could not start {spec.describe()}: {type(exc).__name__}: {exc}")
            return None
        self.jobs[job.id] = job
        self.launch_panel.save_settings(self.settings)
        self.job_submitted.emit(job)
        return job

    def _log_error(self, message: str) -> None:
        self.log_model.append([LogEntry(time=time.time(), level="error", message=message)])

    def _start_local_cluster(self) -> None:
        """Start the local Dask cluster with Ctrl-C ignored; ``local_cluster_started`` tells the
        window (from the helper thread that waited) when the start is over."""
        from poolscope.core.backends.start import BackendStart  # only a window that starts a cluster needs it

        self.status.say("Starting a local Dask cluster (Ctrl-C in the terminal waits until it has started) ...")
        self._cluster_start = start = BackendStart(self.engine, DASK, timeout=DASK_START_TIMEOUT)
        started = self.local_cluster_started

        def tell(slots: Future[int]) -> None:
            exc = slots.exception()
            try:
                started.emit(slots.result() if exc is None else exc)
            except RuntimeError:  # the window is gone; so is the handler it would restore
                pass

        start.slots.add_done_callback(tell)

    def _local_cluster_ready(self, result: Any) -> None:
        if self._cluster_start is None:
            return  # the window shut down meanwhile
        self._take_sigint_back()
        if isinstance(result, BaseException):
            self.status.clear()  # the job's row and the log say why
            return
        self._local_cluster_up = True
        self.status.say(f"The local Dask cluster is ready: {result} worker threads")

    def _take_sigint_back(self) -> None:
        """Ctrl-C is the window's again (a local cluster's start is over, or no longer waited for)."""
        start, self._cluster_start = self._cluster_start, None
        if start is not None:
            start.finish()

    def dask_scheduler_problem(self, address: str | None) -> str | None:
        """Why this window's engine cannot run Dask jobs on ``address`` (None: a local cluster),
        or None when it can. A question only: the scheduler is set when the job is submitted.

        Called when Start is pressed for a Dask job. Any address will do until Dask has started;
        after that only the one it runs on.
        """
        wanted = full_address(address)
        if self.engine.can_use_dask_scheduler(wanted):
            return None
        configured = full_address(self.engine.dask_scheduler)
        where = "a local cluster" if configured is None else f"the scheduler at {configured}"
        target = "a local cluster" if wanted is None else wanted
        command = "poolscope gui --backend dask" + (f" --scheduler {wanted}" if wanted else "")
        return (f"this window already runs Dask jobs on {where}; to use {target}, "
                f"start a new window: {command}")

    def cancel_jobs(self, job_ids: list[int]) -> None:
        for job_id in self._send_to_scripts("cancel", job_ids):
            self.engine.cancel(job_id)

    def terminate_jobs(self, job_ids: list[int]) -> None:
        for job_id in self._send_to_scripts("terminate", job_ids):
            self.engine.terminate(job_id)

    def _send_to_scripts(self, action: str, job_ids: list[int]) -> list[int]:
        """Send ``action`` of the attached scripts' jobs among ``job_ids`` back to their scripts
        (by the scripts' own ids); returns the window's own jobs, for its engine."""
        own = []
        for job_id in job_ids:
            view = self.jobs_model.view_of(job_id)
            if view is None or view.source_key is None:
                own.append(job_id)
            elif self.attach_listener is not None and view.source_job_id is not None \
                    and not self.attach_listener.command(view.source_key, action, view.source_job_id):
                self.status.say(f"{view.source} is gone: its job {view.shown_id} cannot be told to {action}")
        return own

    def run_again(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            job = self.jobs.get(job_id)
            if job is not None:
                self.submit(job.spec)

    def clear_finished(self) -> None:
        removed = self.jobs_model.remove_finished()
        for job_id in removed:
            self.jobs.pop(job_id, None)
            if job_id > 0:  # the window's own (an attached script's are negative: not this engine's)
                self.engine.forget(job_id)  # its results and errors: the window no longer offers them
            self.bridge.forget_job(job_id)
            self.throughput_graph.forget_job(job_id)
        self.workers_model.forget_job_names(removed)

    def select_job(self, job_id: int) -> None:
        self.job_table.select_jobs([job_id])
