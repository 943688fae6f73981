"""``poolscope watch`` without --headless opens a window when none listens: a real one (offscreen),
started in a session of its own, that the script's pools report to and that outlives the script."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from poolscope.core.attach import RUNTIME_DIR_ENV, SOCKET_NAME, window_listening

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "attach" / "stdlib_pools_script.py"

pytestmark = pytest.mark.timeout(120)


def listener_pid(runtime: str) -> int:
    """The pid of the process listening on the runtime directory's socket (the kernel's word)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(os.path.join(runtime, SOCKET_NAME))
        pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                              struct.calcsize("3i")))
    return pid


def test_watch_opens_a_detached_window_that_the_script_reports_to_and_that_outlives_it(tmp_path):
    runtime = str(tmp_path / "poolscope")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), RUNTIME_DIR_ENV: runtime,
           "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    driver = ("import sys, tests.attach.fake_pools as fake; sys.modules['poolscope.pools'] = fake; "
              "from poolscope.cli import main; sys.exit(main(sys.argv[1:]))")
    window = None
    try:
        done = subprocess.run([sys.executable, "-c", driver, "watch", str(SCRIPT), "4"], capture_output=True,
                              text=True, env=env, timeout=100, cwd=ROOT, check=False)
        assert done.returncode == 0, done.stderr
        assert '"squares": [0, 1, 4, 9]' in done.stdout
        assert "fake_pools: square reports to reader" in done.stderr, done.stderr
        assert "fake_pools: cube reports to reader" in done.stderr
        assert window_listening(runtime)  # the script has ended; the window has not
        window = psutil.Process(listener_pid(runtime))
        assert "poolscope" in " ".join(window.cmdline()) and "gui" in window.cmdline()
        assert os.getsid(window.pid) == window.pid  # a session of its own: not the terminal's Ctrl-C
    finally:
        if window is None and os.path.exists(os.path.join(runtime, SOCKET_NAME)):
            window = psutil.Process(listener_pid(runtime))
        if window is not None:
            window.send_signal(signal.SIGINT)  # the window quits on it, cancelling its jobs
            try:
                window.wait(30)
            except psutil.TimeoutExpired:
                window.kill()
                window.wait(10)
    deadline = time.monotonic() + 10
    while os.path.exists(os.path.join(runtime, SOCKET_NAME)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(os.path.join(runtime, SOCKET_NAME))  # it tidied up as it quit
