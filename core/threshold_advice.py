"""Advice on the image threshold.

From an evaluation: which normalised threshold rejects at most a given share of good parts, which one gives the
best F1, and what a threshold does to a labelled set (confusion, rates). For the threshold assistant: the
trade-off between good parts rejected (held-out good images and their darkened versions) and synthetic defects
caught, kept by calibration per lighting mode, as curves, operating points, targets and words.

Everything works on *normalised* scores (1.0 = the calibrated threshold), so a result can be applied directly as
:attr:`core.types.Thresholds.image`. Qt-free; the Evaluate and Train pages only display it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.calibration import best_f1_threshold
from core.calibration import threshold_for_false_reject as calibration_false_reject
from core.postprocess import PostProcessor
from core.types import InputMode, Thresholds, Verdict

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


# ---- the threshold assistant: false rejects on good parts against defects caught -------------------------------

LOW_CATCH = 0.5
"""Below this share of synthetic defects caught at the chosen threshold the assistant warns."""
HIGH_FALSE_REJECT = 0.10
"""Above this share of good parts rejected at the chosen threshold the assistant warns."""
FEW_GOOD = 20
"""Below this many held-out good images the words say the false-reject rate is rough."""


@dataclass(frozen=True)
class ScoreSet:
    """Normalised image scores (1.0 = calibrated threshold) of good parts and of defective ones under one lighting,
    e.g. the held-out good images of a lighting mode and the synthetic defects drawn on them."""

    name: str
    good: np.ndarray
    defect: np.ndarray
    raw: tuple[float, float] | None = None
    """(center, scale) with raw score = center + scale * normalised, when the set comes from a calibration."""
    train_raw: np.ndarray | None = None
    """The calibration's training scores (raw), whose spread its threshold took with the held-out ones'."""

    @classmethod
    def of(cls, name: str, good, defect, raw: tuple[float, float] | None = None, train_raw=None) -> ScoreSet:
        def clean(x) -> np.ndarray:
            a = np.asarray(x, np.float64).ravel()
            return np.sort(a[np.isfinite(a)])

        return cls(name, clean(good), clean(defect), raw, None if train_raw is None else clean(train_raw))

    def threshold_for_false_reject(self, rate: float) -> float:
        """Flag cut-off rejecting at most ``rate`` of good parts: on a calibration's set, the calibration's own
        estimate (a log-normal fitted to the raw scores, floored by the empirical quantile) and never below the
        highest good score a 0 % target must pass; a handful of held-out images cannot show a 1 % rate, so the
        empirical count alone would promise far fewer false rejects than the line sees."""
        empirical = threshold_for_false_reject(self.good, rate)
        if self.raw is None or self.good.size == 0:
            return empirical
        center, scale = self.raw
        fitted = calibration_false_reject(center + scale * self.good, min(max(rate, 1e-4), 0.5), self.train_raw)
        return max(empirical, (fitted - center) / scale)

    def rates(self, cutoff: float) -> tuple[float, float]:
        """(false-reject rate, catch rate) when every score ``>= cutoff`` is flagged; NaN where a side is empty."""
        return _share_at_or_above(self.good, cutoff), _share_at_or_above(self.defect, cutoff)


def _share_at_or_above(sorted_scores: np.ndarray, cutoff: float) -> float:
    if sorted_scores.size == 0:
        return float("nan")
    return float(1.0 - np.searchsorted(sorted_scores, cutoff, side="left") / sorted_scores.size)


@dataclass(frozen=True)
class Curve:
    """The trade-off of one score set: at flag cut-off ``cutoffs[i]`` (the image threshold minus the uncertain
    band), ``false_reject[i]`` of the good parts and ``catch[i]`` of the defective ones are flagged."""

    name: str
    cutoffs: np.ndarray
    false_reject: np.ndarray
    catch: np.ndarray


@dataclass(frozen=True)
class OperatingPoint:
    """What an image threshold does on one score set (rates are NaN where the set has no such parts)."""

    name: str
    threshold: float
    false_reject_rate: float
    catch_rate: float


@dataclass(frozen=True)
class TradeOff:
    """The score sets a threshold is chosen on (pooled for targets and warnings) and an optional ``reference`` set
    that is only drawn (the labelled test set of an evaluation). Qt-free; the assistant widget only displays it."""

    sets: tuple[ScoreSet, ...]
    reference: ScoreSet | None = None

    @property
    def pooled(self) -> ScoreSet:
        if len(self.sets) == 1:
            return self.sets[0]
        return ScoreSet.of(
            "all lighting", np.concatenate([s.good for s in self.sets]), np.concatenate([s.defect for s in self.sets])
        )

    @property
    def usable(self) -> bool:
        """True when both good and defective scores exist to weigh against each other."""
        return bool(self.sets) and self.pooled.good.size > 0 and self.pooled.defect.size > 0

    def drawn_sets(self) -> list[ScoreSet]:
        """The sets with a curve: the pooled one first when there are several, then each, then the reference."""
        sets = ([self.pooled] if len(self.sets) > 1 else []) + list(self.sets)
        sets += [self.reference] if self.reference is not None else []
        return [s for s in sets if s.good.size and s.defect.size]

    def curves(self) -> list[Curve]:
        return [curve(s) for s in self.drawn_sets()]

    def points(self, thresholds: Thresholds) -> list[OperatingPoint]:
        """The operating point of ``thresholds`` on each of :meth:`drawn_sets`."""
        return [_point(s, thresholds) for s in self.drawn_sets()]

    def point(self, thresholds: Thresholds) -> OperatingPoint:
        """The operating point on the pooled set."""
        return _point(self.pooled, thresholds)

    def threshold_for_false_reject(self, rate: float, band: float = 0.0) -> float:
        """Image threshold flagging at most ``rate`` (0..1) of the good parts under every lighting, hence of them
        all pooled (uncertain counts as flagged); see :meth:`ScoreSet.threshold_for_false_reject`."""
        if not self.sets or self.pooled.good.size == 0:
            raise ValueError("this model kept no held-out good scores: retrain it to set a false-reject rate")
        return max(s.threshold_for_false_reject(rate) for s in self.sets if s.good.size) + band

    def threshold_for_catch(self, rate: float, band: float = 0.0) -> float:
        """Highest image threshold flagging at least ``rate`` (0..1) of the pooled defective parts."""
        d = self.pooled.defect
        if d.size == 0:
            raise ValueError("this model kept no scores of synthetic defects: retrain it to set a catch rate")
        need = int(np.ceil(min(max(rate, 0.0), 1.0) * d.size - 1e-9))
        cutoff = float(d[-1] + _STEP) if need == 0 else float(d[d.size - need])
        return cutoff + band

    def advice(self, thresholds: Thresholds) -> Advice:
        """The words for ``thresholds``: what it does, and a warning when it catches or rejects too much."""
        return advise(self, thresholds)


def curve(s: ScoreSet) -> Curve:
    """Every distinct cut-off of ``s`` (each score, plus one above the highest so the curve reaches 0, 0)."""
    cuts = np.unique(np.r_[s.good, s.defect])
    cuts = np.r_[cuts, cuts[-1] + _STEP] if cuts.size else cuts
    frr = 1.0 - np.searchsorted(s.good, cuts, side="left") / max(s.good.size, 1)
    catch = 1.0 - np.searchsorted(s.defect, cuts, side="left") / max(s.defect.size, 1)
    return Curve(s.name, cuts, frr, catch)


def _point(s: ScoreSet, t: Thresholds) -> OperatingPoint:
    frr, catch = s.rates(t.image - t.uncertain_band)
    return OperatingPoint(s.name, t.image, frr, catch)


@dataclass(frozen=True)
class Advice:
    """What the chosen threshold does, in words, and a warning (empty when there is nothing to warn about)."""

    text: str
    warning: str


def one_in(rate: float) -> str:
    """A rate for people: "about 1 in 10", "about 7 in 10", "none of the", "all"."""
    if rate <= 0:
        return "none of the"
    if rate >= 1:
        return "all"
    if rate <= 0.5:
        return f"about 1 in {round(1 / rate)}"
    return f"about {round(rate * 10)} in 10" if rate < 0.95 else "nearly all"


def advise(tradeoff: TradeOff, thresholds: Thresholds) -> Advice:
    """Words for the operating point of ``thresholds`` on ``tradeoff`` (see :class:`Advice`)."""
    if not tradeoff.sets or tradeoff.pooled.good.size == 0:
        return Advice("This model kept no held-out scores: retrain it to see the trade-off.", "")
    p, pooled = tradeoff.point(thresholds), tradeoff.pooled
    per_set = [_point(s, thresholds) for s in tradeoff.sets] if len(tradeoff.sets) > 1 else []
    detail = ", ".join(f"{q.name} {q.false_reject_rate:.1%}" for q in per_set)
    text = f"At image threshold {p.threshold:.3f}, {p.false_reject_rate:.1%} of good parts are rejected" + (
        f" ({detail})" if detail else ""
    )
    if pooled.defect.size == 0:
        return Advice(text + ". This model kept no synthetic-defect scores: retrain it to see the catch rate.", "")
    text += (
        f" and {p.catch_rate:.0%} of synthetic defects are caught "
        f"(on {pooled.good.size} held-out good images and {pooled.defect.size} synthetic defects)."
    )
    if pooled.good.size < FEW_GOOD:
        text += (
            f" With {pooled.good.size} held-out good images, false-reject rates below about 1 in {pooled.good.size} "
            "cannot be seen here: confirm the threshold on labelled parts (Evaluate page)."
        )
    warnings = []
    if p.catch_rate < LOW_CATCH:
        warnings.append(
            f"This model catches {one_in(p.catch_rate)} synthetic defects at this threshold: "
            "collect more good samples or lower it."
        )
    if p.false_reject_rate > HIGH_FALSE_REJECT:
        warnings.append(
            f"It rejects {one_in(p.false_reject_rate)} good parts at this threshold: "
            "collect more good samples (several batches, all lighting) or raise it."
        )
    return Advice(text, " ".join(warnings))


def tradeoff_from_calibration(post: PostProcessor) -> TradeOff:
    """The held-out good scores and synthetic-defect scores of every calibrated lighting mode, normalised."""
    sets = []
    for key, cal in post.modes.items():
        if not cal.good_scores:
            continue
        good = cal.normalize_score(np.asarray(cal.good_scores, np.float64))
        defect = cal.normalize_score(np.asarray(cal.defect_scores, np.float64))
        raw = (cal.center, max(cal.threshold - cal.center, 1e-9))  # as ModeCalibration.normalize_score
        sets.append(ScoreSet.of(InputMode(key).label, good, defect, raw, cal.train_scores or None))
    return TradeOff(tuple(sets))


def tradeoff_from_version(version_dir: Path) -> TradeOff:
    """:func:`tradeoff_from_calibration` of a saved version, read from its ``model.json`` (no weights loaded)."""
    from core.checkpoint import MODEL_FILE
    from core.recipes import read_json

    return tradeoff_from_calibration(PostProcessor.from_dict(read_json(Path(version_dir) / MODEL_FILE)["calibration"]))
