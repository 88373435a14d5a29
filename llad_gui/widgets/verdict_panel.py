"""The verdict an operator reads at arm's length: OK / NG / CHECK in colour, the normalised score, and the
shift counters (inspected, OK, NG, yield) with a reset button."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.types import InspectionResult, Verdict

VERDICT_STYLE = {
    # (text shown, object name used by the style sheet)
    Verdict.OK: ("OK", "verdictOK"),
    Verdict.NG: ("NG", "verdictNG"),
    Verdict.UNCERTAIN: ("CHECK", "verdictUncertain"),
    Verdict.ERROR: ("ERROR", "verdictError"),
}


class VerdictPanel(QWidget):
    """Big verdict, score and counters. ``show_result`` updates the verdict only; ``count`` adds to counters."""

    resetRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.verdict = QLabel("NO MODEL")
        self.verdict.setObjectName("verdictNone")
        self.verdict.setMinimumHeight(110)
        self.verdict.setToolTip("OK = good part, NG = defective, CHECK = needs a human look, ERROR = not judged")
        self.score = QLabel("score –")
        self.score.setObjectName("scoreLabel")
        self.score.setToolTip("Normalised score: 0 = a typical good part, 1.00 = the calibrated threshold")
        self.detail = QLabel("")
        self.detail.setObjectName("detailLabel")
        self.detail.setWordWrap(True)
        self.counts = {k: QLabel("0") for k in ("inspected", "ok", "ng", "yield")}
        grid = QGridLayout()
        for col, (key, title) in enumerate(
            (("inspected", "Inspected"), ("ok", "OK"), ("ng", "NG"), ("yield", "Yield"))
        ):
            head = QLabel(title)
            head.setObjectName("counterTitle")
            self.counts[key].setObjectName("counterValue")
            grid.addWidget(head, 0, col)
            grid.addWidget(self.counts[key], 1, col)
        self.reset = QPushButton("Reset counters")
        self.reset.setToolTip("Start counting again (the inspection log keeps everything)")
        self.reset.clicked.connect(self.resetRequested)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.verdict)
        layout.addWidget(self.score)
        layout.addWidget(self.detail)
        layout.addLayout(grid)
        layout.addWidget(self.reset)
        self.totals = {"inspected": 0, "ok": 0, "ng": 0}

    def _set_style(self, text: str, name: str) -> None:
        self.verdict.setText(text)
        if self.verdict.objectName() != name:
            self.verdict.setObjectName(name)
            self.verdict.style().unpolish(self.verdict)
            self.verdict.style().polish(self.verdict)

    def show_idle(self, text: str) -> None:
        """No verdict to show (no model, loading); grey."""
        self._set_style(text, "verdictNone")
        self.score.setText("score –")
        self.detail.setText("")

    def show_result(self, result: InspectionResult) -> None:
        text, name = VERDICT_STYLE[result.verdict]
        self._set_style(text, name)
        if math.isfinite(result.score):
            self.score.setText(f"score {result.score:.2f}  (NG at ≥ {result.thresholds.image:.2f})")
        else:
            self.score.setText("score –")
        where = Path(result.frame.ref).name if result.frame is not None and result.frame.ref else ""
        lit = f"inspected as {result.mode.label}" if result.verdict is not Verdict.ERROR else ""
        # a lighting reason (the frame is outside what the model was calibrated for) comes first: it is the CHECK's
        reason = f"CHECK: {result.reason}" if result.reason else ""
        self.detail.setText(result.error or " · ".join(t for t in (reason, where, lit) if t))

    def count(self, verdict: Verdict) -> None:
        self.totals["inspected"] += 1
        if verdict is Verdict.OK:
            self.totals["ok"] += 1
        elif verdict is Verdict.NG:
            self.totals["ng"] += 1
        self._update_counts()

    def reset_counts(self) -> None:
        self.totals = {"inspected": 0, "ok": 0, "ng": 0}
        self._update_counts()

    def _update_counts(self) -> None:
        t = self.totals
        self.counts["inspected"].setText(str(t["inspected"]))
        self.counts["ok"].setText(str(t["ok"]))
        self.counts["ng"].setText(str(t["ng"]))
        self.counts["yield"].setText(f"{100 * t['ok'] / t['inspected']:.1f} %" if t["inspected"] else "–")
