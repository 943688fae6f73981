"""One progress line on a terminal, rewritten in place, with messages said above it: what
``poolscope run`` and ``poolscope watch --headless`` write to stderr. On a file or a pipe each
progress line is a line of its own, written less often (``interval``)."""

from __future__ import annotations

from typing import IO

__all__ = ["StatusLine"]

#: Seconds between progress lines on a terminal, and when the stream is a file or a pipe.
PROGRESS_INTERVAL = 0.25
PROGRESS_INTERVAL_LOG = 2.0


class StatusLine:
    """A stream's progress line (``show``) and the messages written above it (``say``)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.interval = PROGRESS_INTERVAL if self.tty else PROGRESS_INTERVAL_LOG
        self._shown = ""  # the progress line on the terminal now ("" if none)

    def show(self, line: str) -> None:
        """The progress line, in place of the last one on a terminal."""
        if self.tty:
            self.stream.write("\r" + line.ljust(len(self._shown)))
            self._shown = line
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        """A message of its own line, above the progress line (which the next ``show`` writes again)."""
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Take the progress line off the terminal."""
        if self.tty and self._shown:
            self.stream.write("\r" + " " * len(self._shown) + "\r")
            self._shown = ""
