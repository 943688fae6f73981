"""The private channel: where it lives and with what modes, who is refused, and that a script
runs the same with a window, without one, and when its window goes away."""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import stat
import tempfile
import time
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, answer_challenge, deliver_challenge
from typing import Any

import pytest

from poolscope.core.attach import (
    KEY_NAME,
    SOCKET_NAME,
    AttachedBatches,
    AttachListener,
    PeerRefused,
    ScriptAttached,
    ScriptDetached,
    report_to_window,
    runtime_dir,
)
from poolscope.core.engine import Engine
from poolscope.core.jobs import JobSpec, JobState
from poolscope.monitor.folder import EventFolder
from tests.conftest import sample

pytestmark = pytest.mark.timeout(60)


def next_item(listener: AttachListener, kind: type, timeout: float = 10.0) -> Any:
    """The next item of ``kind`` on the listener's queue (others before it are dropped)."""
    deadline = time.monotonic() + timeout
    while True:
        item = listener.incoming.get(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(item, kind):
            return item


def drain(listener: AttachListener, until: type, timeout: float = 20.0) -> list[Any]:
    items = []
    deadline = time.monotonic() + timeout
    while not items or not isinstance(items[-1], until):
        items.append(listener.incoming.get(timeout=max(0.01, deadline - time.monotonic())))
    return items


class NoEngine:
    """An engine that publishes nothing (report_to_window needs only these four methods)."""

    def subscribe(self, callback: Any) -> Any:
        return lambda: None

    def worker_pids(self) -> list[int]:
        return []

    def cancel(self, job: int) -> None:
        pass

    def terminate(self, job: int) -> None:
        pass


def test_runtime_dir_is_the_users_xdg_one_or_a_private_tmp_one(monkeypatch, tmp_path):
    monkeypatch.delenv("POOLSCOPE_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert runtime_dir() == str(tmp_path / "poolscope")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert runtime_dir() == f"/tmp/poolscope-{os.getuid()}"


def test_socket_and_key_are_private_and_go_with_the_listener(runtime):
    listener = AttachListener(runtime)
    assert listener.start()
    try:
        assert stat.S_IMODE(os.stat(runtime).st_mode) == 0o700
        socket_info = os.lstat(os.path.join(runtime, SOCKET_NAME))
        assert stat.S_ISSOCK(socket_info.st_mode) and stat.S_IMODE(socket_info.st_mode) == 0o600
        key_info = os.lstat(os.path.join(runtime, KEY_NAME))
        assert stat.S_IMODE(key_info.st_mode) == 0o600 and key_info.st_size == 32
        assert socket_info.st_uid == key_info.st_uid == os.getuid()
        second = AttachListener(runtime)
        assert not second.start()  # one window of a user listens at a time
    finally:
        listener.stop()
    assert sorted(os.listdir(runtime)) == ["window.lock"]


def test_a_directory_open_to_others_is_closed_and_one_of_another_user_refused(runtime, tmp_path):
    os.makedirs(runtime, mode=0o755)
    os.chmod(runtime, 0o755)
    listener = AttachListener(runtime)
    assert listener.start()
    listener.stop()
    assert stat.S_IMODE(os.stat(runtime).st_mode) == 0o700
    if os.getuid() != 0:
        return
    other = str(tmp_path / "other")
    os.mkdir(other, 0o700)
    os.chown(other, 65534, 65534)
    with pytest.raises(OSError, match="belongs to uid 65534"):
        AttachListener(other).start()


def test_no_window_costs_the_script_a_few_milliseconds_at_most(runtime):
    """No directory; a directory without a socket; a stale socket file (its window died)."""
    def best_of_five() -> tuple[Any, float]:
        times, result = [], None
        for _ in range(5):
            start = time.perf_counter()
            result = report_to_window(NoEngine(), "script.py")
            times.append(time.perf_counter() - start)
        return result, min(times)

    assert best_of_five()[0] is None  # no directory at all
    listener = AttachListener(runtime)
    assert listener.start()
    listener.stop()
    result, seconds = best_of_five()  # the directory, no socket
    assert result is None and seconds < 0.005
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.path.join(runtime, SOCKET_NAME))
    stale.close()  # the file stays; nothing listens
    with open(os.path.join(runtime, KEY_NAME), "wb") as key:
        key.write(os.urandom(32))
    os.chmod(os.path.join(runtime, KEY_NAME), 0o600)
    result, seconds = best_of_five()
    assert result is None and seconds < 0.005, f"{seconds * 1000:.2f} ms with a stale socket"


def test_a_peer_without_the_key_is_refused_before_anything_is_read(listener, runtime):
    path = os.path.join(runtime, SOCKET_NAME)
    with pytest.raises(AuthenticationError):
        Client(path, family="AF_UNIX", authkey=b"not the window's key, 32 bytes!")
    refused = next_item(listener, PeerRefused)
    assert refused.pid == os.getpid() and "does not hold the key" in refused.reason
    assert listener.attached() == []


def test_a_peer_with_the_key_cannot_make_the_window_import_or_run_anything(listener, runtime):
    """After the handshake only the event vocabulary is unpickled: a pickle naming anything else
    ends the connection, unrun."""
    with open(os.path.join(runtime, KEY_NAME), "rb") as file:
        key = file.read()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(runtime, SOCKET_NAME))
    conn = Connection(sock.detach())
    try:
        answer_challenge(conn, key)
        deliver_challenge(conn, key)
        conn.send_bytes(pickle.dumps(("hello", {"source": "evil.py", "pid": 1, "argv": [], "workers": []})))
        attached = next_item(listener, ScriptAttached)
        marker = os.path.join(runtime, "ran")

        class Payload:
            def __reduce__(self) -> Any:
                return (os.mkdir, (marker,))

        conn.send_bytes(pickle.dumps(("events", [[Payload()]])))
        detached = next_item(listener, ScriptDetached)
    finally:
        conn.close()
    assert detached.source == attached.source and not detached.clean
    assert not os.path.exists(marker)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to run a client as another user")
