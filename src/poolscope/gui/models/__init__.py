"""Table models for the window: jobs, workers and log entries, fed by :class:`BridgeUpdate` s.

The models hold the views the bridge computed and only render them; they decide nothing.
The jobs table's progress column is a bar of done, failed and cancelled tasks drawn by
:class:`ProgressDelegate`.

Its parts: ``base.py`` (the item roles, the one-view-a-row table, how numbers read in a cell),
``jobs.py`` (JobsModel), ``progress.py`` (ProgressDelegate), ``workers.py`` (WorkersModel),
``log.py`` (LogModel).
"""

from __future__ import annotations

from poolscope.gui.models.base import (
    JOB_ID_ROLE,
    PROGRESS_ROLE,
    SEGMENTS_ROLE,
    format_bytes,
    format_duration,
    format_rate,
)
from poolscope.gui.models.jobs import BACKEND_DESCRIPTIONS, JobsModel, outcome_text
from poolscope.gui.models.log import LogModel
from poolscope.gui.models.progress import SEGMENT_COLOURS, ProgressDelegate
from poolscope.gui.models.workers import WorkersModel

__all__ = [
    "BACKEND_DESCRIPTIONS",
    "JOB_ID_ROLE",
    "PROGRESS_ROLE",
    "SEGMENTS_ROLE",
    "SEGMENT_COLOURS",
    "JobsModel",
    "LogModel",
    "ProgressDelegate",
    "WorkersModel",
    "format_bytes",
    "format_duration",
    "format_rate",
    "outcome_text",
]
