"""A Python file dropped on the launch panel is chosen as File… chooses one: its functions are listed
and the first is picked, wherever on the panel it lands (a field would otherwise paste its URL)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from poolscope.gui.widgets.launch_panel import functions_in_file
from tests.conftest import SAMPLE_TASKS


def file_mime(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    mime.setText("\n".join(QUrl.fromLocalFile(str(path)).toString() for path in paths))  # as file managers do
    return mime


def drop(widget, mime: QMimeData, position: QPoint | None = None) -> tuple[bool, bool]:
    """Drag ``mime`` onto ``widget`` and drop it there: (the drag was accepted, the drop was)."""
    position = position or widget.rect().center()
    enter = QDragEnterEvent(position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False, False
    event = QDropEvent(QPointF(position), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return True, event.isAccepted()


def test_a_python_file_dropped_on_the_panel_or_a_field_is_the_target_file(fake_window):
    panel = fake_window.launch_panel
    names = functions_in_file(str(SAMPLE_TASKS))
    for where in (panel, panel.target_edit, panel.kwargs_edit):
        panel.set_builtin("primes")
        assert panel.target_edit.text() == "primes"
        assert drop(where, file_mime(SAMPLE_TASKS)) == (True, True)
        assert panel.target_edit.text() == f"{SAMPLE_TASKS}:{names[0]}", where.objectName()
        assert [panel.function_combo.itemText(i) for i in range(panel.function_combo.count())] == names
        assert panel.function_combo.isVisibleTo(panel)
        assert panel.kwargs_edit.text() == ""  # nothing pasted into the field it landed on


def test_other_drops_are_not_taken(fake_window, tmp_path):
    panel = fake_window.launch_panel
    panel.set_builtin("primes")
    text_file = tmp_path / "inputs.txt"
    text_file.write_text("1\n")
    assert drop(panel, file_mime(text_file)) == (False, False)
    assert drop(panel, file_mime(SAMPLE_TASKS, SAMPLE_TASKS.parent / "__init__.py")) == (False, False)  # two files
    assert drop(panel, file_mime(tmp_path / "gone.py")) == (False, False)  # not there
    plain = QMimeData()
    plain.setText("42")
    assert drop(panel, plain) == (False, False)
    assert panel.target_edit.text() == "primes"
