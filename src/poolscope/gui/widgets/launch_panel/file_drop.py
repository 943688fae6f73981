"""A Python file dropped anywhere on the launch panel, chosen as the target file as "File…" would."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QMimeData, QObject, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QLineEdit

if TYPE_CHECKING:
    from poolscope.gui.widgets.launch_panel.panel import LaunchPanel

__all__ = ["PythonFileDrops", "dropped_python_file"]


def dropped_python_file(mime: QMimeData) -> str | None:
    """The path of the one local ``.py`` file a drag carries, or None."""
    paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []
    return paths[0] if len(paths) == 1 and paths[0].endswith(".py") and os.path.isfile(paths[0]) else None


class PythonFileDrops(QObject):
    """Takes a Python file dropped on the launch panel, on its free space or on any of its fields
    (a line edit would otherwise paste the file's URL into itself), and chooses it as the target
    file (:meth:`LaunchPanel.choose_target_file`). Other drops go where they went before."""

    def __init__(self, panel: LaunchPanel) -> None:
        super().__init__(panel)
        self.panel = panel
        panel.setAcceptDrops(True)
        for widget in [panel, *panel.findChildren(QLineEdit)]:
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            return False
        assert isinstance(event, QDropEvent)  # QDragEnterEvent and QDragMoveEvent are QDropEvents
        path = dropped_python_file(event.mimeData())
        if path is None:
            return False
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        if kind == QEvent.Type.Drop:
            self.panel.choose_target_file(path)
        return True
