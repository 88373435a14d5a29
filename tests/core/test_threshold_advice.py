"""Threshold advice: false-reject targets, best F1 and confusion on evaluation scores; the assistant's curves,
operating points, targets and words on calibration scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.calibration import ModeCalibration, calibrate_mode
from core.postprocess import PostProcessor
from core.threshold_advice import (
    ScoreSet,
    TradeOff,
    confusion_at,
    curve,
    one_in,
    suggest_best_f1,
    suggest_for_false_reject,
    threshold_for_false_reject,
    tradeoff_from_calibration,
    tradeoff_from_version,
)
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


# ---- the threshold assistant ------------------------------------------------------------------------------------

GOOD = np.linspace(-1.0, 0.9, 20)  # 20 good parts, all below the calibrated threshold 1.0
DEFECT = np.array([0.5, 0.8, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0])  # 10 defects, 8 above 1.0


def test_curve_runs_from_everything_flagged_to_nothing_flagged():
    c = curve(ScoreSet.of("x", GOOD, DEFECT))
    assert (c.false_reject[0], c.catch[0]) == (1.0, 1.0)  # the lowest cut-off flags every part
    assert (c.false_reject[-1], c.catch[-1]) == (0.0, 0.0)
    assert np.all(np.diff(c.false_reject) <= 0) and np.all(np.diff(c.catch) <= 0)
    i = int(np.searchsorted(c.cutoffs, 1.2))
    assert (c.false_reject[i], c.catch[i]) == (0.0, 0.8)


def test_operating_point_follows_threshold_and_band():
    t = TradeOff((ScoreSet.of("low-light", GOOD, DEFECT),))
    p = t.point(Thresholds(1.0))
    assert (p.threshold, p.false_reject_rate, p.catch_rate) == (1.0, 0.0, 0.8)
    p = t.point(Thresholds(1.0, 1.0, 0.25))  # the band flags from 0.75: good 0.8 and 0.9, defect 0.8 too
    assert p.false_reject_rate == pytest.approx(2 / 20) and p.catch_rate == pytest.approx(0.9)


def test_targets_set_thresholds_that_meet_them():
    t = TradeOff((ScoreSet.of("low-light", GOOD, DEFECT),))
    for rate in (0.0, 0.1, 0.25, 0.5):
        th = t.threshold_for_false_reject(rate)
        assert t.point(Thresholds(th)).false_reject_rate <= rate + 1e-12
    for rate in (0.1, 0.5, 0.85, 1.0):
        th = t.threshold_for_catch(rate)
        assert t.point(Thresholds(th)).catch_rate >= rate - 1e-12
        assert t.point(Thresholds(th + 1e-3)).catch_rate < rate  # the highest such threshold
    assert t.threshold_for_catch(1.0) == pytest.approx(0.5)
    band = 0.2  # the uncertain band counts as flagged: the image threshold sits that much higher
    assert t.threshold_for_catch(0.8, band) == pytest.approx(t.threshold_for_catch(0.8) + band)
    assert t.point(Thresholds(t.threshold_for_catch(0.8, band), 1.0, band)).catch_rate == pytest.approx(0.8)


def test_sets_are_pooled_for_targets_and_drawn_one_by_one():
    dark = ScoreSet.of("low-light", GOOD + 0.5, DEFECT)  # darkened good parts score higher
    lit = ScoreSet.of("well-lit", GOOD, DEFECT)
    ref = ScoreSet.of("test set", [0.1, 0.2], [3.0])
    t = TradeOff((dark, lit), reference=ref)
    assert [s.name for s in t.drawn_sets()] == ["all lighting", "low-light", "well-lit", "test set"]
    assert t.pooled.good.size == 40 and t.pooled.defect.size == 20
    points = {p.name: p for p in t.points(Thresholds(1.0))}
    assert points["low-light"].false_reject_rate > points["well-lit"].false_reject_rate == 0.0
    assert points["all lighting"].false_reject_rate == pytest.approx(points["low-light"].false_reject_rate / 2)
    assert points["test set"].catch_rate == 1.0
    th = t.threshold_for_false_reject(0.0)
    assert th > 1.4  # above the highest darkened good part, which the pooled target must let through


def test_advice_warns_when_few_defects_are_caught():
    weak = TradeOff((ScoreSet.of("low-light", GOOD, np.r_[np.zeros(9), 2.0]),))  # 1 of 10 above 1.0
    a = weak.advice(Thresholds(1.0))
    assert "10% of synthetic defects are caught" in a.text and "20 held-out good images" in a.text
    assert a.warning.startswith("This model catches about 1 in 10 synthetic defects at this threshold")
    assert "collect more good samples or lower it" in a.warning
    strong = TradeOff((ScoreSet.of("low-light", GOOD, DEFECT),)).advice(Thresholds(1.0))
    assert strong.warning == "" and "80% of synthetic defects" in strong.text
    noisy = TradeOff((ScoreSet.of("low-light", GOOD, DEFECT),)).advice(Thresholds(0.0))
    assert "rejects about 1 in 2 good parts" in noisy.warning


def test_advice_without_defect_scores_says_so():
    old = TradeOff((ScoreSet.of("low-light", GOOD, []),))
    assert not old.usable and "no synthetic-defect scores" in old.advice(Thresholds()).text
    assert "no held-out scores" in TradeOff(()).advice(Thresholds()).text
    with pytest.raises(ValueError):
        old.threshold_for_catch(0.5)


def test_one_in_words():
    assert [one_in(r) for r in (0.0, 0.1, 0.26, 0.5, 0.7, 0.97, 1.0)] == [
        "none of the",
        "about 1 in 10",
        "about 1 in 4",
        "about 1 in 2",
        "about 7 in 10",
        "nearly all",
        "all",
    ]


def test_tradeoff_from_calibration_normalises_each_mode():
    post = PostProcessor(
        {
            "lowlight": ModeCalibration(1.0, 2.0, 0.0, 1.0, good_scores=[1.0, 1.5], defect_scores=[2.0, 4.0]),
            "welllit": ModeCalibration(10.0, 20.0, 0.0, 1.0, good_scores=[10.0, 12.0], defect_scores=[30.0]),
        }
    )
    t = tradeoff_from_calibration(post)
    assert [s.name for s in t.sets] == ["low-light", "well-lit"]
    np.testing.assert_allclose(t.sets[0].good, [0.0, 0.5])
    np.testing.assert_allclose(t.sets[0].defect, [1.0, 3.0])
    np.testing.assert_allclose(t.sets[1].good, [0.0, 0.2])
    np.testing.assert_allclose(t.sets[1].defect, [2.0])


def test_tradeoff_from_a_saved_version(tmp_path):
    post = PostProcessor({"lowlight": ModeCalibration(1.0, 2.0, 0.0, 1.0, [1.0, 1.5, 1.2], [2.5, 0.5])})
    (tmp_path / "model.json").write_text(json.dumps({"calibration": post.to_dict()}))
    t = tradeoff_from_version(tmp_path)
    assert t.usable and t.point(Thresholds(1.0)).catch_rate == 0.5


def test_a_false_reject_target_on_few_held_out_images_keeps_the_calibrations_estimate():
    """Six held-out good images cannot show a 1 % rate: the empirical count alone put the threshold at the highest
    of them (0.28 on the test model, which rejected 62 % of real MTD good tiles there); the calibration's fit at
    the rate it was calibrated for gives back its own threshold, 1.0."""
    rng = np.random.default_rng(0)
    good = np.exp(rng.normal(0.0, 0.3, 6))
    cal = calibrate_mode(good, rng.random((6, 8, 8)), defect_scores=good * 3, false_reject_rate=0.01)
    t = tradeoff_from_calibration(PostProcessor({"lowlight": cal}))
    empirical = threshold_for_false_reject(t.sets[0].good, 0.01)
    assert empirical < 0.9  # the highest held-out good score, well below the calibrated threshold
    assert t.threshold_for_false_reject(0.01) == pytest.approx(1.0)
    assert t.threshold_for_false_reject(0.001) > 1.0 > t.threshold_for_false_reject(0.2)
    assert t.threshold_for_false_reject(0.0) >= t.sets[0].good.max()
    assert "With 6 held-out good images" in t.advice(Thresholds()).text


def test_a_false_reject_target_holds_under_every_lighting():
    rng = np.random.default_rng(1)
    modes = {}
    for key, sigma in (("lowlight", 0.5), ("welllit", 0.2)):
        good = np.exp(rng.normal(0.0, sigma, 200))
        modes[key] = calibrate_mode(good, rng.random((4, 8, 8)), defect_scores=good * 4, false_reject_rate=0.01)
    t = tradeoff_from_calibration(PostProcessor(modes))
    th = t.threshold_for_false_reject(0.05)
    for s in t.sets:
        assert s.rates(th)[0] <= 0.05 + 1e-12
    assert th == pytest.approx(max(s.threshold_for_false_reject(0.05) for s in t.sets))
