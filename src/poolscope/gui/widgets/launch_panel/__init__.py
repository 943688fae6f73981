"""The launch panel: what to run, over which inputs, with which settings; and a Start button.

Every field is checked with the core's own parsers (the ones the CLI uses) when Start is
pressed; each bad field gets the core's message right under it and no job is created. A good
form emits ``launch_requested`` with a validated :class:`JobSpec`.

A target of the user's own code (and an initializer) is never imported here: it is checked in a
child process with a time limit (core/target_check.py), polled from a timer, as it is typed and
again on Start if its files changed since; the line under the target says a check is under way,
then its verdict. Start waits for that verdict and then starts the job. A newer check kills the
one it supersedes; closing the window kills any still running.

A target of one's own starts from neutral settings, or from the ones last started with it; it
never inherits a built-in's inputs and keyword arguments.

A Python file dropped anywhere on the panel is chosen as "File…" chooses one: its functions are
listed and the first is picked (:class:`PythonFileDrops`).

Where a job runs is part of the form: local processes (default), threads, or a Dask cluster at
a scheduler address (empty: a local cluster). The window decides whether an address can be used
by its engine (:meth:`LaunchPanel.set_scheduler_check`); the panel shows its answer inline.

Its parts: ``panel.py`` (the form as a whole, and Start), ``fields.py`` (the fields declared
once, and the mark under each), ``task_box.py``, ``inputs_box.py``, ``backend_box.py`` (a box of
the form each), ``checks.py`` (user code checked in child processes), ``saved_settings.py`` (saved,
restored and remembered per own target), ``file_drop.py`` (a dropped Python file).
"""

from __future__ import annotations

from poolscope.core.backends.address import parse_scheduler_address  # the form's check, also the window's
from poolscope.gui.widgets.launch_panel.backend_box import BACKEND_CHOICES
from poolscope.gui.widgets.launch_panel.fields import FIELDS, SETTING_ROWS
from poolscope.gui.widgets.launch_panel.file_drop import PythonFileDrops, dropped_python_file
from poolscope.gui.widgets.launch_panel.panel import LaunchPanel
from poolscope.gui.widgets.launch_panel.task_box import functions_in_file

__all__ = ["BACKEND_CHOICES", "FIELDS", "SETTING_ROWS", "LaunchPanel", "PythonFileDrops", "dropped_python_file",
           "functions_in_file", "parse_scheduler_address"]
