"""The window on the desktop: its icon, the Help menu (About, keyboard shortcuts)."""

from __future__ import annotations

from PySide6.QtCore import QSize


def test_the_window_shows_the_application_icon(fake_window):
    icon = fake_window.windowIcon()
    assert not icon.isNull()
    image = icon.pixmap(QSize(16, 16)).toImage()
    assert image.width() == 16 and image.pixelColor(8, 8).alpha() == 255  # drawn, not an empty pixmap