def test_another_user_is_refused(monkeypatch):
    """The modes keep another user from the socket; and were they opened, the kernel's word on
    the peer's uid (SO_PEERCRED) still refuses it before a byte is read."""
    parent = tempfile.mkdtemp(prefix="poolscope-uid-test-")  # pytest's tmp_path is closed to other users
    os.chmod(parent, 0o711)
    runtime = os.path.join(parent, "poolscope")
    listener = AttachListener(runtime)
    assert listener.start()
    try:
        check_refused(listener, runtime)
    finally:
        listener.stop()
        shutil.rmtree(parent)


def check_refused(listener: AttachListener, runtime: str) -> None:
    path = os.path.join(runtime, SOCKET_NAME)

    def as_nobody() -> str:
        """Connect as uid 65534 in a forked child; what happened, as its exit status says it."""
        pid = os.fork()
        if pid == 0:  # the child: only system calls, then _exit
            code = 9
            try:
                os.setgid(65534)
                os.setuid(65534)
                client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                client.settimeout(5)
                try:
                    client.connect(path)
                except PermissionError:
                    code = 3
                else:
                    code = 4 if client.recv(1) == b"" else 5  # closed at once, or sent a challenge
            finally:
                os._exit(code)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return {3: "no access", 4: "closed", 5: "challenged", 9: "error"}[os.waitstatus_to_exitcode(status)]
            time.sleep(0.01)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return "hung"

    assert as_nobody() == "no access"  # the 0700 directory and 0600 socket
    os.chmod(runtime, 0o777)  # open them, as a careless umask or a bug might
    os.chmod(path, 0o777)
    assert as_nobody() == "closed"
    refused = next_item(listener, PeerRefused)
    assert "uid 65534" in refused.reason
    assert listener.attached() == []


def test_events_reach_a_qt_free_reader_and_commands_reach_the_engine(listener):
    folder = EventFolder()
    with Engine(workers=1, nice=0) as engine:
        reporter = report_to_window(engine, "script.py")
        assert reporter is not None and reporter.connected
        attached = next_item(listener, ScriptAttached)
        folder.fold_attached(attached)
        assert attached.source.pid == os.getpid() and attached.source.label == f"script.py (pid {os.getpid()})"
        done = engine.submit(JobSpec.create(sample("square"), "range:30")).wait(30)
        slow = engine.submit(JobSpec.create("sleep", "range:200", kwargs={"seconds": 0.05}))
        deadline = time.monotonic() + 20
        while not any(view.source_job_id == 2 for view in folder.jobs.values()) and time.monotonic() < deadline:
            folder.fold_attached(listener.incoming.get(timeout=10))
        assert listener.command(attached.source.key, "cancel", slow.id)
        assert slow.wait(30).status is JobState.CANCELLED
        reporter.close()
    for item in drain(listener, ScriptDetached):
        folder.fold_attached(item)
    assert done.status is JobState.DONE
    first, second = sorted(folder.jobs.values(), key=lambda view: -view.job_id)
    assert (first.job_id, first.source_job_id, first.source, first.state, first.done) == (
        -1, 1, f"script.py (pid {os.getpid()})", JobState.DONE, 30)
    assert (second.job_id, second.source_job_id, second.state) == (-2, 2, JobState.CANCELLED)
    assert not first.lost and not second.lost  # both ended before the script detached
    assert reporter.commands_applied == 1


