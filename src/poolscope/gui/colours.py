"""Colours that stay legible in light and dark palettes: the WCAG 2 contrast ratio, and a colour
made lighter or darker (same hue) until it stands out enough from a given background.

The window's fixed colours (a job's state, a log line's level, a graph's series) are drawn
through :func:`legible` against the palette's Base, so a dark palette never shows dark red on
black. Text needs 4.5:1 (WCAG AA), lines and areas 3:1.

The window follows the desktop's light or dark scheme while it runs (:func:`follow_colour_scheme`):
where the platform gives Qt a palette for the new scheme, Qt applies it; where it only says the
scheme changed, the application takes :func:`dark_palette` or the style's light one. Either way
every widget gets a PaletteChange, and the graphs take the new colours (their ``restyle``).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["TEXT_CONTRAST", "composite", "contrast_ratio", "dark_palette", "follow_colour_scheme", "is_dark",
           "legible", "on_base"]

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
        hue, saturation = result.hslHueF(), result.hslSaturationF()
        lightness, alpha = result.lightnessF(), result.alphaF()
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


#: The dark palette the window takes when the desktop says "dark" without giving Qt a palette
#: (the colours of Qt's Fusion style in a dark desktop theme).
_DARK = {
    QPalette.ColorRole.Window: "#353535", QPalette.ColorRole.WindowText: "#ffffff",
    QPalette.ColorRole.Base: "#2a2a2a", QPalette.ColorRole.AlternateBase: "#424242",
    QPalette.ColorRole.Text: "#ffffff", QPalette.ColorRole.Button: "#353535",
    QPalette.ColorRole.ButtonText: "#ffffff", QPalette.ColorRole.BrightText: "#ff5555",
    QPalette.ColorRole.Highlight: "#2a82da", QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#5eb1ff", QPalette.ColorRole.Mid: "#4a4a4a", QPalette.ColorRole.Dark: "#232323",
    QPalette.ColorRole.Light: "#505050", QPalette.ColorRole.Midlight: "#3e3e3e", QPalette.ColorRole.Shadow: "#141414",
    QPalette.ColorRole.PlaceholderText: "#a0a0a0", QPalette.ColorRole.ToolTipBase: "#353535",
    QPalette.ColorRole.ToolTipText: "#ffffff",
}


def dark_palette() -> QPalette:
    """A dark palette for Qt's widgets (disabled text greyed)."""
    palette = QPalette()
    for role, colour in _DARK.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7f7f7f"))
    return palette


def is_dark(palette: QPalette) -> bool:
    """Whether ``palette`` draws light text on a dark background."""
    return _luminance(palette.color(QPalette.ColorRole.Base)) < _luminance(palette.color(QPalette.ColorRole.Text))


def follow_colour_scheme(app: QApplication) -> Callable[[Qt.ColorScheme], None]:
    """Keep the application's palette on the desktop's colour scheme, now and whenever it changes.
    Returns the slot connected to QStyleHints.colorSchemeChanged."""
    hints = app.styleHints()

    def take(scheme: Qt.ColorScheme) -> None:
        if scheme == Qt.ColorScheme.Unknown or is_dark(app.palette()) == (scheme == Qt.ColorScheme.Dark):
            return  # not said, or Qt's palette already is the scheme's
        style = app.style()
        app.setPalette(dark_palette() if scheme == Qt.ColorScheme.Dark else style.standardPalette())

    hints.colorSchemeChanged.connect(take)
    take(hints.colorScheme())
    return take
