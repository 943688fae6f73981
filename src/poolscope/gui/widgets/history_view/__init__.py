"""The History view: past jobs from the job history (core/history/), and what can be done with one.

A table of past jobs (state, duration, throughput, failures) sorted by any column and filtered by
state, target and text; the selected job's settings, its failures grouped by exception type with
a count, and its throughput curve. Its results are saved as JSON Lines or CSV in a thread, those
of the user's classes made JSON-ready in a child process (core/results.py ``JsonReadyBlocks``),
never in this one; its timeline as Chrome trace JSON. "Run again" and "Edit in launch panel" hand
its settings (a JobSpec) to the window, which puts them in the launch panel (which checks a
target of the user's code in a child process before it starts).

The view reads the database on the main thread (one indexed query, the newest ``SHOWN_JOBS``);
it refreshes once a burst of jobs' ends is recorded (``job_recorded``, emitted by the recorder's
thread) while it is shown, else when it is next shown. Nothing runs on a timer at rest.

Its parts: ``model.py`` (the table's rows and its filter), ``details.py`` (the selected job's
settings, failures and curve), ``view.py`` (the view itself, and its actions on the selected job).
"""

from __future__ import annotations

from poolscope.gui.widgets.history_view.model import HistoryModel
from poolscope.gui.widgets.history_view.view import RUN_AGAIN_BY_SCRIPT_TIP, RUN_AGAIN_TIP, HistoryView

__all__ = ["RUN_AGAIN_BY_SCRIPT_TIP", "RUN_AGAIN_TIP", "HistoryModel", "HistoryView"]
