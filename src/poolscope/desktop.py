"""The desktop entry and the icon: where the package keeps them, and installing them for the user.

Both ship inside the package (``poolscope/resources/``, package data; ``resources/`` of the
checkout links to them), so an installed copy finds them with :mod:`importlib.resources`.
:func:`install_desktop` copies them where a freedesktop.org desktop looks for a user's own
applications and icons, under ``$XDG_DATA_HOME`` (default ``~/.local/share``):
``applications/poolscope.desktop`` and ``icons/hicolor/scalable/apps/poolscope.svg``. The
installed entry starts the interpreter that ran the install (``python -m poolscope gui``), so it
works from a virtual environment that is not on the desktop's ``PATH``.

No Qt here: ``poolscope install-desktop`` runs without a display.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

__all__ = ["APP_ID", "DESKTOP_FILE", "ICON_FILE", "desktop_entry", "icon_path", "install_desktop",
           "installed_paths", "resource_path", "user_data_home"]

#: The application's name on the desktop: the icon's name, the entry's file name, the window class.
APP_ID = "poolscope"
DESKTOP_FILE = f"{APP_ID}.desktop"
ICON_FILE = f"{APP_ID}.svg"
_RESOURCES = "resources"  # the package-data folder inside poolscope/


def resource_path(name: str) -> Path:
    """The path of a file of the package's ``resources/`` folder (``FileNotFoundError`` if absent)."""
    path = Path(str(resources.files("poolscope").joinpath(_RESOURCES).joinpath(name)))
    if not path.is_file():
        raise FileNotFoundError(f"poolscope's {name} is not where the package keeps it: {path}")
    return path


def icon_path() -> Path:
    """The application's icon (SVG)."""
    return resource_path(ICON_FILE)


def user_data_home(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME`` when set to an absolute path, else ``~/.local/share`` (the XDG rule)."""
    value = (os.environ if environ is None else environ).get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "share"


def installed_paths(data_home: Path) -> tuple[Path, Path]:
    """Where :func:`install_desktop` puts (the entry, the icon) under ``data_home``."""
    return (data_home / "applications" / DESKTOP_FILE,
            data_home / "icons" / "hicolor" / "scalable" / "apps" / ICON_FILE)


def _exec_argument(text: str) -> str:
    """One argument of an Exec line, quoted as the Desktop Entry Specification asks when it must be."""
    reserved = set(' \t\n"\'\\><~|&;$*?#()`')
    if text and not (set(text) & reserved):
        return text
    escaped = "".join("\\" + char if char in '"`$\\' else char for char in text)
    return f'"{escaped}"'


def desktop_entry(python: str | None = None) -> str:
    """The shipped entry with its command made this installation's: ``python -m poolscope gui``."""
    python = python or sys.executable
    command = " ".join(_exec_argument(part) for part in (python, "-m", "poolscope", "gui"))
    lines = []
    for line in resource_path(DESKTOP_FILE).read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            # a % in a path would be read as a field code: it is written %% (the specification's rule)
            line = "Exec=" + command.replace("%", "%%")
        elif line.startswith("TryExec="):
            line = "TryExec=" + python
        lines.append(line)
    return "\n".join(lines) + "\n"


def install_desktop(data_home: Path | None = None, *, uninstall: bool = False) -> list[Path]:
    """Install the entry and the icon under ``data_home`` (default :func:`user_data_home`), or remove
    them (``uninstall``). Returns the files written, or removed (only those that were there).
    Raises ``OSError`` when a file cannot be written or removed."""
    data_home = user_data_home() if data_home is None else data_home
    entry, icon = installed_paths(data_home)
    if uninstall:
        removed = []
        for path in (entry, icon):
            if path.exists():
                path.unlink()
                removed.append(path)
        return removed
    for path in (entry, icon):
        path.parent.mkdir(parents=True, exist_ok=True)
    _write(entry, desktop_entry().encode("utf-8"))
    _write(icon, icon_path().read_bytes())
    return [entry, icon]


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` whole or not at all: a desktop never reads half an entry."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
