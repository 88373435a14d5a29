"""Threshold advice from evaluation scores: false-reject targets, best F1, confusion at a threshold."""

from __future__ import annotations

import numpy as np
import pytest

from core.threshold_advice import confusion_at, suggest_best_f1, suggest_for_false_reject, threshold_for_false_reject
from core.types import Thresholds

SCORES = np.array([0.1, 0.2, 0.3, 0.4, 0.9, 1.5, 0.8, 2.0, 3.0])
LABELS = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1], bool)


def test_false_reject_target_is_met():
    assert threshold_for_false_reject([0.1, 0.2, 0.3, 0.4, 0.9], 0.0) > 0.9
    t = threshold_for_false_reject([0.1, 0.2, 0.3, 0.4, 0.9], 0.2)  # one of five may be rejected
    assert 0.4 < t <= 0.9
    s = suggest_for_false_reject(SCORES, LABELS, 0.2)
    assert s.false_reject_rate <= 0.2
    assert s.miss_rate == 0.0  # every defect scores above 0.4, the rejected good part


def test_best_f1_and_confusion():
    s = suggest_best_f1(SCORES, LABELS)
    assert s.f1 == pytest.approx(2 * 0.8 * 1.0 / 1.8)
    c = confusion_at(SCORES, LABELS, Thresholds(s.threshold))
    assert c == {"tp": 4, "fp": 1, "tn": 4, "fn": 0}
    with pytest.raises(ValueError):
        suggest_best_f1(SCORES[:5], LABELS[:5])


def test_uncertain_band_counts_as_flagged():
    c = confusion_at([0.95], [False], Thresholds(1.0, 1.0, 0.1))
    assert c["fp"] == 1
