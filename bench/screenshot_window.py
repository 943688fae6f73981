"""Open the real window for a screenshot: optionally with a simulated per-core sampler of N cores,
a dark palette, a given size, and a few jobs started. Not a benchmark (run_all.py skips it).

    Xvfb :7 -screen 0 1280x800x24 &
    DISPLAY=:7 python bench/screenshot_window.py --cores 16 --size 1200x760 --quit-after 40 &
    sleep 25
    DISPLAY=:7 import -window "$(DISPLAY=:7 xdotool search --onlyvisible --name '^poolscope' | head -1)" shot.png

``--cores N`` replaces the bridge's CPU sampler by one that reports N cores (the graph takes its
core count from the sampler): each simulated core's load follows one of this machine's real
cores, scaled and with noise, so the picture moves as the real load does, but the figures of a
16-core picture on a 2-core machine are simulated; say so wherever the picture is shown.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import _common  # noqa: F401  (puts src/ on sys.path)
import numpy as np


def simulated_sampler(cores: int) -> type:
    """A CpuSampler subclass reporting ``cores`` cores derived from the real ones."""
    from poolscope.core.telemetry import CpuSampler

    class SimulatedCores(CpuSampler):
        def __init__(self) -> None:
            super().__init__()
            self.real = self.cores
            self.cores = cores
            self._rng = np.random.default_rng(7)
            self._scale = self._rng.uniform(0.55, 1.0, cores)

        def sample(self) -> np.ndarray:
            real = super().sample()
            base = real[np.arange(self.cores) % self.real] * self._scale
            return np.clip(base + self._rng.normal(0, 4, self.cores), 0, 100)

    return SimulatedCores


def dark_palette() -> object:
    from PySide6.QtGui import QColor, QPalette

    roles = QPalette.ColorRole
    colours = {roles.Window: "#353535", roles.WindowText: "#ffffff", roles.Base: "#2a2a2a",
               roles.AlternateBase: "#424242", roles.Text: "#ffffff", roles.Button: "#353535",
               roles.ButtonText: "#ffffff", roles.Highlight: "#2a82da", roles.HighlightedText: "#ffffff",
               roles.Mid: "#4a4a4a", roles.Dark: "#232323", roles.Light: "#505050", roles.Midlight: "#3e3e3e",
               roles.PlaceholderText: "#a0a0a0", roles.ToolTipBase: "#353535", roles.ToolTipText: "#ffffff"}
    palette = QPalette()
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (roles.Text, roles.WindowText, roles.ButtonText):  # disabled controls look disabled
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7f7f7f"))
    return palette


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cores", type=int, default=0, help="simulate a sampler of this many cores (0: the real one)")
    parser.add_argument("--dark", action="store_true", help="a dark palette, as a dark desktop theme gives")
    parser.add_argument("--size", default="1200x760", help="window size WxH")
    parser.add_argument("--quit-after", type=float, default=60.0, help="terminate the jobs and quit after this long")
    parser.add_argument("--smooth", action="store_true", help="turn the CPU graph's smoothing on")
    parser.add_argument("--cancel-after", type=float, default=0.0,
                        help="also start a 'pi' job and cancel it after this many seconds (0: none)")
    args = parser.parse_args()
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="poolscope-shot-")  # fresh settings

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from poolscope.core.jobs import JobSpec
    from poolscope.gui.app import run_gui
    from poolscope.gui.main_window import QUIT_TERMINATE, MainWindow
    from poolscope.monitor import sampling

    if args.cores:
        sampler = simulated_sampler(args.cores)

        class Telemetry(sampling.Telemetry):
            def __init__(self, window: float = 1.0) -> None:
                super().__init__(window)
                self.cpu = sampler()

        sampling.Telemetry = Telemetry  # the bridge's sampler makes its Telemetry in the bridge thread, from this name
    app = QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    if args.dark:
        app.setPalette(dark_palette())
    width, height = (int(v) for v in args.size.split("x"))

    def arrange() -> None:
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
        if not windows:
            QTimer.singleShot(50, arrange)
            return
        window = windows[0]
        window.resize(width, height)
        window.move(0, 0)
        window.cpu_graph.set_smooth(args.smooth)
        window.submit(JobSpec.create("noop", "range:0:5000"))
        window.submit(JobSpec.create("sha256", "range:0:400000"))
        if args.cancel_after:
            cancelled = window.submit(JobSpec.create("pi", "range:0:400"))
            QTimer.singleShot(int(args.cancel_after * 1000), lambda: window.engine.cancel(cancelled))
        QTimer.singleShot(int(args.quit_after * 1000), lambda: window.quit_now(QUIT_TERMINATE))

    QTimer.singleShot(0, arrange)
    return run_gui(JobSpec.create("primes", "range:0:3000"), workers=2)


if __name__ == "__main__":
    sys.exit(main())
