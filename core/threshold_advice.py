"""Advice on the image threshold from an evaluation: which normalised threshold rejects at most a given share of
good parts, which one gives the best F1, and what a threshold does to a labelled set (confusion, rates).

Works on the *normalised* scores of :class:`core.evaluation.ImageRow` (1.0 = the calibrated threshold), so a
suggestion can be applied directly as :attr:`core.types.Thresholds.image`. Qt-free; used by the Evaluate page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.calibration import best_f1_threshold
from core.types import Thresholds, Verdict

_STEP = 1e-4  # a threshold sits just above the last good score it must let through


@dataclass(frozen=True)
class Suggestion:
    """A suggested image threshold and what it does on the evaluated set."""

    threshold: float
    false_reject_rate: float  # share of good parts flagged (NG or UNCERTAIN)
    miss_rate: float  # share of defective parts passed as OK
    f1: float
    reason: str


def threshold_for_false_reject(good_scores, rate: float) -> float:
    """Lowest threshold that flags at most ``rate`` (0..1) of these good scores (``score >= t`` is flagged)."""
    s = np.sort(np.asarray(good_scores, np.float64)[np.isfinite(good_scores)])[::-1]
    if s.size == 0:
        raise ValueError("the evaluation holds no good images to set a false-reject rate on")
    allowed = int(np.floor(max(rate, 0.0) * s.size + 1e-9))  # how many good parts may be rejected
    if allowed >= s.size:
        return float(s[-1])
    return float(s[allowed] + _STEP)


def confusion_at(scores, labels, thresholds: Thresholds) -> dict[str, int]:
    """tp/fp/tn/fn when NG and UNCERTAIN count as flagged (as in :func:`core.evaluation.evaluate`)."""
    flagged = np.array([thresholds.decide(float(s)) in (Verdict.NG, Verdict.UNCERTAIN) for s in scores], bool)
    y = np.asarray(labels, bool)
    return {
        "tp": int((flagged & y).sum()),
        "fp": int((flagged & ~y).sum()),
        "tn": int((~flagged & ~y).sum()),
        "fn": int((~flagged & y).sum()),
    }


def _suggestion(scores, labels, threshold: float, band: float, reason: str) -> Suggestion:
    c = confusion_at(scores, labels, Thresholds(threshold, 1.0, band))
    good, bad = c["fp"] + c["tn"], c["tp"] + c["fn"]
    precision = c["tp"] / max(c["tp"] + c["fp"], 1)
    recall = c["tp"] / max(bad, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return Suggestion(threshold, c["fp"] / max(good, 1), c["fn"] / max(bad, 1), f1, reason)


def suggest_for_false_reject(scores, labels, rate: float, band: float = 0.0) -> Suggestion:
    """Threshold rejecting at most ``rate`` of the good parts (the uncertain band counts as rejected)."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    t = threshold_for_false_reject(scores[~labels], rate) + band
    return _suggestion(scores, labels, t, band, f"at most {rate:.1%} of good parts rejected")


def suggest_best_f1(scores, labels, band: float = 0.0) -> Suggestion:
    """Threshold with the best F1 on this set (needs good and defective images)."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    if labels.all() or not labels.any():
        raise ValueError("best F1 needs both good and defective images in the evaluation")
    t, _ = best_f1_threshold(scores, labels)
    return _suggestion(scores, labels, t + band, band, "best F1 on this set")
