"""The versions of one category, newest first: status (the active one in bold), when, on how many samples,
preset, final loss, training time and the share of synthetic defects caught. Layout only; the Train page
decides what selecting or double-clicking a row does."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from core.errors import LladError
from core.training_words import duration_text

VERSION_COLUMNS = ("Version", "Status", "Created", "Samples", "Preset", "Loss", "Time", "Caught")
VERSION_TIPS = (
    "",
    "The active version is the one the Inspect page uses",
    "",
    "Good images used: trained on + held back for calibration",
    "Training preset",
    "Final loss: at the end of training (lower is better; compare versions of one category only)",
    "How long training took, calibration included",
    "Defects caught: the share of synthetic defects drawn on held-out good images caught at the calibrated threshold",
)
NUMERIC = (3, 5, 6, 7)


def version_cells(recipe, version: str, active: str | None) -> tuple[str, ...]:
    """The row of one version (a "damaged" row when its files cannot be read)."""
    try:
        info = recipe.version_info(version)
    except LladError as exc:
        return (version, "damaged", str(exc), "", "", "", "", "")
    s = info.stats
    rate = s.get("synthetic_defect_detection_rate")
    return (
        version,
        "● active" if version == active else "",
        info.created.replace("T", " ")[:16],
        str(info.sample_count),
        info.preset,
        f"{s.get('final_loss', float('nan')):.3f}",
        duration_text(float(s.get("total_seconds", s.get("train_seconds", float("nan"))))),
        "–" if rate is None else f"{rate:.0%}",
    )


class VersionsTable(QTableWidget):
    """``show_versions(recipe)`` fills it; ``selected_version()`` names the selected row's version."""

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(VERSION_COLUMNS), parent)
        self.setHorizontalHeaderLabels(VERSION_COLUMNS)
        for c, tip in enumerate(VERSION_TIPS):
            if tip:
                self.horizontalHeaderItem(c).setToolTip(tip)
        self.setMinimumHeight(110)
        self.verticalHeader().hide()
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)

    def show_versions(self, recipe) -> str:
        """Show ``recipe``'s versions (none for None); returns an error message when they cannot be listed."""
        self.setRowCount(0)
        if recipe is None:
            return ""
        try:
            active = recipe.active_version
            names = recipe.versions()
        except LladError as exc:
            return str(exc)
        for v in reversed(names):  # newest first
            r = self.rowCount()
            self.insertRow(r)
            for c, text in enumerate(version_cells(recipe, v, active)):
                item = QTableWidgetItem(text)
                if v == active:
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                if c in NUMERIC:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)
        return ""

    def selected_version(self) -> str | None:
        rows = self.selectionModel().selectedRows()
        return self.item(rows[0].row(), 0).text() if rows else None


class VersionsBox(QGroupBox):
    """ "4. Versions": the table and the button that activates the selected row's version."""

    def __init__(self, parent=None) -> None:
        super().__init__("4. Versions", parent)
        self.setToolTip("The active version is the one the Inspect page uses")
        self.table = VersionsTable()
        self.activate_button = QPushButton("Activate selected version")
        self.activate_button.setToolTip("Make the selected version the one the Inspect page uses")
        self.activate_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.activate_button, 0, Qt.AlignmentFlag.AlignRight)

    def set_category(self, name: str) -> None:
        self.setTitle(f"4. Versions “{name}”" if name else "4. Versions")
