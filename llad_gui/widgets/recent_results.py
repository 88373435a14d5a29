"""A short table of the latest results (time, file, score, verdict, note), newest on top; unreadable images
appear here as ERROR rows with the reason while the run goes on. Double-click a row to show it again."""

from __future__ import annotations

import math
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core.result_history import HistoryEntry
from core.types import Thresholds, Verdict, decide
from llad_gui.widgets.verdict_panel import verdict_word

ROW_COLOURS = {
    Verdict.OK: "#e8f5e9",
    Verdict.NG: "#ffcdd2",
    Verdict.UNCERTAIN: "#ffe9b3",
    Verdict.ERROR: "#e0e0e0",
}


class RecentResults(QTableWidget):
    """Keeps at most ``limit`` rows; ``entryActivated(key)`` when the operator double-clicks one."""

    entryActivated = Signal(int)
    HEADERS = ("Time", "File", "Score", "Verdict", "Note")

    def __init__(self, limit: int = 50, parent=None) -> None:
        super().__init__(0, len(self.HEADERS), parent)
        self.limit = limit
        self.setHorizontalHeaderLabels(self.HEADERS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        for col in range(len(self.HEADERS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        # file names can be long: a fixed, elided column keeps the verdict in sight on a narrow panel
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.setColumnWidth(1, 140)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.cellDoubleClicked.connect(lambda row, _c: self.entryActivated.emit(self._key(row)))

    def _key(self, row: int) -> int:
        item = self.item(row, 0)
        return int(item.data(Qt.ItemDataRole.UserRole)) if item else -1

    def add(self, entry: HistoryEntry) -> None:
        self.insertRow(0)
        score = f"{entry.score:.2f}" if math.isfinite(entry.score) else "–"
        note = entry.error or entry.reason
        cells = (time.strftime("%H:%M:%S", time.localtime(entry.when)), Path(entry.ref).name, score, "", note)
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if col == 1:
                item.setToolTip(entry.ref)
            if col == 4:
                item.setToolTip(note)
            self.setItem(0, col, item)
        self.item(0, 0).setData(Qt.ItemDataRole.UserRole, entry.key)
        self._paint(0, entry.verdict)
        while self.rowCount() > self.limit:
            self.removeRow(self.rowCount() - 1)
        self.scrollToTop()  # the newest part stays in sight, even after the operator scrolled or clicked

    def _paint(self, row: int, verdict: Verdict) -> None:
        self.item(row, 3).setText(verdict_word(verdict))
        brush = QBrush(QColor(ROW_COLOURS[verdict]))
        for col in range(self.columnCount()):
            self.item(row, col).setBackground(brush)

    def redecide(self, entries: dict[int, HistoryEntry], thresholds: Thresholds) -> None:
        """Show the verdicts ``thresholds`` give to the listed entries (their scores are cached)."""
        for row in range(self.rowCount()):
            entry = entries.get(self._key(row))
            if entry is not None and entry.verdict is not Verdict.ERROR:
                self._paint(row, decide(thresholds, entry.score, entry.reason))

    def verdicts(self) -> list[str]:
        """Verdict texts from the top row down (for tests and the status line)."""
        return [self.item(r, 3).text() for r in range(self.rowCount())]
