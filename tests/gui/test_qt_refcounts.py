"""Guard against the Qt binding's refcount bug: PySide6 6.12.0 released a reference to None (and True/False) on
pyqtgraph calls the score trend makes per inspection, and after a few thousand inspections the GUI aborted with
"deallocating None". The binding is pinned below 6.12; this test fails if a version with the bug comes back."""

from __future__ import annotations

import sys

import numpy as np


def test_trend_updates_do_not_release_references_they_do_not_own(qtbot):
    from llad_gui.widgets.score_trend import ScoreTrend

    trend = ScoreTrend()
    qtbot.addWidget(trend)
    scores = list(np.linspace(0, 2, 200))
    verdicts = ["OK"] * 100 + ["NG"] * 100
    trend.set_history(scores, verdicts)  # warm-up: first calls create caches
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(300):
        trend.set_history(scores, verdicts)
    # Freed objects may drop a few references legitimately; the bug dropped about 20 per update (6,000 here).
    assert none_before - sys.getrefcount(None) < 200
    assert true_before - sys.getrefcount(True) < 200