def test_a_window_that_goes_away_mid_job_leaves_the_script_running(runtime):
    listener = AttachListener(runtime)
    assert listener.start()
    try:
        with Engine(workers=1, nice=0) as engine:
            reporter = report_to_window(engine, "script.py")
            assert reporter is not None
            job = engine.submit(JobSpec.create("sleep", "range:40", kwargs={"seconds": 0.02}))
            next_item(listener, AttachedBatches)  # the window has heard of it
            listener.stop()  # the window closes mid-job
            summary = job.wait(30)
            deadline = time.monotonic() + 5
            while reporter.connected and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not reporter.connected
            assert report_to_window(engine, "script.py") is None  # nothing listens any more
            reporter.close()
    finally:
        listener.stop()
    assert summary.status is JobState.DONE and summary.done == 40


def test_a_script_that_vanishes_leaves_its_unfinished_jobs_marked_lost(listener):
    """What the window folds when a script's channel breaks without a goodbye."""
    folder = EventFolder()
    with Engine(workers=1, nice=0) as engine:
        reporter = report_to_window(engine, "doomed.py")
        assert reporter is not None
        job = engine.submit(JobSpec.create("sleep", "range:400", kwargs={"seconds": 0.05}))
        while not any(view.done for view in folder.jobs.values()):
            folder.fold_attached(listener.incoming.get(timeout=20))
        reporter._sock.shutdown(socket.SHUT_RDWR)  # as a killed script's socket ends: no goodbye
        for item in drain(listener, ScriptDetached):
            folder.fold_attached(item)
        engine.terminate(job)
        reporter.close()
    (view,) = folder.jobs.values()
    assert view.state.is_final and view.lost and "doomed.py" in view.lost
    update = folder.take_changes()
    assert any("lost" in entry.message and entry.job_id == view.job_id for entry in update.log)
    assert not folder.workers  # its workers left the table


def test_a_script_and_the_windows_own_jobs_keep_apart_with_the_same_ids(listener):
    from poolscope.core.attach import ScriptSource
    from poolscope.core.events import JobSubmitted, TasksFinished

    folder = EventFolder()
    script = ScriptSource(key=1, name="script.py", pid=4321)
    folder.fold([JobSubmitted(1, "own", "t", "range:5", 5, time.time())])
    folder.fold([JobSubmitted(1, "theirs", "t", "range:7", 7, time.time())], script)
    folder.fold([TasksFinished(1, 2, 0, 0, time.time())], script)
    folder.fold([TasksFinished(1, 3, 0, 0, time.time())])
    own, theirs = folder.jobs[1], folder.jobs[-1]
    assert (own.name, own.done, own.source, own.shown_id) == ("own", 3, "", 1)
    assert (theirs.name, theirs.done, theirs.source, theirs.shown_id) == ("theirs", 2, "script.py (pid 4321)", 1)
    assert folder.tasks_finished == 5


class ManualEngine(NoEngine):
    """An engine whose batches the test publishes by hand (publish), on its own thread."""

    def __init__(self) -> None:
        self.callbacks: list[Any] = []

    def subscribe(self, callback: Any) -> Any:
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback) if callback in self.callbacks else None

    def publish(self, batch: list[Any]) -> None:
        for callback in list(self.callbacks):
            callback(batch)


