"""The jobs table's progress column: a bar of a job's done, failed and cancelled tasks, painted
from the jobs model's SEGMENTS_ROLE."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from poolscope.gui.models.base import SEGMENTS_ROLE, ModelIndex

__all__ = ["SEGMENT_COLOURS", "ProgressDelegate"]

#: The progress bar's segments: done, failed, cancelled. Mid tones that stand apart on a light and
#: on a dark base (contrast over 3:1 on white and on #1e1e1e), and from each other in hue and in
#: pattern (cancelled is hatched), so they do not rest on colour alone.
SEGMENT_COLOURS = {"done": QColor("#16a34a"), "failed": QColor("#dc2626"), "cancelled": QColor("#d97706")}


class ProgressDelegate(QStyledItemDelegate):
    """Paints a job's tasks as a bar from the model's SEGMENTS_ROLE: done, failed and cancelled
    apart (cancelled hatched), the rest empty, and the percent done over it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        segments = index.data(SEGMENTS_ROLE)
        palette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, palette.highlight())
        bar = QRectF(option.rect.adjusted(3, 4, -3, -4))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.fillRect(bar, palette.color(QPalette.ColorRole.Base))
        text = "…"
        if segments is not None:
            done, failed, cancelled, total = segments
            if total:
                left = bar.left()
                for count, name in ((done, "done"), (failed, "failed"), (cancelled, "cancelled")):
                    width = bar.width() * min(count, total) / total
                    if width <= 0:
                        continue
                    piece = QRectF(left, bar.top(), min(width, bar.right() - left), bar.height())
                    colour = SEGMENT_COLOURS[name]
                    if name == "cancelled":
                        painter.fillRect(piece, QBrush(colour, Qt.BrushStyle.BDiagPattern))
                    else:
                        painter.fillRect(piece, colour)
                    left += width
            percent = index.data(Qt.ItemDataRole.DisplayRole)
            text = percent or ("…" if not total else "")
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawRect(bar.adjusted(0, 0, -1, -1))
        if text:
            # the figure on a patch of the base colour, so it reads over any segment in any palette
            metrics = option.fontMetrics
            width = metrics.horizontalAdvance(text) + 8
            patch = QRectF(bar.center().x() - width / 2, bar.top() + 2, width, bar.height() - 4)
            background = palette.color(QPalette.ColorRole.Base)
            background.setAlpha(215)
            painter.fillRect(patch, background)
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            painter.drawText(bar, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
