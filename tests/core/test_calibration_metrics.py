"""Post-processing and metrics: thresholds from good scores, normalisation, AUROC, AUPRO, F1."""

from __future__ import annotations

import numpy as np
import pytest

from core.calibration import (
    PIXEL_SAMPLE,
    ModeCalibration,
    PostProcessor,
    best_f1_threshold,
    calibrate_mode,
    threshold_for_false_reject,
)
from core.metrics import aupro, auroc, confusion, f1_from_confusion
from core.types import InputMode, Thresholds, Verdict


def test_threshold_rejects_about_the_requested_share_of_good_parts():
    rng = np.random.default_rng(0)
    good = np.exp(rng.normal(-1, 0.2, 400))
    t = threshold_for_false_reject(good[:100], 0.05)
    share = float(np.mean(good[100:] >= t))
    assert 0.0 <= share <= 0.12


def test_one_odd_held_out_image_does_not_set_the_threshold():
    rng = np.random.default_rng(2)
    good = np.exp(rng.normal(-1, 0.2, 400))
    few = np.r_[good[:9], 3 * np.median(good)]  # 10 held-out tiles, one of them odd
    t = threshold_for_false_reject(few, 0.01)
    assert t < few.max()
    share = float(np.mean(good[10:] >= t))
    assert 0.0 < share <= 0.05, share  # near the 1 % asked for, not 0 % because of one image


def test_normalised_score_puts_typical_good_at_zero_and_threshold_at_one():
    rng = np.random.default_rng(1)
    good = np.exp(rng.normal(-1, 0.1, 60))
    maps = rng.random((4, 16, 16)).astype(np.float32)
    cal = calibrate_mode(good, maps)
    assert cal.normalize_score(cal.center) == pytest.approx(0.0)
    assert cal.normalize_score(cal.threshold) == pytest.approx(1.0)
    assert cal.denormalize_score(1.0) == pytest.approx(cal.threshold)
    assert float(np.median(cal.normalize_map(maps))) == pytest.approx(0.0, abs=1e-5)


def test_pixel_threshold_uses_synthetic_defects_but_never_drops_below_good_pixels():
    rng = np.random.default_rng(2)
    good_maps = rng.normal(0.2, 0.02, (5, 32, 32)).astype(np.float32)
    bad_maps = rng.normal(0.2, 0.02, (5, 32, 32)).astype(np.float32)
    masks = np.zeros_like(bad_maps, bool)
    masks[:, 10:20, 10:20] = True
    bad_maps[masks] += 0.5
    cal = calibrate_mode(rng.random(20) + 1, good_maps, rng.random(5) + 3, bad_maps, masks)
    assert cal.pixel_threshold >= np.quantile(good_maps, 0.999)
    assert float(np.mean(bad_maps[masks] >= cal.pixel_threshold)) > 0.99


def test_pixel_statistics_of_maps_beyond_the_sample_size_hold_on_their_thinned_values():
    """More map values than :data:`PIXEL_SAMPLE` (as with a few hundred held-out images) are thinned, evenly, and
    the pixel centre and threshold stay those of all the values; masks stay aligned with their maps."""
    rng = np.random.default_rng(3)
    n = PIXEL_SAMPLE // (128 * 128) + 4  # 126 maps: 2.06 M values
    good_maps = rng.lognormal(-2.0, 0.3, (n, 128, 128)).astype(np.float32)
    bad_maps = rng.lognormal(-2.0, 0.3, (n, 128, 128)).astype(np.float32)
    masks = np.zeros_like(bad_maps, bool)
    masks[:, 40:80, 40:80] = True
    bad_maps[masks] += 2.0
    cal = calibrate_mode(rng.random(50) + 1, good_maps, rng.random(n) + 3, bad_maps, masks)
    assert good_maps.size > PIXEL_SAMPLE
    assert cal.pixel_center == pytest.approx(float(np.median(good_maps)), rel=2e-3)
    # the defects' pixels sit apart from every other: the F1-best cut is at their lowest
    assert float(np.max(bad_maps[~masks])) < cal.pixel_threshold <= float(np.min(bad_maps[masks])) * 1.01


def test_post_processor_round_trips_and_refuses_unknown_modes():
    post = PostProcessor({"lowlight": ModeCalibration(1.0, 2.0, 0.1, 0.5, [1.0], [3.0])})
    again = PostProcessor.from_dict(post.to_dict())
    assert again.for_mode(InputMode.LOWLIGHT).threshold == 2.0
    assert again.for_mode(InputMode.WELLLIT).threshold == 2.0  # borrowed from the closest calibrated mode
    with pytest.raises(ValueError):
        PostProcessor.from_dict({"moonlight": post.to_dict()["lowlight"]})


def test_thresholds_three_bands():
    t = Thresholds(image=1.0, uncertain_band=0.3)
    assert t.decide(1.2) == Verdict.NG
    assert t.decide(0.8) == Verdict.UNCERTAIN
    assert t.decide(0.5) == Verdict.OK
    assert t.decide(float("nan")) == Verdict.ERROR
    assert Thresholds(1.0).decide(0.99) == Verdict.OK


def test_auroc_matches_definition_with_ties():
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auroc([1, 1, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.5)
    assert np.isnan(auroc([1, 2], [0, 0]))


def test_auroc_agrees_with_pairwise_count():
    rng = np.random.default_rng(3)
    s, y = rng.random(200), rng.random(200) < 0.3
    pos, neg = s[y], s[~y]
    pairwise = np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :]))
    assert auroc(s, y) == pytest.approx(pairwise)


def test_aupro_perfect_random_and_per_region_weighting():
    masks = np.zeros((2, 32, 32), bool)
    masks[0, 2:6, 2:6] = True  # small region
    masks[1, 10:30, 10:30] = True  # large region
    perfect = masks.astype(np.float32)
    assert aupro(perfect, masks) == pytest.approx(1.0, abs=1e-6)
    rng = np.random.default_rng(4)
    assert 0.05 < aupro(rng.random(masks.shape).astype(np.float32), masks) < 0.25
    only_large = np.zeros_like(perfect)
    only_large[1][masks[1]] = 1.0  # finds the large region, misses the small one: PRO ~ 0.5, not ~0.96
    assert aupro(only_large, masks) < 0.7


def test_confusion_and_f1():
    c = confusion(np.array([1, 1, 0, 0, 1], bool), np.array([1, 0, 0, 1, 1], bool))
    assert c == {"tp": 2, "fp": 1, "tn": 1, "fn": 1}
    assert f1_from_confusion(c) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))


def test_best_f1_threshold_separates_separable_scores():
    t, f1 = best_f1_threshold(np.array([0.1, 0.2, 0.3, 0.7, 0.8]), np.array([0, 0, 0, 1, 1], bool))
    assert f1 == pytest.approx(1.0) and 0.3 < t <= 0.7
