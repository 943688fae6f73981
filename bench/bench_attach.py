"""What reporting to a window costs a script (core/attach/), side by side.

1. ``report_to_window`` when no window listens: no runtime directory, and a stale socket file (a
   window that died): the time a script's pool pays at creation (the target: a few milliseconds).
2. ``report_to_window`` to a live listener (connect, the key's challenge both ways, the hello)
   and ``close(engine_ended=True)``.
3. A job of ``noop`` tasks on an engine with a Reporter attached to a listener, and without one:
   the wall time, medians of ``--repeat`` runs each, alternated.

    python bench/bench_attach.py [--calls 2000] [--repeat 5] [--tasks 200000] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import tempfile
import time

import _common  # noqa: F401 - puts src/ on sys.path

from poolscope.core.attach import KEY_NAME, RUNTIME_DIR_ENV, SOCKET_NAME, AttachListener, report_to_window


class _Idle:
    def subscribe(self, callback):
        return lambda: None

    def worker_pids(self):
        return []

    def cancel(self, job):
        pass

    def terminate(self, job):
        pass


def timed_calls(calls: int, action) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return sorted(times)


def describe(name: str, times: list[float]) -> None:
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{name:<42} median {statistics.median(times) * 1000:7.3f} ms   p99 {p99 * 1000:7.3f} ms   "
          f"max {times[-1] * 1000:7.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="poolscope-bench-attach-")
    directory = os.path.join(base, "poolscope")
    os.environ[RUNTIME_DIR_ENV] = directory
    try:
        describe("no window: no runtime directory", timed_calls(args.calls, lambda: report_to_window(_Idle(), "b")))
        listener = AttachListener(directory)
        listener.start()
        listener.stop()
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(os.path.join(directory, SOCKET_NAME))
        stale.close()
        with open(os.path.join(directory, KEY_NAME), "wb") as key:
            key.write(os.urandom(32))
        os.chmod(os.path.join(directory, KEY_NAME), 0o600)
        describe("no window: a stale socket and key", timed_calls(args.calls, lambda: report_to_window(_Idle(), "b")))

        listener = AttachListener(directory)
        listener.start()
        try:
            def attach_and_detach() -> None:
                reporter = report_to_window(_Idle(), "b")
                assert reporter is not None
                reporter.close(engine_ended=True)

            describe("a window: attach, then close", timed_calls(min(args.calls, 300), attach_and_detach))
            job_side_by_side(listener, args)
        finally:
            listener.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def job_side_by_side(listener: AttachListener, args: argparse.Namespace) -> None:
    import queue
    import threading

    from poolscope.core.engine import Engine
    from poolscope.core.jobs import JobSpec

    stop = threading.Event()

    def drain() -> None:  # the window's side: take what comes (unpickled by the listener's threads)
        while not stop.is_set():
            try:
                listener.incoming.get(timeout=0.1)
            except queue.Empty:
                pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    walls: dict[str, list[float]] = {"without a window": [], "with a window attached": []}
    with Engine(workers=args.workers, nice=0) as engine:
        engine.submit(JobSpec.create("noop", "range:1000")).wait(60)  # warm the workers
        for _ in range(args.repeat):
            for name, times in walls.items():
                reporter = report_to_window(engine, "bench") if name.startswith("with") else None
                start = time.perf_counter()
                engine.submit(JobSpec.create("noop", f"range:{args.tasks}")).wait(600)
                times.append(time.perf_counter() - start)
                if reporter is not None:
                    reporter.close()
    stop.set()
    reader.join()
    base = statistics.median(walls["without a window"])
    for name, times in walls.items():
        median = statistics.median(times)
        print(f"noop x {args.tasks:,} {name:<24} median {median:6.3f} s  ({median / base:4.2f}x)  runs "
              + " ".join(f"{t:.3f}" for t in times))


if __name__ == "__main__":
    main()
