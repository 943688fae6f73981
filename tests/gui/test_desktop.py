"""The window on the desktop: its icon, the Help menu (About, keyboard shortcuts)."""

from __future__ import annotations

from PySide6.QtCore import QSize


def test_the_window_shows_the_application_icon(fake_window):
    icon = fake_window.windowIcon()
    assert not icon.isNull()
    image = icon.pixmap(QSize(16, 16)).toImage()
    assert image.width() == 16 and image.pixelColor(8, 8).alpha() == 255  # drawn, not an empty pixmap


def menu_actions(menu) -> list:
    """Every action of a menu and its submenus (not separators, not the submenus' own entries)."""
    found = []
    for action in menu.actions():
        if action.isSeparator():
            continue
        if action.menu() is not None:
            found += menu_actions(action.menu())
        else:
            found.append(action)
    return found


def test_every_menu_action_has_a_key_from_the_one_table(fake_window):
    from PySide6.QtGui import QAction

    from poolscope.gui.shortcuts import SHORTCUTS, key_sequence, shortcut

    window = fake_window
    actions = [action for top in window.menuBar().actions() for action in menu_actions(top.menu())]
    assert len(actions) >= 16
    for action in actions:
        assert not action.shortcut().isEmpty(), f"{action.text()!r} has no key"
        row = shortcut(action.objectName())  # KeyError: an action the table does not list
        assert action.shortcut() == key_sequence(row.name) and action.text() == row.text
    # every row of the table is an action of the window (the dialog lists no key the window lacks)
    by_name = {action.objectName(): action for action in window.findChildren(QAction) if action.objectName()}
    missing = [row.name for row in SHORTCUTS if row.name not in by_name]
    assert not missing, missing
    assert all(by_name[row.name].shortcut() == key_sequence(row.name) for row in SHORTCUTS)
    keys = [key_sequence(row.name).toString() for row in SHORTCUTS]
    assert len(set(keys)) == len(keys), sorted(keys)  # no key does two things


def test_the_shortcuts_dialog_is_the_table(qtbot, fake_window):
    from poolscope.gui.shortcuts import SHORTCUTS, key_text

    window = fake_window
    window.findChild(type(window.quit_action), "keyboard_shortcuts").trigger()
    dialog = window.help_dialog
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and dialog.objectName() == "shortcuts_dialog"
    rows = dialog.rows()
    assert len(rows) == len(SHORTCUTS)
    for (group, text, key), row in zip(rows, SHORTCUTS, strict=True):
        assert group == row.group and text == row.text.rstrip("…") and key.startswith(key_text(row.name))
    assert ("Log", "Copy", f"{key_text('copy_log')} (in the log)") in rows


def test_about_reads_the_versions_at_run_time(qtbot, fake_window, monkeypatch):
    import platform
    from importlib import metadata

    import numpy
    import psutil
    import pyqtgraph
    import PySide6
    from PySide6.QtCore import qVersion

    import poolscope
    from poolscope.gui import about

    real_version = metadata.version

    def no_dask(name):
        if name in ("dask", "distributed"):
            raise metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(about.metadata, "version", no_dask)
    found = about.versions()
    assert found["poolscope"] == poolscope.__version__
    assert found["Python"].startswith(platform.python_version())
    assert found["Qt"] == qVersion() and found["PySide6"] == PySide6.__version__
    assert (found["pyqtgraph"], found["psutil"], found["numpy"]) == (pyqtgraph.__version__, psutil.__version__,
                                                                     numpy.__version__)
    assert found["Dask (dask)"] == "not installed" and found["Dask (distributed)"] == "not installed"
    monkeypatch.setattr(about.metadata, "version", lambda name: "9.8.7" if name == "dask" else real_version(name))
    assert about.versions()["Dask (dask)"] == "9.8.7"

    fake_window.findChild(type(fake_window.quit_action), "about").trigger()
    dialog = fake_window.help_dialog
    qtbot.addWidget(dialog)
    assert dialog.objectName() == "about_dialog" and f"pyqtgraph: {pyqtgraph.__version__}" in dialog.text()
