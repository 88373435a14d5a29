"""Start-up and wiring: the QApplication with its names (for QSettings), style sheet and icon, the shared
:class:`AppState`, the main window, and the category and source asked for on the command line."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from llad_gui.resources import icon_path, read_style

ORGANIZATION = "LLAD"
APPLICATION = "LLAD Inspector"


def _seconds_since_process_start() -> float:
    """Wall time since this process started (from /proc on Linux; since import of this module elsewhere)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _IMPORTED


_IMPORTED = time.monotonic()


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once), named so QSettings land in the same place on every run."""
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    icon = icon_path("llad.svg")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    app.setStyleSheet(read_style())
    pg.setConfigOptions(antialias=True)
    return app


def build_window(home: str | Path | None = None, category: str | None = None, source: str | None = None):
    """The state and main window, with the category (argument, else the last one) chosen and ``source`` open."""
    from llad_gui.main_window import MainWindow
    from llad_gui.state import AppState
    from llad_gui.workers.acquisition import SourceSpec

    if home:
        os.environ["LLAD_HOME"] = str(home)
    state = AppState(Path(home) if home else None)
    window = MainWindow(state)
    names = state.categories()
    wanted = category or str(state.settings.value("last_category", "") or "")
    if wanted not in names:
        if category:
            state.message.emit(f"no category named {category!r}")
        wanted = names[0] if len(names) == 1 else ""
    if wanted:
        state.set_category(wanted)
    if source:
        window.inspect.open_source(SourceSpec.guess(source))
    return state, window


def run(home=None, category=None, source=None, quit_after_start: bool = False) -> int:
    app = make_application()
    state, window = build_window(home, category, source)
    window.show()
    if quit_after_start:
        from PySide6.QtCore import QTimer

        def report() -> None:
            print(json.dumps({"first_window_seconds": round(_seconds_since_process_start(), 3)}), flush=True)
            window.close()

        QTimer.singleShot(0, report)  # runs once the event loop has shown the window
    code = app.exec()
    state.close()
    return code
