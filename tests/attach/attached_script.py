"""A script that reports its engine to the window (a plain Engine and report_to_window), runs one
job of slow tasks, and prints one JSON line as it attaches and one with how the job ended.

    python attached_script.py TASKS SECONDS
"""

from __future__ import annotations

import json
import sys

from poolscope.core.attach import report_to_window
from poolscope.core.engine import Engine
from poolscope.core.jobs import JobSpec

if __name__ == "__main__":
    tasks, seconds = int(sys.argv[1]), float(sys.argv[2])
    with Engine(workers=1, nice=0) as engine:
        reporter = report_to_window(engine, "attached_script.py")
        job = engine.submit(JobSpec.create("sleep", f"range:{tasks}", kwargs={"seconds": seconds}))
        print(json.dumps({"attached": reporter is not None}), flush=True)
        summary = job.wait(120)
        if reporter is not None:
            reporter.close()
    print(json.dumps({"status": summary.status.value, "done": summary.done, "cancelled": summary.cancelled}),
          flush=True)
