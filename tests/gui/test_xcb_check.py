"""The start-up check for the X11 libraries of Qt's xcb platform: a missing one gives the install line and a
non-zero exit before any Qt library is loaded, and the table it checks covers what the installed plugin links
against (read from the ELF files themselves, so a PySide6 upgrade that needs another library fails here)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from llad_gui.xcb_check import XCB_LIBRARIES, can_load, install_command, missing_libraries, uses_xcb, xcb_problem

QT_DIR = Path(__import__("PySide6").__file__).parent / "Qt"
# libc, the C++ runtime, glib and zlib are on every Linux desktop, and Qt's own libraries ship in the wheel
ALWAYS_THERE = ("libc.", "libm.", "libstdc++", "libgcc_s", "libglib-2.0", "libgthread-2.0", "libz.", "libQt6", "libicu")


def needed_libraries(path: Path) -> list[str]:
    """The DT_NEEDED entries of a 64-bit little-endian ELF shared object (what ``readelf -d`` lists)."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{path} is not a 64-bit little-endian ELF"
    shoff, shentsize, shnum = struct.unpack_from("<Q", data, 0x28)[0], *struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    dynamic = next(s for s in sections if s[1] == 6)  # SHT_DYNAMIC; its sh_link is the string table
    strtab_offset = sections[dynamic[6]][4]
    names = []
    for pos in range(dynamic[4], dynamic[4] + dynamic[5], 16):
        tag, value = struct.unpack_from("<qQ", data, pos)
        if tag == 0:
            break
        if tag == 1:  # DT_NEEDED
            start = strtab_offset + value
            names.append(data[start : data.index(b"\0", start)].decode())
    return names


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb platform is Linux's")
def test_the_table_covers_every_system_library_the_xcb_plugin_links_against():
    files = [QT_DIR / "plugins" / "platforms" / "libqxcb.so", QT_DIR / "lib" / "libQt6XcbQpa.so.6"]
    files.append(QT_DIR / "lib" / "libQt6Gui.so.6")
    needed = {name for f in files for name in needed_libraries(f)}
    assert "libxcb-cursor.so.0" in needed and "libQt6Core.so.6" in needed  # the reader reads them
    system = {n for n in needed if not n.startswith(ALWAYS_THERE)}
    assert system <= set(XCB_LIBRARIES), f"not checked at start-up: {sorted(system - set(XCB_LIBRARIES))}"


def test_a_missing_library_gives_the_install_line():
    problem = xcb_problem(lambda soname: soname != "libxcb-cursor.so.0", environ={}, platform="linux")
    assert problem is not None
    first, second = problem.splitlines()
    assert "libxcb-cursor.so.0" in first and "libxcb-icccm" not in first
    assert second.strip() == install_command()
    for package in ("libxcb-cursor0", "libxcb-icccm4", "libxkbcommon-x11-0", "libxcb-keysyms1", "libegl1"):
        assert f" {package}" in second
    assert missing_libraries(lambda soname: "xkb" not in soname) == [
        "libxcb-xkb.so.1",
        "libxkbcommon.so.0",
        "libxkbcommon-x11.so.0",
    ]


def test_nothing_is_said_when_all_load_or_xcb_is_not_used():
    misses_all = lambda soname: False  # noqa: E731
    assert xcb_problem(lambda soname: True, environ={}, platform="linux") is None
    assert xcb_problem(misses_all, environ={"QT_QPA_PLATFORM": "offscreen"}, platform="linux") is None
    assert xcb_problem(misses_all, environ={}, platform="win32") is None
    assert xcb_problem(misses_all, environ={"QT_QPA_PLATFORM": "xcb:nograb"}, platform="linux") is not None
    assert uses_xcb({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux") is False


def test_the_real_loader_finds_a_present_library_and_not_an_absent_one():
    assert can_load("libc.so.6") if sys.platform.startswith("linux") else True
    assert not can_load("libllad-no-such-library.so.9")


def test_the_entry_point_exits_with_the_line_before_loading_qt(tmp_path):
    """The real ``llad-gui`` entry point in a fresh interpreter, where the loader is told one library is missing:
    exit code 3, the install line on stderr, and no Qt module imported."""
    script = (
        "import sys\n"
        "import llad_gui.xcb_check as check\n"
        "check.can_load = lambda soname: soname != 'libxkbcommon-x11.so.0'\n"
        "from llad_gui.__main__ import main\n"
        "code = main([])\n"
        "print(sorted(m for m in sys.modules if m.startswith('PySide6.')))\n"
        "sys.exit(code)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(HOME=str(tmp_path), LLAD_HOME=str(tmp_path / "home"), PYTHONPATH=str(Path(__file__).parents[2]))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    if not sys.platform.startswith("linux"):
        pytest.skip("Qt's xcb platform is Linux's")
    assert out.returncode == 3, out.stderr[-2000:]
    assert "libxkbcommon-x11.so.0" in out.stderr and install_command() in out.stderr
    assert out.stdout.strip() == "[]"
    assert not (tmp_path / "home").exists()  # nothing was started
