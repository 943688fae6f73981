"""The CPU pane: per-core CPU load, live, at any core count; and, once a Dask cluster runs, one curve
per Dask worker, chosen with a selector ("This machine" / "Cluster workers"; the graph turns to the
cluster the first time one appears). :class:`CpuGraph` is the pane and its controls (view, smooth,
history, pause, hover, export); what it draws is another module's each:

- up to :data:`HEATMAP_ABOVE` cores, small multiples, a chart per core (``core_grid.py``);
- above, a heat map with a row per core (``core_heatmap.py``);
- the cluster's workers, a curve each (``cluster_cpu.py``).

The readings are kept, and cut to what is in view, by a Qt-free
:class:`~poolscope.monitor.cpu_history.CpuHistory`. The number of cores is the width of the
readings the sampler gives (:meth:`CpuGraph.add_sample`), not a count taken elsewhere: the graph
rebuilds itself for the first reading of another width. "Smooth" (the user's choice, off by
default) draws the mean over the last ``SMOOTH_SECONDS`` instead of each reading; the figures
then say so. :meth:`CpuGraph.refresh` redraws; the window calls it when samples arrive (the sample
rate), never on a timer of its own.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from poolscope.core.telemetry import RingBuffer, TelemetrySample
from poolscope.gui.shortcuts import make_action
from poolscope.gui.widgets.cluster_cpu import ClusterCpuPlot
from poolscope.gui.widgets.core_grid import CoreGrid
from poolscope.gui.widgets.core_heatmap import CoreHeatmap
from poolscope.gui.widgets.plotting import (
    HISTORY_CHOICES,
    context_menu,
    export_plot,
    export_widget,
    export_with_dialog,
    history_combo,
    paused_label,
)
from poolscope.monitor.cpu_history import SMOOTH_SECONDS, CpuHistory
from poolscope.monitor.views import ClusterSample

__all__ = ["CLUSTER_VIEW", "HEATMAP_ABOVE", "LOCAL_VIEW", "CpuGraph"]

#: The two views of the graph: this machine's cores, or the cluster's workers.
LOCAL_VIEW = "local"
CLUSTER_VIEW = "cluster"

#: With more logical cores than this, the graph draws a heat-map row per core instead of small multiples.
HEATMAP_ABOVE = 32


class CpuGraph(QWidget):
    """This machine's cores (small multiples, or a heat map) or the cluster's workers, over a rolling history."""

    def __init__(self, cores: int, *, history: int = HISTORY_CHOICES[0], heatmap_above: int = HEATMAP_ABOVE,
                 smooth: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cores = 0
        self.heatmap_above = heatmap_above
        self.history = history
        self.smooth = smooth
        self.grid: CoreGrid | None = None  # the small multiples (cores <= heatmap_above)
        self.core_heatmap: CoreHeatmap | None = None  # the heat map (more cores)
        # this machine's readings and the cluster's, as sampled (set_cores gives it its width)
        self.readings = CpuHistory(0, max(HISTORY_CHOICES))
        self._cluster_seen = False  # a cluster reading has arrived (the view turns to it once)
        self.paused = False  # set_paused(): nothing is drawn, the mouse zooms and pans
        self.drawn_at = time.monotonic()  # the time.monotonic() the drawn x (seconds before it) count from
        # this machine's view as last drawn: (seconds before drawn_at, load per core); what CSV exports
        self.drawn: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty((0, cores)))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold;")
        self.average = QLabel("")
        self.average.setObjectName("cpu_average")
        for label in (self.title, self.average):  # a narrow graph clips these rather than widen the window
            label.setMinimumWidth(24)
        self.view_combo = QComboBox()
        self.view_combo.setObjectName("cpu_view")
        self.view_combo.addItem("This machine", LOCAL_VIEW)
        self.view_combo.addItem("Cluster workers", CLUSTER_VIEW)
        self.view_combo.setToolTip("This machine's cores, or the CPU of each Dask worker of the cluster")
        self.view_combo.setVisible(False)  # shown once a cluster reports
        self.view_combo.currentIndexChanged.connect(lambda i: self.set_view(str(self.view_combo.itemData(i))))
        self.smooth_check = QCheckBox("Smooth")
        self.smooth_check.setObjectName("cpu_smooth")
        self.smooth_check.setToolTip(f"Draw the mean load over the last {SMOOTH_SECONDS:g} s at each reading, "
                                     "instead of each reading")
        self.smooth_check.setChecked(smooth)
        self.smooth_check.toggled.connect(self.set_smooth)
        # the same choice for a menu (the window's View menu)
        self.smooth_action = make_action("cpu_smooth_action", self, checkable=True)
        self.smooth_action.setChecked(smooth)
        self.smooth_action.toggled.connect(self.set_smooth)
        self.history_combo = history_combo("cpu_history", history, self.set_history)
        self.history_combo.setToolTip("How much history the graph shows")
        self.paused_mark = paused_label()
        header.addWidget(self.title)
        header.addWidget(self.paused_mark)
        header.addStretch(1)
        header.addWidget(self.average)
        header.addWidget(self.view_combo)
        header.addWidget(self.smooth_check)
        header.addWidget(self.history_combo)
        layout.addLayout(header)

        self.stack = QStackedWidget()
        self.stack.addWidget(QWidget())  # this machine's view: made by set_cores
        self.cluster_view = ClusterCpuPlot(history)
        self.stack.addWidget(self.cluster_view.plot)
        layout.addWidget(self.stack, 1)
        self.export_action = make_action("export_cpu_graph", self, self._export_asked,
                                         tip="Save the CPU graph as a PNG or SVG image, or its data as CSV")
        context_menu(self)
        self.set_cores(cores)

    # -- what is drawn ---------------------------------------------------------------------------

    @property
    def heatmap_mode(self) -> bool:
        return self.core_heatmap is not None

    @property
    def plot(self) -> pg.PlotWidget | None:
        """The heat map's plot (None: small multiples)."""
        return None if self.core_heatmap is None else self.core_heatmap.plot

    @property
    def heatmap(self) -> pg.ImageItem | None:
        """The heat map's image (None: small multiples)."""
        return None if self.core_heatmap is None else self.core_heatmap.image

    @property
    def buffer(self) -> RingBuffer:
        """This machine's readings: time.monotonic() -> load per core, percent."""
        return self.readings.loads

    @property
    def cluster_plot(self) -> pg.PlotWidget:
        return self.cluster_view.plot

    @property
    def cluster_legend(self) -> pg.LegendItem:
        return self.cluster_view.legend

    @property
    def cluster_curves(self) -> dict[str, pg.PlotDataItem]:
        """Dask worker address -> its curve, made once."""
        return self.cluster_view.curves

    def set_cores(self, cores: int) -> None:
        """Show ``cores`` cores: small multiples, or a heat map above ``heatmap_above``; history restarts."""
        if cores == self.cores:
            return
        self.cores = cores
        self.readings.set_cores(cores)
        old = self.stack.widget(0)
        view: QWidget
        if cores > self.heatmap_above:
            self.core_heatmap = CoreHeatmap(cores, self.history)
            self.core_heatmap.set_interactive(self.paused)
            view = self.core_heatmap.plot
            self.grid = None
        else:
            self.grid = view = CoreGrid(cores)
            self.grid.set_interactive(self.paused)
            self.core_heatmap = None
            self.smooth_check.setEnabled(True)
        current = self.stack.currentIndex()
        self.stack.insertWidget(0, view)
        if old is not None:
            self.stack.removeWidget(old)
            old.deleteLater()
        self.stack.setCurrentIndex(current)
        self._update_title()

    # -- data ------------------------------------------------------------------------------------

    def add_samples(self, samples: Iterable[TelemetrySample]) -> None:
        for sample in samples:
            self.add_sample(sample.time, sample.cpu)

    def add_sample(self, t: float, loads: np.ndarray) -> None:
        """Append one reading: a load per core, as wide as the sampler's core count."""
        width = len(loads)
        if width != self.cores:
            self.set_cores(width)
        self.readings.add_sample(t, loads)

    def add_cluster_samples(self, samples: Iterable[ClusterSample]) -> None:
        """Append readings of the cluster's workers; the first ever turns the graph to the cluster."""
        added = False
        for sample in samples:
            new, changed = self.readings.add_cluster_sample(sample)
            for address in new:
                self.cluster_view.add_worker(address, sample.labels.get(address, address))
            added = added or bool(new) or changed
            if sample.cpu and not self._cluster_seen:
                self._cluster_seen = True
                self.view_combo.setVisible(True)
                self.set_view(CLUSTER_VIEW)
        if added:  # new workers, or some gone
            self._update_title()

    # -- the controls ----------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.restyle()

    def restyle(self) -> None:
        """Take the application palette's colours (it changed: the desktop turned dark or light).
        The core grid paints with its palette anyway; the heat map's colours are its own."""
        self.cluster_view.restyle()
        if self.core_heatmap is not None:
            self.core_heatmap.restyle()
        self.paused_mark.setStyleSheet(self.paused_mark.styleSheet())  # its palette() colours, again

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
        self.smooth_check.setVisible(index == 0)
        self._update_title()

    def _update_title(self) -> None:
        if self.view == CLUSTER_VIEW:
            self.title.setText(f"CPU per Dask worker ({len(self.readings.cluster_now)})")
        else:
            self.title.setText(f"CPU per core ({self.cores} logical)")

    def set_history(self, seconds: int) -> None:
        self.history = seconds
        self.cluster_view.set_history(seconds)
        if self.core_heatmap is not None:
            self.core_heatmap.set_history(seconds)
        index = self.history_combo.findData(seconds)
        if index >= 0 and index != self.history_combo.currentIndex():
            self.history_combo.setCurrentIndex(index)
        self.refresh()

    def set_smooth(self, smooth: bool) -> None:
        """Draw the mean over SMOOTH_SECONDS at each reading (True) or each reading as it is."""
        changed = self.smooth != bool(smooth)
        self.smooth = bool(smooth)
        for control in (self.smooth_check, self.smooth_action):
            if control.isChecked() != self.smooth:
                control.setChecked(self.smooth)  # comes back here through its signal, unchanged
        if changed:
            self.refresh()

    def set_paused(self, paused: bool) -> None:
        """Pause (draw nothing new, PAUSED shown, the mouse zooms and pans) or go back to live."""
        if paused == self.paused:
            return
        self.paused = paused
        self.paused_mark.setVisible(paused)
        self.average.setVisible(not paused)  # "now" no longer is: the mark takes its room
        self.cluster_view.set_interactive(paused)
        if self.grid is not None:
            self.grid.set_interactive(paused)
        if self.core_heatmap is not None:
            self.core_heatmap.set_interactive(paused)
        if not paused:  # the live ranges, and what came meanwhile
            self.refresh()

    # -- hover and export ------------------------------------------------------------------------

    def _heatmap_hover_text(self, position: QPoint) -> str | None:
        assert self.core_heatmap is not None
        return self.core_heatmap.hover_text(position)

    def _cluster_hover_text(self, position: QPoint) -> str | None:
        return self.cluster_view.hover_text(position)

    def export(self, path: str) -> None:
        """Write the view shown to ``path``: .png or .svg (an image of the charts), or .csv of the
        data drawn (this machine: a row per reading, seconds before the drawing and a column per
        core; the cluster: pyqtgraph's (x, y) per worker). Raises ValueError for another suffix,
        OSError when the file cannot be written."""
        suffix = os.path.splitext(path)[1].lower()
        if self.view == CLUSTER_VIEW:
            export_plot(self.cluster_plot, path)
        elif suffix == ".csv":
            self._export_csv(path)
        elif self.plot is not None:
            export_plot(self.plot, path)
        elif suffix in (".png", ".svg"):
            assert self.grid is not None
            export_widget(self.grid, path)
        else:
            export_plot(self.cluster_plot, path)  # says which suffixes there are

    def _export_csv(self, path: str) -> None:
        x, values = self.drawn
        with open(path, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["seconds"] + [f"cpu{core}" for core in range(values.shape[1])])
            for t, row in zip(x, values, strict=True):
                writer.writerow([repr(float(t))] + [repr(float(value)) for value in row])

    def _export_asked(self) -> None:
        export_with_dialog(self, "poolscope-cpu", self.export)

    # -- drawing ---------------------------------------------------------------------------------

    def visible_loads(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """(seconds before ``now``, load per core) of the visible history, smoothed if asked."""
        return self.readings.visible_loads(now, self.history, self.smooth)

    def refresh(self, now: float | None = None) -> None:
        """Redraw the visible history (the window calls it when samples arrive); nothing while paused."""
        if self.paused:
            return
        now = time.monotonic() if now is None else now
        self.drawn_at = now
        if self.view == CLUSTER_VIEW:
            self._refresh_cluster(now)
            return
        if not len(self.readings.loads):
            return
        x, values = self.visible_loads(now)
        if x.size == 0:
            return
        self.drawn = (x, values)
        if self.core_heatmap is not None:
            self.core_heatmap.set_data(x, values, now)
        elif self.grid is not None:
            self.grid.set_data(x, values, self.history, smoothed=self.smooth, drawn_at=now)
        mean = float(values[-1].mean())
        over = f" ({SMOOTH_SECONDS:g} s mean)" if self.smooth else ""
        self.average.setText(f"now {mean:.0f}% average{over}")

    def _refresh_cluster(self, now: float) -> None:
        shown = self.readings.cluster_in_view(now, self.history)
        self.cluster_view.draw(shown, now)
        if shown.latest:
            self.average.setText(f"now {sum(shown.latest) / len(shown.latest):.0f}% average of {len(shown.latest)}")
        else:
            self.average.setText("no worker reporting")

    def figures(self) -> list[str]:
        """Each core's current load as the graph shows it (tests, screenshots)."""
        if self.grid is not None:
            return self.grid.figure_texts()
        if self.core_heatmap is None:
            return []
        return self.core_heatmap.figures()

    def surface(self) -> QWidget:
        """The widget this machine's view paints on (benchmarks count its paints)."""
        if self.core_heatmap is not None:
            return self.core_heatmap.plot.viewport()
        assert self.grid is not None
        return self.grid

    def cluster_curve_data(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """What each Dask worker's curve shows now (tests)."""
        return self.cluster_view.curve_data()
