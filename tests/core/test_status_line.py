"""The progress line of poolscope run and poolscope watch --headless (monitor/status_line.py)."""

from __future__ import annotations

import io

from poolscope.monitor.status_line import PROGRESS_INTERVAL, PROGRESS_INTERVAL_LOG, StatusLine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_is_rewritten_in_place_and_messages_go_above_it():
    stream = Terminal()
    status = StatusLine(stream)
    status.show("job: 10/100")
    status.show("job: 5")  # shorter: the rest of the longer one is blanked
    status.say("task 3 failed")
    status.clear()  # nothing shown: nothing written
    assert stream.getvalue() == "\rjob: 10/100\rjob: 5     \r" + " " * 6 + "\rtask 3 failed\n"
    assert status.interval == PROGRESS_INTERVAL


def test_on_a_file_every_line_is_its_own_and_comes_less_often():
    stream = io.StringIO()
    status = StatusLine(stream)
    status.show("job: 10/100")
    status.say("task 3 failed")
    status.show("job: 20/100")
    status.clear()
    assert stream.getvalue() == "job: 10/100\ntask 3 failed\njob: 20/100\n"
    assert status.interval == PROGRESS_INTERVAL_LOG
