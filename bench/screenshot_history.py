"""A picture of the History view for the README: a few real jobs run into a history of their own
(a temporary folder), the view opened on it with a failing job selected, grabbed to a PNG. Not a
benchmark (run_all.py skips it).

    python bench/screenshot_history.py resources/screenshot-history.png [--size 1100x620] [--dark]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import _common  # noqa: F401  (puts src/ on sys.path)

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SAMPLE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "helpers",
                                       "sample_tasks.py"))


def record_jobs(directory: str) -> None:
    from poolscope.core.engine import Engine
    from poolscope.core.history import record_engine
    from poolscope.core.jobs import JobSpec
    from poolscope.core.targets import parse_target

    with Engine(2) as engine:
        recorder = record_engine(engine, "window", directory=directory)
        specs = [JobSpec.create("primes", "range:0:20:1", kwargs={"size": 5000}),
                 JobSpec.create("pi", "range:0:20:1", kwargs={"samples": 100000}),
                 JobSpec.create(parse_target(f"{SAMPLE}:fail_on"), "range:0:400:1", kwargs={"bad": 7}),
                 JobSpec.create("collatz", "range:0:30:1", kwargs={"size": 2000}),
                 JobSpec.create(parse_target(f"{SAMPLE}:spin"), "range:0:40:1", kwargs={"seconds": 0.05})]
        for spec in specs:
            engine.submit(spec).wait(300)
        engine.shutdown()
        recorder.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output")
    parser.add_argument("--size", default="1100x620")
    parser.add_argument("--dark", action="store_true")
    args = parser.parse_args()
    width, height = (int(part) for part in args.size.split("x"))
    directory = tempfile.mkdtemp(prefix="poolscope-history-shot-")
    record_jobs(directory)

    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    if args.dark:
        from screenshot_window import dark_palette

        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    from poolscope.core.history import History
    from poolscope.gui.widgets.history_view import HistoryView

    view = HistoryView(History(directory))
    view.resize(width, height)
    view.show()
    view.refresh()
    failing = next(job for job in view.model.jobs() if job.failed)
    view.select_job(failing.id)
    view.failures_tree.expandAll()
    for _ in range(20):
        app.processEvents()
    view.grab().save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
