"""Per-core CPU load, live: one curve per logical core, or a heat-map strip per core when there
are more cores than curves can show legibly.

Samples (from the bridge's telemetry) go into one numpy :class:`RingBuffer` sized for the
longest history; :meth:`CpuGraph.refresh`, called from the window's single frame timer, moves
the visible window with ``setData`` / ``setImage`` on items made once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from poolscope.core.telemetry import RingBuffer, TelemetrySample
from poolscope.gui.widgets.plotting import HISTORY_CHOICES, history_label, live_curve, make_plot, text_colour

__all__ = ["CpuGraph", "HEATMAP_ABOVE"]

#: With more logical cores than this, the graph draws a heat-map strip per core instead of curves.
HEATMAP_ABOVE = 16
#: Fastest sampling the ring buffer is sized for (seconds between samples).
MIN_SAMPLE_INTERVAL = 0.2


class CpuGraph(QWidget):
    """One curve (or heat-map row) per logical core over a rolling history."""

    history_changed = Signal(int)  # seconds of history now shown

    def __init__(self, cores: int, *, history: int = HISTORY_CHOICES[0], heatmap_above: int = HEATMAP_ABOVE,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cores = cores
        self.heatmap_mode = cores > heatmap_above
        self.history = history
        capacity = int(max(HISTORY_CHOICES) / MIN_SAMPLE_INTERVAL) + 1
        self.buffer = RingBuffer(capacity, width=cores)  # time.monotonic() -> load per core, percent
        self._drawn_until: tuple[float, float] | None = None  # (last sample time, now) of the last frame

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        self.title = QLabel(f"CPU per core ({cores} logical)")
        self.title.setStyleSheet("font-weight: bold;")
        self.average = QLabel("")
        self.average.setObjectName("cpu_average")
        self.history_combo = QComboBox()
        self.history_combo.setObjectName("cpu_history")
        for seconds in HISTORY_CHOICES:
            self.history_combo.addItem(history_label(seconds), seconds)
        self.history_combo.setCurrentIndex(max(0, self.history_combo.findData(history)))
        self.history_combo.currentIndexChanged.connect(
            lambda i: self.set_history(int(self.history_combo.itemData(i))))
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.average)
        header.addWidget(QLabel("History"))
        header.addWidget(self.history_combo)
        layout.addLayout(header)

        self.plot = make_plot(left="core" if self.heatmap_mode else "load %")
        self.plot.setObjectName("cpu_plot")
        item = self.plot.getPlotItem()
        self.curves: list[pg.PlotDataItem] = []
        self.heatmap: pg.ImageItem | None = None
        if self.heatmap_mode:
            self.heatmap = pg.ImageItem(axisOrder="row-major")
            self.heatmap.setColorMap(pg.colormap.get("inferno"))
            item.addItem(self.heatmap)
            item.setYRange(0, cores, padding=0)
            step = max(1, cores // 16)
            item.getAxis("left").setTicks([[(i + 0.5, str(i)) for i in range(0, cores, step)], []])
            colour_bar = pg.ColorBarItem(values=(0, 100), colorMap=pg.colormap.get("inferno"), interactive=False,
                                         width=12, label="load %")
            colour_bar.setImageItem(self.heatmap, insert_in=item)
        else:
            legend = item.addLegend(offset=(6, 4), colCount=min(cores, 8), labelTextSize="8pt",
                                    labelTextColor=text_colour())
            legend.setBrush(pg.mkBrush(255, 255, 255, 200))
            for core in range(cores):
                colour = pg.intColor(core, hues=max(cores, 2), values=1, maxValue=220)
                self.curves.append(live_curve(self.plot, colour, name=f"cpu{core}"))
            item.setYRange(-2, 104, padding=0)  # a core at 100% stays in view, above the frame's edge
        item.setXRange(-history, 0, padding=0)
        layout.addWidget(self.plot, 1)

    # -- data ------------------------------------------------------------------------------------

    def add_samples(self, samples: Iterable[TelemetrySample]) -> None:
        for sample in samples:
            self.add_sample(sample.time, sample.cpu)

    def add_sample(self, t: float, loads: np.ndarray) -> None:
        loads = np.asarray(loads, dtype=np.float64)
        if loads.shape[0] != self.cores:
            fixed = np.zeros(self.cores)
            n = min(self.cores, loads.shape[0])
            fixed[:n] = loads[:n]
            loads = fixed
        self.buffer.append(t, loads)

    def set_history(self, seconds: int) -> None:
        self.history = seconds
        self.plot.getPlotItem().setXRange(-seconds, 0, padding=0)
        index = self.history_combo.findData(seconds)
        if index >= 0 and index != self.history_combo.currentIndex():
            self.history_combo.setCurrentIndex(index)
        self._drawn_until = None
        self.refresh()
        self.history_changed.emit(seconds)

    # -- drawing ---------------------------------------------------------------------------------

    def refresh(self, now: float | None = None) -> None:
        """Redraw the visible history (called by the window's frame timer)."""
        now = time.monotonic() if now is None else now
        if not len(self.buffer):
            return
        times, values = self.buffer.since(now - self.history - 1.0)
        if times.size == 0:
            return
        x = times - now
        if self.heatmap is not None:
            self._draw_heatmap(x, values)
        else:
            for core, curve in enumerate(self.curves):
                curve.setData(x, values[:, core])
        last = self.buffer.last()
        if last is not None:
            self.average.setText(f"now {last.mean():.0f}% average")

    def _draw_heatmap(self, x: np.ndarray, values: np.ndarray) -> None:
        assert self.heatmap is not None
        self.heatmap.setImage(np.ascontiguousarray(values.T), autoLevels=False, levels=(0, 100))
        start = float(x[0])
        span = max(float(x[-1]) - start, 1e-3)
        step = span / max(len(x) - 1, 1)
        # each column covers one sample interval ending at its sample time
        self.heatmap.setRect(QRectF(start - step, 0, span + step, self.cores))

    def curve_data(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """What each curve shows now (tests)."""
        return [curve.getData() for curve in self.curves]
