"""How the main window's panes are laid out: the launch side (the form scrolls, Start stays in
view), the splitters, the tables' columns, and the graphs side by side or stacked."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from poolscope.gui.models import JobsModel
from poolscope.gui.widgets.launch_panel import LaunchPanel

#: Below this width of the right-hand side (px) the two graphs stack instead of standing side by side.
GRAPHS_SIDE_BY_SIDE_MIN = 760
#: The columns of the jobs and workers tables, in the order shown: what tells most first, so that
#: a narrow window still shows it (columns not named keep their place after these).
JOB_COLUMN_ORDER = ("ID", "Name", "State", "Progress", "Done / total", "ETA", "Rate", "Elapsed", "Failed")
WORKER_COLUMN_ORDER = ("PID", "State", "CPU %", "Memory", "Job", "Task", "Tasks done", "Worker")
#: The width of the jobs table's progress bars (px).
PROGRESS_WIDTH = 100
#: A typical value of the jobs table's columns, to size them by.
JOB_TYPICAL = {"ID": "999", "Name": "mandelbrot", "State": "cancelling", "Done / total": "88,888 / 100,000",
               "ETA": "1:23:45", "Rate": "12,345/s", "Queued": "12:34", "Running": "1:23:45", "Failed": "1,234"}
#: The window's size the first time it opens (px), on a screen big enough for it.
FIRST_SIZE = (1500, 950)


def launch_side(panel: LaunchPanel) -> tuple[QWidget, QScrollArea]:
    """The launch panel in a scroll area with its Start button under it, in view however short
    the window; returns the side and its scroll area."""
    scroll = QScrollArea()
    scroll.setWidget(panel)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(panel.minimumSizeHint().width() + 24)
    scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes into the panel's fields, not the frame
    side = QWidget()
    side.setObjectName("launch_side")
    layout = QVBoxLayout(side)
    layout.setContentsMargins(0, 0, 0, 4)
    layout.addWidget(scroll, 1)
    panel_layout = panel.layout()
    assert panel_layout is not None  # the panel lays itself out in its constructor
    panel_layout.removeWidget(panel.start_button)
    layout.addWidget(panel.start_button)
    return side, scroll


def splitter(name: str, orientation: Qt.Orientation, *widgets: QWidget) -> QSplitter:
    """A splitter of ``widgets`` (none collapses), named for its saved state."""
    made = QSplitter(orientation)
    made.setObjectName(name)
    made.setChildrenCollapsible(False)
    for widget in widgets:
        made.addWidget(widget)
    return made


def arrange_tables(jobs: QTableView, workers: QTableView) -> None:
    """Show the tables' most telling columns first (JOB_COLUMN_ORDER, WORKER_COLUMN_ORDER), the
    jobs table's columns as wide as a typical value; Tab leaves a table."""
    for view, order in ((jobs, JOB_COLUMN_ORDER), (workers, WORKER_COLUMN_ORDER)):
        model, header = view.model(), view.horizontalHeader()
        names = [model.headerData(column, Qt.Orientation.Horizontal) for column in range(model.columnCount())]
        for position, name in enumerate(name for name in order if name in names):
            header.moveSection(header.visualIndex(names.index(name)), position)
        view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.setTabKeyNavigation(False)  # Tab leaves the table; the arrow keys move between cells
    # The progress bar gets a fixed width and the last column the width to spare: a stretched
    # bar kept the width it had in a wide window and pushed Done / total and ETA out of a narrow one.
    header, columns = jobs.horizontalHeader(), JobsModel.COLUMNS
    if "Progress" in columns:
        header.setSectionResizeMode(columns.index("Progress"), QHeaderView.ResizeMode.Interactive)
        header.resizeSection(columns.index("Progress"), PROGRESS_WIDTH)
    header.setStretchLastSection(True)
    # the other columns as wide as a typical value (or their title) needs
    metrics, header_metrics = jobs.fontMetrics(), header.fontMetrics()
    for name, typical in JOB_TYPICAL.items():
        if name in columns:
            header.resizeSection(columns.index(name), 14 + max(metrics.horizontalAdvance(typical),
                                                             header_metrics.horizontalAdvance(name)))


def arrange_graphs(right: QSplitter, graphs: QSplitter) -> None:
    """The graphs side by side when the right-hand side is wide enough, else one above the other."""
    orientation = Qt.Orientation.Horizontal if right.width() >= GRAPHS_SIDE_BY_SIDE_MIN else Qt.Orientation.Vertical
    if graphs.orientation() != orientation:
        graphs.setOrientation(orientation)
        graphs.setSizes([1, 1])


def first_size(window: QMainWindow) -> None:
    """The first size, before saved settings: roomy, but never larger than the screen's free area."""
    available = window.screen().availableGeometry()
    window.resize(min(FIRST_SIZE[0], available.width() * 9 // 10), min(FIRST_SIZE[1], available.height() * 9 // 10))


def first_field(panel: QWidget, window: QWidget) -> QWidget:
    """The first field of ``panel`` that takes Tab (shown in ``window`` and enabled), or the panel."""
    field: QWidget | None = panel.nextInFocusChain()
    while field is not None and field is not panel and not (
            field.focusPolicy() & Qt.FocusPolicy.TabFocus and field.isVisibleTo(window) and field.isEnabled()):
        field = field.nextInFocusChain()
    return field or panel
