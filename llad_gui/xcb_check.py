"""Before the QApplication exists: are the X11 libraries that Qt's xcb platform plugin links against installed?

PySide6's wheels ship Qt but not the system's X11 client libraries. On a plain Debian desktop several of them
(libxcb-cursor0 and others) are absent, and Qt then aborts with "Could not load the Qt platform plugin xcb",
which does not say what to install. This module imports no Qt: it only tries to load each library the xcb plugin
(``libqxcb.so``, ``libQt6XcbQpa.so.6`` and ``libQt6Gui.so.6`` of PySide6 6.11, read with ``readelf -d``) needs,
so the application can print the one ``apt-get install`` line instead.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
}
"""Each shared library the xcb platform needs from the system (beyond libc, libstdc++ and glib), and the Debian 12
package that provides it."""


def install_command(packages: Iterable[str] | None = None) -> str:
    """The one-line fix: ``sudo apt-get install`` of ``packages`` (all of :data:`XCB_LIBRARIES`' by default)."""
    names = sorted(set(XCB_LIBRARIES.values() if packages is None else packages))
    return "sudo apt-get install " + " ".join(names)


def uses_xcb(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt would start on its xcb platform: on Linux when ``QT_QPA_PLATFORM`` is unset or names xcb (a
    Wayland session without it falls back to xcb too when the Wayland plugin cannot start)."""
    if not platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    return not chosen or chosen.split(";")[0].split(":")[0] == "xcb"


def _bundled_dirs() -> list[Path]:
    """Folders where a library may ship beside the application: PySide6's Qt libraries, a frozen bundle."""
    dirs = []
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):
        dirs.append(Path(sys._MEIPASS))
    import importlib.util

    spec = importlib.util.find_spec("PySide6")  # locates the package without loading Qt
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "Qt" / "lib")
    return dirs


def can_load(soname: str) -> bool:
    """Whether the dynamic loader finds ``soname`` (or it ships in a bundled folder)."""
    if any((d / soname).exists() for d in _bundled_dirs()):
        return True
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(loads: Callable[[str], bool] | None = None) -> list[str]:
    """The sonames of :data:`XCB_LIBRARIES` that ``loads`` (default :func:`can_load`) cannot load, in order."""
    loads = loads or can_load
    return [soname for soname in XCB_LIBRARIES if not loads(soname)]


def xcb_problem(
    loads: Callable[[str], bool] | None = None,
    environ: Mapping[str, str] | None = None,
    platform: str = sys.platform,
) -> str | None:
    """None when Qt's xcb platform can start (or is not the one used); otherwise the message to print: what is
    missing, and on its own line the install command. ``environ`` defaults to ``os.environ``."""
    if not uses_xcb(os.environ if environ is None else environ, platform):
        return None
    missing = missing_libraries(loads)
    if not missing:
        return None
    return (
        f"LLAD Inspector cannot start: Qt's xcb platform needs X11 libraries missing here ({', '.join(missing)}). "
        f"Install them with:\n    {install_command()}"
    )