def test_close_while_the_engine_runs_waits_for_the_batch_it_has_not_yet_published(listener):
    """Job.wait() returns before the engine publishes the job's end (within 0.1 s): a pool that
    closes its reporter right after must not lose that batch (the window would call it lost)."""
    import threading

    from poolscope.core.events import JobFinished, JobSubmitted
    from poolscope.core.jobs import JobSummary

    engine = ManualEngine()
    reporter = report_to_window(engine, "quick.py")
    assert reporter is not None
    summary = JobSummary(1, "quick", "t", "range:1", JobState.DONE, 1, 1, 0, 0, 0.01, 1)
    late = threading.Timer(0.05, engine.publish, ([JobSubmitted(1, "quick", "t", "range:1", 1, time.time()),
                                                   JobFinished(1, summary, time.time())],))
    late.start()  # the engine's next publish, after close() is called
    reporter.close()
    late.join()
    items = drain(listener, ScriptDetached)
    batches = [batch for item in items if isinstance(item, AttachedBatches) for batch in item.batches]
    assert [type(event).__name__ for batch in batches for event in batch] == ["JobSubmitted", "JobFinished"]
    assert items[-1].clean

    ended = report_to_window(ManualEngine(), "ended.py")
    assert ended is not None
    start = time.perf_counter()
    ended.close(engine_ended=True)  # its engine has published its last batch: nothing to wait for
    assert time.perf_counter() - start < 0.2


def test_a_peer_that_says_nothing_is_dropped_and_holds_up_no_one(listener, runtime):
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(os.path.join(runtime, SOCKET_NAME))
    try:
        start = time.perf_counter()
        reporter = report_to_window(NoEngine(), "next.py")  # accepted while the silent one waits
        assert reporter is not None and time.perf_counter() - start < 1.0
        reporter.close(engine_ended=True)
        refused = next_item(listener, PeerRefused, timeout=10)
        assert "did not complete the handshake within 2 s" in refused.reason
        silent.settimeout(5)
        while silent.recv(1024):  # the window's challenge, then end of file: it closed its side
            pass
    finally:
        silent.close()


def test_a_peers_malformed_events_are_dropped_and_a_message_off_the_protocol_ends_it(listener, runtime):
    from poolscope.core.events import JobSubmitted, TasksFinished

    with open(os.path.join(runtime, KEY_NAME), "rb") as file:
        key = file.read()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(runtime, SOCKET_NAME))
    conn = Connection(sock.detach())
    folder = EventFolder()
    try:
        answer_challenge(conn, key)
        deliver_challenge(conn, key)
        conn.send_bytes(pickle.dumps(("hello", {"source": "odd.py", "pid": 1, "argv": [], "workers": []})))
        conn.send_bytes(pickle.dumps(("events", [[JobSubmitted(1, "odd", "t", "range:3", 3, time.time())],
                                                 [TasksFinished(1, "many", 0, 0, time.time())],  # type: ignore[arg-type]
                                                 [TasksFinished(1, 2, 0, 0, time.time())]])))
        conn.send_bytes(pickle.dumps(42))
        items = drain(listener, ScriptDetached)
    finally:
        conn.close()
    for item in items:
        folder.fold_attached(item)  # never raises: the bad batch is dropped, saying so
    (view,) = folder.jobs.values()
    assert view.done == 2 and view.lost  # the batches around the bad one were folded; it ended off the protocol
    assert any("cannot read was dropped (TypeError" in entry.message for entry in folder.take_changes().log)


def test_every_event_of_the_vocabulary_crosses_and_nothing_else_does():
    """ChunkRan was added to core/events.py after the channel's list of events was written, and every
    batch holding one was dropped by the window: the list is the module's own now."""
    import dataclasses
    import typing

    from poolscope.core import events
    from poolscope.core.attach.channel import _EventUnpickler, _loads

    classes = [value for value in vars(events).values()
               if dataclasses.is_dataclass(value) and value.__module__ == events.__name__]
    assert "ChunkRan" in {cls.__name__ for cls in classes}
    hints = {int: 1, float: 1.0, str: "s", bool: True}
    for cls in classes:
        fields = {}
        for field in dataclasses.fields(cls):
            hint = typing.get_type_hints(cls).get(field.name)
            fields[field.name] = hints.get(hint)
        event = cls(**fields)
        assert type(_loads(pickle.dumps([event]), _EventUnpickler)[0]) is cls
    with pytest.raises(pickle.UnpicklingError):
        _loads(pickle.dumps([os.getcwd]), _EventUnpickler)


def test_looking_whether_a_window_listens_is_no_refused_attempt(listener, runtime):
    """poolscope watch looks whether a window listens (it connects and hangs up): the window said
    'Refused process N that tried to attach: BrokenPipeError' for it, as a warning, every time."""
    from poolscope.core.attach import window_listening

    assert window_listening(runtime)
    with Engine(workers=1, nice=0) as engine:
        reporter = report_to_window(engine, "script.py")
        assert reporter is not None
        reporter.close()
    items = drain(listener, ScriptDetached)
    assert not [item for item in items if isinstance(item, PeerRefused)], items
