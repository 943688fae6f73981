"""The desktop entry and icon: shipped in the package, installed and removed for the user by
``poolscope install-desktop`` under $XDG_DATA_HOME."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from poolscope.desktop import desktop_entry, icon_path, install_desktop, installed_paths, resource_path, user_data_home

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "poolscope", *args], check=False, capture_output=True, text=True,
                          timeout=60,
                          env={**os.environ, "PYTHONPATH": str(SRC), **env})


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_the_package_keeps_an_icon_and_an_entry():
    root = ET.parse(icon_path()).getroot()
    assert root.tag.endswith("svg") and root.get("viewBox") == "0 0 64 64"
    entry = read_entry(resource_path("poolscope.desktop"))
    assert entry["Type"] == "Application" and entry["Icon"] == "poolscope" and entry["Terminal"] == "false"
    # the checkout's resources/ folder shows the same files
    assert (ROOT / "resources" / "poolscope.svg").read_bytes() == icon_path().read_bytes()


def test_install_desktop_writes_both_files_under_xdg_data_home_and_uninstall_removes_them(tmp_path):
    data_home = tmp_path / "share"
    done = cli("install-desktop", env={"XDG_DATA_HOME": str(data_home)})
    assert done.returncode == 0, done.stderr
    entry, icon = installed_paths(data_home)
    assert entry == data_home / "applications" / "poolscope.desktop"
    assert icon == data_home / "icons" / "hicolor" / "scalable" / "apps" / "poolscope.svg"
    assert f"installed {entry}" in done.stdout and f"installed {icon}" in done.stdout
    assert icon.read_bytes() == icon_path().read_bytes()
    fields = read_entry(entry)
    # the command is this installation's interpreter, which runs the window
    assert fields["Exec"] == f"{sys.executable} -m poolscope gui" and fields["TryExec"] == sys.executable
    assert not list(data_home.rglob("*.partial"))

    done = cli("install-desktop", "--uninstall", env={"XDG_DATA_HOME": str(data_home)})
    assert done.returncode == 0, done.stderr
    assert not entry.exists() and not icon.exists()
    assert f"removed {entry}" in done.stdout
    done = cli("install-desktop", "--uninstall", env={"XDG_DATA_HOME": str(data_home)})
    assert done.returncode == 0 and "nothing to remove" in done.stdout


def test_install_desktop_that_cannot_write_says_where_and_fails(tmp_path):
    blocked = tmp_path / "share"
    blocked.write_text("a file where the folder should be")
    done = cli("install-desktop", env={"XDG_DATA_HOME": str(blocked)})
    assert done.returncode == 1
    assert "poolscope install-desktop: error:" in done.stderr and str(blocked) in done.stderr
    assert "Traceback" not in done.stderr


def test_xdg_data_home_rule():
    assert user_data_home({"XDG_DATA_HOME": "/x/y"}) == Path("/x/y")
    home = Path.home() / ".local" / "share"
    assert user_data_home({}) == home
    assert user_data_home({"XDG_DATA_HOME": ""}) == home
    assert user_data_home({"XDG_DATA_HOME": "relative/dir"}) == home  # the spec: relative paths are ignored


def test_an_interpreter_path_with_spaces_is_quoted_in_exec():
    fields = desktop_entry("/opt/my envs/bin/python3")
    assert 'Exec="/opt/my envs/bin/python3" -m poolscope gui' in fields
    assert "Exec=/opt/%%pct/python -m poolscope gui" in desktop_entry("/opt/%pct/python")


def test_install_in_a_python_function_returns_the_paths(tmp_path):
    paths = install_desktop(tmp_path)
    assert paths == list(installed_paths(tmp_path)) and all(path.is_file() for path in paths)
    assert install_desktop(tmp_path, uninstall=True) == paths


@pytest.mark.timeout(180)
def test_a_wheel_ships_the_icon_and_the_entry_and_its_installed_copy_finds_them(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(tmp_path / "dist"), str(ROOT)], check=False, capture_output=True, text=True,
                           timeout=170)
    if built.returncode != 0:
        pytest.skip(f"no wheel could be built here: {built.stderr[-500:]}")
    wheel = next((tmp_path / "dist").glob("poolscope-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "poolscope/resources/poolscope.svg" in names and "poolscope/resources/poolscope.desktop" in names
    assert not [name for name in names if name.endswith(".png")]  # the screenshots stay out
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    found = subprocess.run([sys.executable, "-c", "from poolscope.desktop import icon_path; print(icon_path())"],
                           check=False, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(target)})
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()) == target / "poolscope" / "resources" / "poolscope.svg"
