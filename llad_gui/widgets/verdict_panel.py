"""The verdict an operator reads at arm's length: OK / NG / CHECK in colour, the normalised score, why the
part got its verdict, and the shift counters (inspected, OK, NG, CHECK, errors, yield) with a reset button.

The counters keep every score since the last reset, so a threshold change re-decides them exactly as it
re-decides the table and the trend: the numbers on screen always agree with each other.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from core.types import InspectionResult, Thresholds, Verdict

VERDICT_STYLE = {
    # (text shown, object name used by the style sheet)
    Verdict.OK: ("OK", "verdictOK"),
    Verdict.NG: ("NG", "verdictNG"),
    Verdict.UNCERTAIN: ("CHECK", "verdictUncertain"),
    Verdict.ERROR: ("ERROR", "verdictError"),
}
COUNTERS = (("inspected", "Inspected"), ("ok", "OK"), ("ng", "NG"), ("check", "CHECK"), ("error", "Errors"))


def verdict_word(verdict: Verdict | str) -> str:
    """The word the user interface shows for a verdict: CHECK for the uncertain band, the value otherwise."""
    return VERDICT_STYLE[Verdict(verdict)][0]


def verdict_reason(result: InspectionResult) -> str:
    """Why an NG part is NG when nothing on it is outlined: the whole-image score decided, not one place.
    A reason the model gives itself (``result.reason``, when it has one) comes first."""
    own = getattr(result, "reason", "") or ""
    if own or result.verdict is not Verdict.NG:
        return own
    amap = result.anomaly_map
    if amap is None or amap.size == 0 or not bool(np.any(amap >= result.thresholds.pixel)):
        return (
            f"NG on the whole-image score ({result.score:.2f} ≥ {result.thresholds.image:.2f}): the part as a whole "
            "differs from good parts; no single place stands out above the pixel threshold."
        )
    return ""


class VerdictPanel(QWidget):
    """Big verdict, score and counters. ``show_result`` updates the verdict only; ``count`` adds to counters;
    ``redecide`` recounts them under new thresholds."""

    resetRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.verdict = QLabel("NO MODEL")
        self.verdict.setObjectName("verdictNone")
        self.verdict.setMinimumHeight(96)
        self.verdict.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.verdict.setToolTip("OK = good part, NG = defective, CHECK = needs a human look, ERROR = not judged")
        self.score = QLabel("score –")
        self.score.setObjectName("scoreLabel")
        self.score.setWordWrap(True)
        self.score.setToolTip("Normalised score: 0 = a typical good part, 1.00 = the calibrated threshold")
        self.detail = QLabel("")
        self.detail.setObjectName("detailLabel")
        self.detail.setWordWrap(True)
        self.counts = {k: QLabel("0") for k, _ in COUNTERS}
        self.counts["yield"] = QLabel("–")
        self.counts["yield"].setToolTip("OK parts among the judged ones (OK, NG and CHECK; errors are not parts)")
        grid = QGridLayout()
        grid.setVerticalSpacing(0)
        for i, (key, title) in enumerate((*COUNTERS, ("yield", "Yield"))):
            head = QLabel(title)
            head.setObjectName("counterTitle")
            self.counts[key].setObjectName("counterValue")
            grid.addWidget(head, 2 * (i // 3), i % 3)
            grid.addWidget(self.counts[key], 2 * (i // 3) + 1, i % 3)
        self.reset = QPushButton("Reset counters")
        self.reset.setObjectName("touchButton")
        self.reset.setToolTip("Start counting again (the inspection log keeps everything)")
        self.reset.clicked.connect(self.resetRequested)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.verdict)
        layout.addWidget(self.score)
        layout.addWidget(self.detail)
        layout.addLayout(grid)
        layout.addWidget(self.reset)
        self._scores: list[float] = []  # since the last reset; NaN = an image that could not be judged
        self._thresholds = Thresholds()
        self.totals: dict[str, int] = {}
        self._update_counts()

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
            self.score.setText(f"score {result.score:.2f}")
        else:
            self.score.setText("score –")
        where = Path(result.frame.ref).name if result.frame is not None and result.frame.ref else ""
        judged = result.verdict is not Verdict.ERROR
        limit = f"NG at ≥ {result.thresholds.image:.2f}" if judged else ""
        lit = f"inspected as {result.mode.label}" if judged else ""
        lines = [result.error or " · ".join(t for t in (limit, where, lit) if t), verdict_reason(result)]
        self.detail.setText("\n".join(t for t in lines if t))

    # ---- counters -----------------------------------------------------------------------------------
    def count(self, verdict: Verdict, score: float = math.nan) -> None:
        """One more part, decided under the panel's thresholds (``redecide``); an ERROR counts as an error
        whatever its score."""
        self._scores.append(math.nan if verdict is Verdict.ERROR else float(score))
        self._update_counts()

    def redecide(self, thresholds: Thresholds) -> None:
        """Decide every part since the reset, and the next ones, under ``thresholds`` (their scores are kept)."""
        self._thresholds = thresholds
        self._update_counts()

    def reset_counts(self) -> None:
        self._scores = []
        self._update_counts()

    def _update_counts(self) -> None:
        scores = np.asarray(self._scores, dtype=float)
        judged = scores[np.isfinite(scores)]
        t = self._thresholds
        ng = judged >= t.image  # as Thresholds.decide, for a whole shift of scores at once
        check = ~ng & (judged >= t.image - t.uncertain_band) if t.uncertain_band > 0 else np.zeros_like(ng)
        totals = {
            "inspected": int(scores.size),
            "ok": int(judged.size - ng.sum() - check.sum()),
            "ng": int(ng.sum()),
            "check": int(check.sum()),
            "error": int(scores.size - judged.size),
        }
        self.totals = totals
        for key, value in totals.items():
            self.counts[key].setText(str(value))
        self.counts["yield"].setText(f"{100 * totals['ok'] / judged.size:.1f} %" if judged.size else "–")
