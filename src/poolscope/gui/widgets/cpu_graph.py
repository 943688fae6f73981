"""Per-core CPU load, live: one curve per logical core, or a heat-map strip per core when there
are more cores than curves can show legibly; and, once a Dask cluster runs, one curve per Dask
worker (its process's CPU %, from the scheduler's worker metrics), chosen with a selector
("This machine" / "Cluster workers"; the graph turns to the cluster the first time one appears).

Samples (from the bridge's telemetry) go into one numpy :class:`RingBuffer` sized for the
longest history, and one per Dask worker; :meth:`CpuGraph.refresh`, called from the window's
single frame timer, moves the visible window with ``setData`` / ``setImage`` on items made once
(a Dask worker's curve is made when it first reports, and dropped once the worker is gone and its
line has scrolled out of view).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from poolscope.core.telemetry import RingBuffer, TelemetrySample
from poolscope.gui.bridge import ClusterSample
from poolscope.gui.widgets.plotting import (
    HISTORY_CHOICES,
    history_combo,
    live_curve,
    make_plot,
    remove_curve,
    text_colour,
)

__all__ = ["CLUSTER_VIEW", "CpuGraph", "HEATMAP_ABOVE", "LOCAL_VIEW"]

#: The two views of the graph: this machine's cores, or the cluster's workers.
LOCAL_VIEW = "local"
CLUSTER_VIEW = "cluster"

#: With more logical cores than this, the graph draws a heat-map strip per core instead of curves.
HEATMAP_ABOVE = 16
#: Fastest sampling the ring buffer is sized for (seconds between samples).
MIN_SAMPLE_INTERVAL = 0.2
#: Fastest cluster polling a Dask worker's ring buffer is sized for (seconds between readings).
MIN_CLUSTER_INTERVAL = 0.25


class CpuGraph(QWidget):
    """One curve (or heat-map row) per logical core over a rolling history."""


    def __init__(self, cores: int, *, history: int = HISTORY_CHOICES[0], heatmap_above: int = HEATMAP_ABOVE,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cores = cores
        self.heatmap_mode = cores > heatmap_above
        self.history = history
        capacity = int(max(HISTORY_CHOICES) / MIN_SAMPLE_INTERVAL) + 1
        self.buffer = RingBuffer(capacity, width=cores)  # time.monotonic() -> load per core, percent
        self.cluster: dict[str, RingBuffer] = {}  # Dask worker address -> its CPU %, oldest first
        self.cluster_curves: dict[str, pg.PlotDataItem] = {}  # address -> its curve, made once
        self._cluster_colours = 0  # curves made so far: the next one's colour
        self._cluster_y_max = 0.0
        self._cluster_seen = False  # a cluster reading has arrived (the view turns to it once)
        self._cluster_now: set[str] = set()  # the addresses of the latest reading: the workers there are now

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        self.title = QLabel(f"CPU per core ({cores} logical)")
        self.title.setStyleSheet("font-weight: bold;")
        self.average = QLabel("")
        self.average.setObjectName("cpu_average")
        self.view_combo = QComboBox()
        self.view_combo.setObjectName("cpu_view")
        self.view_combo.addItem("This machine", LOCAL_VIEW)
        self.view_combo.addItem("Cluster workers", CLUSTER_VIEW)
        self.view_combo.setToolTip("This machine's cores, or the CPU of each Dask worker of the cluster")
        self.view_combo.setVisible(False)  # shown once a cluster reports
        self.view_combo.currentIndexChanged.connect(lambda i: self.set_view(str(self.view_combo.itemData(i))))
        self.history_combo = history_combo("cpu_history", history, self.set_history)
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.average)
        header.addWidget(self.view_combo)
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
                # a wide pen goes through Qt's stroker: 16 curves took 55 ms a frame at 1.5 px, 14 ms at 1 px
                self.curves.append(live_curve(self.plot, colour, name=f"cpu{core}", width=1.5 if cores <= 4 else 1))
            item.setYRange(-2, 104, padding=0)  # a core at 100% stays in view, above the frame's edge
        item.setXRange(-history, 0, padding=0)

        self.cluster_plot = make_plot(left="CPU % per worker")
        self.cluster_plot.setObjectName("cluster_plot")
        cluster_item = self.cluster_plot.getPlotItem()
        self.cluster_legend = cluster_item.addLegend(offset=(6, 4), colCount=4, labelTextSize="8pt",
                                                     labelTextColor=text_colour())
        self.cluster_legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        cluster_item.setXRange(-history, 0, padding=0)
        cluster_item.setYRange(-2, 104, padding=0)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plot)
        self.stack.addWidget(self.cluster_plot)
        layout.addWidget(self.stack, 1)

    # -- data ------------------------------------------------------------------------------------

    def add_samples(self, samples: Iterable[TelemetrySample]) -> None:
        for sample in samples:
            self.add_sample(sample.time, sample.cpu)

    def add_sample(self, t: float, loads: np.ndarray) -> None:
        """Append one reading: a load per core (CpuSampler's, always ``cores`` wide)."""
        self.buffer.append(t, loads)

    def add_cluster_samples(self, samples: Iterable[ClusterSample]) -> None:
        """Append readings of the cluster's workers; the first ever turns the graph to the cluster."""
        added = False
        for sample in samples:
            for address, cpu in sample.cpu.items():
                buffer = self.cluster.get(address)
                if buffer is None:
                    buffer = self.cluster[address] = RingBuffer(int(max(HISTORY_CHOICES) / MIN_CLUSTER_INTERVAL) + 1)
                    self._make_cluster_curve(address, sample.labels.get(address, address))
                    added = True
                buffer.append(sample.time, cpu)
            if set(sample.cpu) != self._cluster_now:
                self._cluster_now = set(sample.cpu)
                added = True
            if sample.cpu and not self._cluster_seen:
                self._cluster_seen = True
                self.view_combo.setVisible(True)
                self.set_view(CLUSTER_VIEW)
        if added:  # new workers, or some gone
            self._update_title()

    def _make_cluster_curve(self, address: str, label: str) -> None:
        colour = pg.intColor(self._cluster_colours, hues=8, values=1, maxValue=220)
        self._cluster_colours += 1
        self.cluster_curves[address] = live_curve(self.cluster_plot, colour, name=label, width=2)

    def _forget_cluster_worker(self, address: str) -> None:
        self.cluster.pop(address, None)
        curve = self.cluster_curves.pop(address, None)
        if curve is not None:
            remove_curve(self.cluster_plot, self.cluster_legend, curve)

    @property
    def view(self) -> str:
        return LOCAL_VIEW if self.stack.currentIndex() == 0 else CLUSTER_VIEW

    def set_view(self, view: str) -> None:
        """Show this machine's cores (LOCAL_VIEW) or the cluster's workers (CLUSTER_VIEW)."""
        index = 1 if view == CLUSTER_VIEW else 0
        if self.view_combo.currentIndex() != index:
            self.view_combo.setCurrentIndex(index)  # comes back here through the signal
            return
        if self.stack.currentIndex() != index:
            self.stack.setCurrentIndex(index)
            self.refresh()
        self._update_title()

    def _update_title(self) -> None:
        if self.view == CLUSTER_VIEW:
            self.title.setText(f"CPU per Dask worker ({len(self._cluster_now)})")
        else:
            self.title.setText(f"CPU per core ({self.cores} logical)")

    def set_history(self, seconds: int) -> None:
        self.history = seconds
        self.cluster_plot.getPlotItem().setXRange(-seconds, 0, padding=0)
        self.plot.getPlotItem().setXRange(-seconds, 0, padding=0)
        index = self.history_combo.findData(seconds)
        if index >= 0 and index != self.history_combo.currentIndex():
            self.history_combo.setCurrentIndex(index)
        self.refresh()

    # -- drawing ---------------------------------------------------------------------------------

    def refresh(self, now: float | None = None) -> None:
        """Redraw the visible history (called by the window's frame timer)."""
        now = time.monotonic() if now is None else now
        if self.view == CLUSTER_VIEW:
            self._refresh_cluster(now)
            return
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

    def _refresh_cluster(self, now: float) -> None:
        start = now - self.history - 1.0
        y_max = 0.0
        latest: list[float] = []
        for address in list(self.cluster):
            buffer = self.cluster[address]
            last = buffer.last_time()
            if last is None or last < start:
                self._forget_cluster_worker(address)  # gone, and its line has scrolled out of view
                continue
            times, values = buffer.since(start)
            curve = self.cluster_curves[address]
            if times.size:
                curve.setData(times - now, values[:, 0])
                y_max = max(y_max, float(values[:, 0].max()))
                if last >= now - 5.0:  # still reporting
                    latest.append(float(values[-1, 0]))
            else:
                curve.setData([], [])
        # 100% is one core; a worker with several threads can use more: the range grows to show it
        target = 104.0 if y_max <= 100 else float(np.ceil(y_max / 50.0) * 50 + 4)
        if target != self._cluster_y_max:
            self._cluster_y_max = target
            self.cluster_plot.getPlotItem().setYRange(-2, target, padding=0)
        if latest:
            self.average.setText(f"now {sum(latest) / len(latest):.0f}% average of {len(latest)}")
        else:
            self.average.setText("no worker reporting")

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

    def cluster_curve_data(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """What each Dask worker's curve shows now (tests)."""
        return {address: curve.getData() for address, curve in self.cluster_curves.items()}
