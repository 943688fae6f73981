"""How late the Qt main thread's event loop runs while the window watches busy workers.

The real window is opened (offscreen unless a display is set) on a real pool. A precise QTimer
asks to fire every 5 ms; how much later than asked it fires is the event-loop lateness a user
feels as stutter. It is measured while idle, while a job of tiny tasks keeps every core busy at
a high task and event rate, and while a CPU-bound job keeps every core busy; each with the
workers at nice 10 (the default) and at nice 0, printed side by side. The graphs' frame rate
(redraws per second of the window's frame timer) is printed too.

    PYTHONPATH=src python bench/bench_gui_latency.py [--seconds 5] [--workers N]
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

TIMER_MS = 5


def measure(app, window, seconds: float) -> dict[str, float]:
    """Run the event loop for ``seconds`` with a 5 ms precise timer; lateness and frame rate."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    late: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        late.append(max(0.0, (now - last[0]) * 1000 - TIMER_MS))
        last[0] = now

    frames_before = window._frames
    events_before = window._events_seen
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TIMER_MS)
    timer.timeout.connect(tick)
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    started = time.perf_counter()
    last[0] = started
    timer.start()
    loop.exec()
    timer.stop()
    elapsed = time.perf_counter() - started
    values = np.asarray(late[5:] or [0.0])
    return {
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
        "max": float(values.max()),
        "fps": (window._frames - frames_before) / elapsed,
        "events": (window._events_seen - events_before) / elapsed,
    }


def run_config(app, nice: int, workers: int | None, seconds: float) -> dict[str, dict[str, float]]:
    from PySide6.QtCore import QSettings

    from poolscope.core.engine import Engine
    from poolscope.core.jobs import JobSpec
    from poolscope.gui.main_window import QUIT_TERMINATE, MainWindow

    directory = tempfile.mkdtemp(prefix="poolscope-bench-")
    atexit.register(shutil.rmtree, directory, True)
    settings = QSettings(os.path.join(directory, "settings.ini"), QSettings.Format.IniFormat)
    engine = Engine(workers, nice=nice, events=True)
    window = MainWindow(engine, settings=settings, nice=nice)
    window.resize(1500, 950)
    window.show()
    results: dict[str, dict[str, float]] = {}
    try:
        measure(app, window, 1.0)  # let the workers start and the window settle
        results["idle"] = measure(app, window, seconds)

        tasks = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gui_latency_tasks.py")
        scenarios = (
            ("tiny tasks, every core busy", JobSpec.create(f"{tasks}:nothing", "range:0:40000000")),
            ("CPU + progress flood, all busy", JobSpec.create(f"{tasks}:spin_with_progress", "range:0:1000000",
                                                              kwargs={"seconds": 0.05})),
        )
        for name, spec in scenarios:
            job = window.submit(spec)
            measure(app, window, 1.0)
            results[name] = measure(app, window, seconds)
            summary = job.summary()
            results[name]["tasks"] = summary.done / max(summary.wall_seconds, 1e-9)
            engine.terminate(job)
            while not job.state.is_final:
                app.processEvents()
                time.sleep(0.01)
            window.clear_finished()
            measure(app, window, 0.5)
    finally:
        window.shutdown(QUIT_TERMINATE)
        window.close()
        window.deleteLater()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per scenario (default 5)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval for the window's process, in seconds (default: Python's, 0.005)")
    args = parser.parse_args()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    load = os.getloadavg()[0]  # other work on the machine shows in the figures: say how much there was
    by_nice = {nice: run_config(app, nice, args.workers, args.seconds) for nice in (10, 0)}

    print(f"Qt event-loop lateness of a {TIMER_MS} ms timer, ms (p50 / p99 / max), window open "
          f"({os.environ.get('QT_QPA_PLATFORM', 'display')}), {os.cpu_count()} cores, "
          f"{args.workers or os.cpu_count()} workers, {args.seconds:g} s per scenario, "
          f"GIL switch interval {sys.getswitchinterval() * 1000:g} ms, load average before {load:.1f}")
    header = f"{'scenario':34} {'workers at nice 10':>22} {'workers at nice 0':>22}   {'graph fps':>9}  {'events/s':>9}  {'tasks/s':>10}"
    print(header)
    print("-" * len(header))
    for scenario in by_nice[10]:
        cells = []
        for nice in (10, 0):
            r = by_nice[nice][scenario]
            cells.append(f"{r['p50']:5.1f} / {r['p99']:5.1f} / {r['max']:5.1f}")
        r10, r0 = by_nice[10][scenario], by_nice[0][scenario]
        fps = f"{r10['fps']:4.0f}/{r0['fps']:<4.0f}"
        events = f"{r10['events']:4.0f}/{r0['events']:<4.0f}"
        tasks = f"{r10.get('tasks', 0):,.0f}/{r0.get('tasks', 0):,.0f}" if "tasks" in r10 else ""
        print(f"{scenario:34} {cells[0]:>22} {cells[1]:>22}   {fps:>9}  {events:>9}  {tasks:>10}")
    print("(graph fps, events/s folded by the bridge, and tasks/s: nice 10 / nice 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
