"""Colours that stay legible in light and dark palettes: the WCAG 2 contrast ratio, and a colour
made lighter or darker (same hue) until it stands out enough from a given background.

The window's fixed colours (a job's state, a log line's level, a graph's series) are drawn
through :func:`legible` against the palette's Base, so a dark palette never shows dark red on
black. Text needs 4.5:1 (WCAG AA), lines and areas 3:1.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["TEXT_CONTRAST", "composite", "contrast_ratio", "legible", "on_base"]

#: The least contrast of text with its background (WCAG 2, level AA).
TEXT_CONTRAST = 4.5


def _luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())


def composite(colour: QColor, background: QColor) -> QColor:
    """``colour`` (with its alpha) painted over the opaque ``background``: the colour one sees."""
    alpha = colour.alphaF()
    return QColor.fromRgbF(*(alpha * getattr(colour, c)() + (1 - alpha) * getattr(background, c)()
                             for c in ("redF", "greenF", "blueF")))


def contrast_ratio(foreground: QColor, background: QColor) -> float:
    """The WCAG 2 contrast ratio (1 to 21) of ``foreground`` (composited if translucent) on ``background``."""
    seen = composite(foreground, background) if foreground.alpha() < 255 else foreground
    lighter, darker = sorted((_luminance(seen), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def legible(colour: QColor | str, background: QColor, minimum: float = 3.0) -> QColor:
    """``colour``, made lighter or darker (same hue) until it stands out ``minimum``:1 from ``background``."""
    result = QColor(colour)
    towards_light = _luminance(background) < 0.18
    for _ in range(40):
        if contrast_ratio(result, background) >= minimum:
            break
        hue, saturation, lightness, alpha = result.getHslF()
        lightness = min(1.0, lightness + 0.04) if towards_light else max(0.0, lightness - 0.04)
        result = QColor.fromHslF(max(hue, 0.0), saturation, lightness, alpha)
    return result


def on_base(colour: QColor | str, minimum: float = TEXT_CONTRAST) -> QColor:
    """``colour`` as text on the application palette's Base (a table's or a list's background)."""
    base = QApplication.palette().color(QPalette.ColorRole.Base).rgba()
    key = (colour if isinstance(colour, str) else colour.rgba(), base, minimum)
    found = _ON_BASE.get(key)
    if found is None:  # a table asks for the same few colours at every repaint: work each out once
        if len(_ON_BASE) > 256:
            _ON_BASE.clear()
        found = _ON_BASE[key] = legible(colour, QColor.fromRgba(base), minimum)
    return found


_ON_BASE: dict[tuple[str | int, int, float], QColor] = {}  # (colour, base rgba, minimum) -> on_base(); GUI thread
