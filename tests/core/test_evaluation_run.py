"""EvaluationRun: what the Evaluate page asks of a finished evaluation (confusion, F1, suggestions, the test set
for the threshold assistant, words), and the seeded darkening that shows one image again as it was evaluated."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.data.datasets import Sample
from core.data.lowlight import synthesize_lowlight
from core.evaluation import EVAL_SEED, EvalReport, ImageRow, load_test_image
from core.evaluation_run import EvaluationRun, EvaluationSettings
from core.types import InputMode, Thresholds

SCORES = [0.1, 0.2, 0.3, 0.4, 0.9, 1.5, 0.8, 2.0, 3.0]
LABELS = [0, 0, 0, 0, 0, 1, 1, 1, 1]


def make_run(errors: list[str] | None = None, pixel_auroc: float = float("nan")) -> EvaluationRun:
    rows = [
        ImageRow(f"/parts/{i}.png", y, "crack" if y else "good", s, "OK", 5.0)
        for i, (s, y) in enumerate(zip(SCORES, LABELS))
    ]
    report = EvalReport(
        image_auroc=0.95,
        pixel_auroc=pixel_auroc,
        aupro=float("nan"),
        f1=0.0,
        confusion={},
        counts={"good": 5, "defective": 4, "unreadable": len(errors or [])},
        ms_per_image=5.0,
        threshold=1.0,
        rows=rows,
        errors=errors or [],
    )
    samples = [Sample(r.path, r.label, r.defect_type) for r in rows]
    return EvaluationRun(report, samples, EvaluationSettings(InputMode.LOWLIGHT, 0.7), predictor=None)


def test_confusion_and_f1_follow_the_thresholds():
    run = make_run()
    assert run.confusion(Thresholds(1.0)) == {"tp": 3, "fp": 0, "tn": 5, "fn": 1}
    assert run.f1(Thresholds(1.0)) == pytest.approx(2 * 3 / (2 * 3 + 0 + 1))
    assert run.confusion(Thresholds(1.0, 1.0, 0.25)) == {"tp": 4, "fp": 1, "tn": 4, "fn": 0}  # band flags 0.8, 0.9


def test_suggestions_for_a_false_reject_target_or_best_f1():
    run = make_run()
    s = run.suggest(0.0, 0.0)
    assert s.false_reject_rate == 0.0 and 0.9 < s.threshold < 1.5
    assert run.suggest(0.0).reason == "best F1 on this set"
    assert run.suggest(0.1, 0.0).threshold == pytest.approx(s.threshold + 0.1)


def test_test_set_for_the_assistant_and_words():
    run = make_run(errors=["/parts/x.png: not an image"])
    ref = run.reference_set()
    assert ref.name == "test set" and ref.good.tolist() == [0.1, 0.2, 0.3, 0.4, 0.9]
    assert ref.defect.tolist() == [0.8, 1.5, 2.0, 3.0]
    assert run.counts_text() == "5 good, 4 defective, 1 unreadable"
    assert run.summary() == (
        "Done: 9 images evaluated. Mode: low-light, test images darkened (strength 0.7). "
        "1 file(s) could not be read: /parts/x.png: not an image"
    )
    assert not run.has_masks and make_run(pixel_auroc=0.9).has_masks
    assert EvaluationSettings().describe() == "Mode: automatic."


def test_an_image_is_darkened_with_the_seed_of_its_place_in_the_set(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(40, 220, (64, 64, 3), dtype=np.uint8)
    path = tmp_path / "part.png"
    cv2.imwrite(str(path), image[:, :, ::-1])
    sample = Sample(path)
    np.testing.assert_array_equal(load_test_image(sample, 3), image)  # no darkening asked: the image as stored
    dark = load_test_image(sample, 3, 0.7)
    np.testing.assert_array_equal(dark, synthesize_lowlight(image, 0.7, EVAL_SEED + 3)[0])
    np.testing.assert_array_equal(dark, load_test_image(sample, 3, 0.7))  # the same again
    assert not np.array_equal(dark, load_test_image(sample, 4, 0.7))  # another place, another darkening
    assert dark.mean() < image.mean()
