"""The launch panel's "Run on" box: the backend a job runs on, from the registry, and the
scheduler address of a backend that takes one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from poolscope.core.backends import REGISTRY, backend_info
from poolscope.gui.widgets.launch_panel.fields import FormFields

__all__ = ["BACKEND_CHOICES", "BackendBox"]

#: The backends the panel offers, in order: (core name, label, what it is for), from the registry.
BACKEND_CHOICES = tuple((info.name, info.label, info.description) for info in REGISTRY.values())


class BackendBox(QGroupBox):
    """The backend's choice and description, and the scheduler row when it takes an address."""

    def __init__(self, fields: FormFields) -> None:
        super().__init__("Run on")
        self._fields = fields
        backend_layout = QVBoxLayout(self)
        self.backend_combo = QComboBox()
        self.backend_combo.setObjectName("backend")
        for name, label, description in BACKEND_CHOICES:
            self.backend_combo.addItem(label, name)
            self.backend_combo.setItemData(self.backend_combo.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        backend_layout.addWidget(self.backend_combo)
        self.backend_description = QLabel()
        self.backend_description.setObjectName("backend_description")
        self.backend_description.setWordWrap(True)
        self.backend_description.setStyleSheet("font-style: italic;")
        backend_layout.addWidget(self.backend_description)
        backend_layout.addWidget(fields.error_label("backend", self.backend_combo))
        self.scheduler_row = QWidget()
        scheduler_layout = QHBoxLayout(self.scheduler_row)
        scheduler_layout.setContentsMargins(0, 0, 0, 0)
        self.scheduler_edit = fields.text_field("scheduler", "empty: start a local cluster", "The address of a "
                                                "running Dask scheduler, e.g. tcp://10.0.0.5:8786 (the address "
                                                "'dask scheduler' prints); empty: start a local cluster")
        del fields.neutral["scheduler"]  # where jobs run is kept when the target changes
        scheduler_layout.addWidget(QLabel("Scheduler"))
        scheduler_layout.addWidget(self.scheduler_edit, 1)
        backend_layout.addWidget(self.scheduler_row)
        backend_layout.addWidget(fields.error_label("scheduler", self.scheduler_edit))
        self.backend_combo.currentIndexChanged.connect(self._backend_chosen)

    def backend(self) -> str:
        """The chosen backend's core name (processes, threads or dask)."""
        return str(self.backend_combo.currentData())

    def set_backend(self, name: str) -> None:
        index = self.backend_combo.findData(name)
        if index >= 0:
            self.backend_combo.setCurrentIndex(index)

    def scheduler_text(self) -> str:
        return self.scheduler_edit.text().strip()

    def set_scheduler_address(self, address: str | None) -> None:
        self.scheduler_edit.setText(address or "")
        self._fields.set_error("scheduler", "")

    def show_chosen(self) -> None:
        """Say what the chosen backend is, and what choosing it needs."""
        self._backend_chosen(self.backend_combo.currentIndex())

    def _backend_chosen(self, index: int) -> None:
        info = backend_info(self.backend_combo.itemData(max(0, index)))
        self.backend_description.setText(info.description)
        self.scheduler_row.setVisible(info.takes_scheduler)
        self._fields.set_error("scheduler", "")
        # Say at once what choosing a backend needs, rather than only when Start is pressed.
        self._fields.set_error("backend", "" if info.available() else info.install_hint)
