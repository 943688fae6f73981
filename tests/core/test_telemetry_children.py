"""ProcessSampler finds a worker's child processes from /proc (not by reading every process)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from poolscope.core.telemetry import ProcessSampler

# a process with a child that has a child of its own, all sleeping
TREE = ("import subprocess, sys, time\n"
        "depth = int(sys.argv[1])\n"
        "child = (subprocess.Popen([sys.executable, '-c', sys.argv[2], str(depth - 1), sys.argv[2]])\n"
        "         if depth else None)\n"
        "time.sleep(30)\n")


@pytest.mark.timeout(30)
def test_children_and_grandchildren_are_counted_without_a_scan_of_every_process(monkeypatch):
    root = subprocess.Popen([sys.executable, "-c", TREE, "2", TREE])
    children = psutil.Process.children  # psutil's own, for the test's bookkeeping
    try:
        process = psutil.Process(root.pid)
        deadline = time.monotonic() + 15
        while len(process.children(recursive=True)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        expected = {child.pid for child in process.children(recursive=True)}
        assert len(expected) == 2

        def no_scan(*_args, **_kwargs):
            raise AssertionError("children() read every process's stat file")

        monkeypatch.setattr(psutil.Process, "children", no_scan)
        sampler = ProcessSampler()
        sampler.sample([root.pid])
        stats = sampler.sample([root.pid])[root.pid]
        rss = sum(psutil.Process(pid).memory_info().rss for pid in expected | {root.pid})
        assert abs(stats.rss - rss) < 0.2 * rss  # the children's and grandchild's memory are in the worker's figure
        assert set(sampler._children[root.pid]) == expected
    finally:
        tree = children(psutil.Process(root.pid), recursive=True)
        for proc in tree:
            proc.kill()
        root.kill()
        root.wait()
        psutil.wait_procs(tree, timeout=5)
