"""The Evaluate page's result views: the table of evaluated images, the confusion grid, the one-image dialog and
the panel that suggests a threshold from the test set.

Layout and display only: verdicts come from :meth:`core.types.Thresholds.decide`, counts from
:class:`core.evaluation_run.EvaluationRun`, colours from ``resources/styles`` (``palette.json``, ``app.qss``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.evaluation import ImageRow
from core.types import Thresholds, Verdict
from llad_gui.resources import palette
from llad_gui.widgets.layouts import row
from llad_gui.widgets.rows_model import RowsTableModel

COLUMNS = ("File", "Type", "Score", "Verdict")
CONFUSION_TIPS = {
    "tn": "good parts passed (right)",
    "fp": "good parts rejected (false rejects)",
    "fn": "defective parts passed (escapes!)",
    "tp": "defective parts rejected (right)",
}


class EvalRowsModel(RowsTableModel):
    """The evaluated images; verdicts are re-decided from the scores whenever the thresholds change."""

    columns = COLUMNS

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[ImageRow] = []
        self.thresholds = Thresholds()
        colours = palette()
        self._verdict_brushes = {k: QBrush(QColor(v)) for k, v in colours["verdict"].items()}
        self._wrong_brush = QBrush(QColor(colours["wrong_row"]))

    def verdict(self, row: ImageRow) -> str:
        return self.thresholds.decide(row.score).value

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, c = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (Path(r.path).name, r.defect_type, f"{r.score:.3f}", self.verdict(r))[c]
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return (Path(r.path).name, r.defect_type, r.score, self.verdict(r))[c]
        if role == Qt.ItemDataRole.ForegroundRole and c == 3:
            return self._verdict_brushes.get(self.verdict(r))
        if role == Qt.ItemDataRole.BackgroundRole:
            wrong = (self.verdict(r) != Verdict.OK.value) != bool(r.label)
            return self._wrong_brush if wrong else None
        if role == Qt.ItemDataRole.ToolTipRole:
            truth = "defective" if r.label else "good"
            return f"{r.path}\nactually {truth}; score {r.score:.3f} (1.0 = calibrated threshold)"
        if role == Qt.ItemDataRole.TextAlignmentRole and c == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def set_rows(self, rows: list[ImageRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def set_thresholds(self, t: Thresholds) -> None:
        self.thresholds = t
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(COLUMNS) - 1))


class ConfusionGrid(QWidget):
    """Good and defective parts against passed and rejected; ``set_counts(None)`` clears it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cells: dict[str, QLabel] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        passed, rejected = QLabel("<b>passed</b>"), QLabel("<b>rejected</b>")
        passed.setToolTip("verdict OK")
        rejected.setToolTip("verdict NG or uncertain (CHECK)")
        grid.addWidget(passed, 0, 1)
        grid.addWidget(rejected, 0, 2)
        for r, (truth, keys) in enumerate((("good parts", ("tn", "fp")), ("defective parts", ("fn", "tp"))), 1):
            grid.addWidget(QLabel(f"<b>{truth}</b>"), r, 0)
            for c, key in enumerate(keys, 1):
                cell = QLabel("–")
                cell.setObjectName("confusionRight" if key in ("tn", "tp") else "confusionWrong")
                cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
                cell.setMinimumWidth(70)
                cell.setToolTip(CONFUSION_TIPS[key])
                grid.addWidget(cell, r, c)
                self.cells[key] = cell

    def set_counts(self, counts: dict[str, int] | None) -> None:
        for key, cell in self.cells.items():
            cell.setText("–" if counts is None else str(counts[key]))


class OverlayDialog(QDialog):
    """One evaluated image with the anomaly heatmap and defect contours (core.visualize.overlay)."""

    def __init__(self, title: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.image = QLabel("Running the model on this image…")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(420, 420)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.caption)

    def show_array(self, rgb: np.ndarray, caption: str) -> None:
        rgb = np.ascontiguousarray(rgb)
        h, w = rgb.shape[:2]
        qimg = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888).copy()
        side = max(self.image.width(), self.image.height(), 420) - 8
        pix = QPixmap.fromImage(qimg).scaled(
            side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.image.setPixmap(pix)
        self.caption.setText(caption)


class SuggestPanel(QWidget):
    """A target (at most N % of good parts rejected, or the best F1), "Suggest threshold", the suggestion in words
    and "Apply"; the page connects the buttons and fills the words."""

    def __init__(self, hint: str, parent=None) -> None:
        super().__init__(parent)
        self.frr_radio = QRadioButton("Reject at most")
        self.f1_radio = QRadioButton("Best F1 (balance escapes and false rejects)")
        self.frr_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.frr_radio)
        group.addButton(self.f1_radio)
        self.frr_spin = QDoubleSpinBox()
        self.frr_spin.setRange(0.0, 50.0)
        self.frr_spin.setDecimals(1)
        self.frr_spin.setSingleStep(0.5)
        self.frr_spin.setValue(1.0)
        self.frr_spin.setSuffix(" % of good parts")
        self.suggest_button = QPushButton("Suggest threshold")
        self.suggestion_label = QLabel(hint)
        self.suggestion_label.setWordWrap(True)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Use this image threshold for inspection (pixel threshold and band are kept)")
        frr_row = row(self.frr_radio, self.frr_spin)
        buttons = row(self.suggest_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addLayout(frr_row)
        layout.addWidget(self.f1_radio)
        layout.addLayout(buttons)
        layout.addWidget(self.suggestion_label)
        layout.addStretch(1)
