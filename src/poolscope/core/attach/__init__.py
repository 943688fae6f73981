"""The private channel between a script's engine and an open poolscope window of the same user.

Window side: an :class:`AttachListener` listens on a Unix domain socket in the user's runtime
directory (``$XDG_RUNTIME_DIR/poolscope``, else ``/tmp/poolscope-<uid>``; mode 0700), socket
``window.sock`` (0600), beside the key file ``window.key`` (0600, 32 random bytes made anew by
each window). A peer is accepted only if the kernel says it runs as this user (``SO_PEERCRED``)
and it proves it holds the key (``multiprocessing.connection``'s HMAC challenge, both ways);
nothing it sends is unpickled before that, and then only the event vocabulary
(:class:`_EventUnpickler`): no code of the script's runs in the window. Never a TCP port.

Script side: :func:`report_to_window` connects an engine to that window, or returns None within
a few milliseconds when none listens (a missing or stale socket file is refused by the kernel at
once). A :class:`Reporter` forwards every event batch the engine publishes (``Engine.subscribe``)
through a sender thread with its own queue, so the engine thread never waits on the window, and
applies the cancel and terminate commands the window sends back. If the window goes away the
script goes on unaffected; the reporter only stops forwarding.

Messages are pickled tuples, one per ``send_bytes``::

    script -> window   ("hello", {"source", "pid", "argv", "workers", "protocol"})
                       ("events", [batch, ...])   batches as the engine published them, in order
                       ("bye",)                    the script detached (Reporter.close)
    window -> script   ("cancel", job_id) | ("terminate", job_id)   the script's own job ids

The channel's parts: ``channel.py`` (where, how private, what crosses), ``listener.py`` (the
window's side), ``reporter.py`` (the script's side).
"""

from __future__ import annotations

from poolscope.core.attach.channel import (
    KEY_NAME,
    RUNTIME_DIR_ENV,
    SOCKET_NAME,
    AttachedBatches,
    AttachError,
    PeerRefused,
    ScriptAttached,
    ScriptDetached,
    ScriptSource,
    runtime_dir,
    window_listening,
)
from poolscope.core.attach.listener import AttachListener
from poolscope.core.attach.reporter import Reporter, close_all_reporters, report_to_window

__all__ = [
    "KEY_NAME",
    "RUNTIME_DIR_ENV",
    "SOCKET_NAME",
    "AttachError",
    "AttachListener",
    "AttachedBatches",
    "PeerRefused",
    "Reporter",
    "ScriptAttached",
    "ScriptDetached",
    "ScriptSource",
    "close_all_reporters",
    "report_to_window",
    "runtime_dir",
    "window_listening",
]
