"""Help > About: what poolscope is, and the versions of what it runs on, read when asked."""

from __future__ import annotations

import importlib
import platform
from importlib import metadata

from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from poolscope.gui.app import application_icon

__all__ = ["AboutDialog", "versions"]

NOT_INSTALLED = "not installed"


def _module_version(module: str, distribution: str | None = None) -> str:
    """The running module's ``__version__``, else its distribution's; NOT_INSTALLED when neither exists."""
    try:
        version = getattr(importlib.import_module(module), "__version__", None)
    except ImportError:
        version = None
    if version:
        return str(version)
    try:
        return metadata.version(distribution or module)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def versions() -> dict[str, str]:
    """Name -> version of poolscope and what it runs on, as this process has them now."""
    import PySide6

    found = {
        "poolscope": _module_version("poolscope"),
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "pyqtgraph": _module_version("pyqtgraph"),
        "psutil": _module_version("psutil"),
        "numpy": _module_version("numpy"),
    }
    # Dask is optional (the dask backend); not imported here if it is not already: its metadata says it
    for name in ("dask", "distributed"):
        try:
            found[f"Dask ({name})"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[f"Dask ({name})"] = NOT_INSTALLED
    return found


class AboutDialog(QDialog):
    """What poolscope is and the versions it runs with (selectable, to paste into a bug report)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("about_dialog")
        self.setWindowTitle("About poolscope")
        layout = QVBoxLayout(self)
        heading = QHBoxLayout()
        icon = QLabel()
        icon.setPixmap(application_icon().pixmap(48, 48))
        title = QLabel("<b>poolscope</b>")
        title.setStyleSheet("font-size: 16pt;")
        heading.addWidget(icon)
        heading.addWidget(title, 1)
        layout.addLayout(heading)
        layout.addWidget(QLabel("A desktop job monitor for CPU-bound Python work: a process pool\n"
                                "you can watch, cancel and terminate."))
        form = QFormLayout()
        self.versions = versions()
        for name, version in self.versions.items():
            value = QLabel(version)
            value.setObjectName(f"version_{name}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{name}:", value)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        copy.setToolTip("Copy the versions, for a bug report")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text()))
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)

    def text(self) -> str:
        """The versions as lines of text (tests; a bug report)."""
        return "\n".join(f"{name}: {version}" for name, version in self.versions.items())
