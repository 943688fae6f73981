"""The engine's mailbox: the commands caller threads post to the engine thread (core/loop.py),
the pipe that wakes it, and the Reply a caller waits on.
"""

from __future__ import annotations

import collections
import threading
from multiprocessing.context import BaseContext
from typing import Any

# Commands from caller threads to the engine thread (first element of each tuple).
CMD_SUBMIT = "submit"  # (verb, JobRecord)
CMD_CANCEL = "cancel"  # (verb, job id)
CMD_TERMINATE = "terminate"  # (verb, job id)
CMD_STOP = "stop"  # (verb, "wait" | "cancel" | "terminate")
CMD_START_BACKEND = "start_backend"  # (verb, name, Reply)
CMD_INPUTS = "inputs"  # (verb,): an open-ended job's feed has inputs again (core/inputs.py InputFeed): just wake


class Reply:
    """An answer from the engine thread to a caller waiting on ``done``."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class Mailbox:
    """Commands from caller threads to the engine thread, and the pipe that wakes it."""

    def __init__(self, context: BaseContext) -> None:
        # Appended to by callers (under the engine's lock), popped by the engine thread.
        self.commands: collections.deque[tuple[Any, ...]] = collections.deque()
        self.reader, self.writer = context.Pipe(duplex=False)  # a byte wakes the engine thread
        # Whether a byte is on its way in the wake pipe: callers write one only when none is, so
        # the pipe never fills (a full pipe would block a caller, or the engine thread itself when
        # a callback submits). Set by callers, cleared by the engine thread after it drains the pipe.
        self.pending = False

    def post(self, *command: Any) -> None:
        self.commands.append(command)
        if self.pending:
            return  # the engine thread will wake for the byte already sent and see this command too
        self.pending = True
        try:
            self.writer.send_bytes(b"!")
        except OSError:
            pass  # the engine thread has ended and closed the pipe

    def drain(self) -> None:
        """Engine thread: read the wake bytes."""
        while self.reader.poll():
            self.reader.recv_bytes()
        # After the drain, before the commands are handled: a command appended from now on
        # either is seen by handle_commands or comes with a new byte.
        self.pending = False

    def close(self) -> None:
        self.reader.close()
        self.writer.close()
