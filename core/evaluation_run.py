"""A finished evaluation as the Evaluate page shows it, with the maths the page needs and nothing Qt.

:func:`run_evaluation` loads a recipe's model, evaluates a labelled folder and returns an :class:`EvaluationRun`:
the report, the samples, the settings it ran with and the predictor, as typed fields. The run answers what the
page asks as the thresholds move (confusion, F1, suggested thresholds, the test set for the threshold assistant)
and draws one image again exactly as it was evaluated (the same seeded darkening). Keeping this here means the
CLI, a test or a notebook get the same answers as the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.data.datasets import Sample, read_labelled
from core.data.io import load_image
from core.evaluation import EVAL_SEED, EvalReport, ImageRow, evaluate, load_test_image
from core.metrics import f1_from_confusion
from core.threshold_advice import ScoreSet, Suggestion, confusion_at, suggest_best_f1, suggest_for_false_reject
from core.types import Frame, InputMode, InspectionResult, Thresholds

if TYPE_CHECKING:
    from core.predictor import Predictor


@dataclass(frozen=True)
class EvaluationSettings:
    """How the test images are fed: the input mode (``None`` = automatic) and the optional synthetic darkening."""

    mode: InputMode | None = None
    lowlight_strength: float | None = None
    seed: int = EVAL_SEED

    def describe(self) -> str:
        mode = "automatic" if self.mode is None else InputMode(self.mode).label
        dark = f", test images darkened (strength {self.lowlight_strength:.1f})" if self.lowlight_strength else ""
        return f"Mode: {mode}{dark}."


@dataclass(frozen=True)
class RowView:
    """One evaluated image drawn again: the overlay (RGB uint8), the model's result and a caption (rich text)."""

    image: np.ndarray
    result: InspectionResult
    caption: str


@dataclass
class EvaluationRun:
    """The outcome of one evaluation and the questions the Evaluate page asks of it."""

    report: EvalReport
    samples: list[Sample]
    settings: EvaluationSettings
    predictor: Predictor  # kept to draw one image again without loading the model
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {str(s.path): i for i, s in enumerate(self.samples)}

    @property
    def rows(self) -> list[ImageRow]:
        return self.report.rows

    @cached_property
    def scores(self) -> np.ndarray:
        return np.array([r.score for r in self.rows], np.float64)

    @cached_property
    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.rows], bool)

    @property
    def has_masks(self) -> bool:
        return bool(np.isfinite(self.report.pixel_auroc))

    def confusion(self, thresholds: Thresholds) -> dict[str, int]:
        """tp/fp/tn/fn at ``thresholds`` (NG and UNCERTAIN count as rejected)."""
        return confusion_at(self.scores, self.labels, thresholds)

    def f1(self, thresholds: Thresholds) -> float:
        """F1 at ``thresholds``; NaN when nothing is defective and nothing rejected."""
        return f1_from_confusion(self.confusion(thresholds))

    def suggest(self, band: float, false_reject_rate: float | None = None) -> Suggestion:
        """The image threshold rejecting at most ``false_reject_rate`` (0..1) of the good parts, or, when that is
        ``None``, the one with the best F1. Raises ValueError when the set cannot answer (no good parts, or no
        defective ones for F1)."""
        if false_reject_rate is None:
            return suggest_best_f1(self.scores, self.labels, band)
        return suggest_for_false_reject(self.scores, self.labels, false_reject_rate, band)

    def reference_set(self) -> ScoreSet:
        """The labelled images as a set the threshold assistant draws beside the calibration curves."""
        return ScoreSet.of("test set", self.scores[~self.labels], self.scores[self.labels])

    def counts_text(self) -> str:
        c = self.report.counts
        unreadable = f", {c['unreadable']} unreadable" if c["unreadable"] else ""
        return f"{c['good']} good, {c['defective']} defective{unreadable}"

    def summary(self) -> str:
        """One line for the page's status: how many images, the settings, the first unreadable file."""
        errors = self.report.errors
        unread = f" {len(errors)} file(s) could not be read: {errors[0]}" if errors else ""
        return f"Done: {len(self.rows)} images evaluated. {self.settings.describe()}{unread}"

    def show_row(self, row: ImageRow, thresholds: Thresholds) -> RowView:
        """Run the model again on ``row``'s image as it was evaluated and draw its overlay. Slow: the model runs,
        so call it off the GUI thread."""
        from core.visualize import overlay

        index = self._index[row.path]
        sample = self.samples[index]
        image = load_test_image(sample, index, self.settings.lowlight_strength, self.settings.seed)
        partner = load_image(sample.partner) if sample.partner is not None else None
        result = self.predictor.predict(Frame(image, source="eval", ref=row.path, partner=partner), self.settings.mode)
        truth = f"defective ({row.defect_type})" if row.label else "good"
        caption = (
            f"<b>Actually {truth}</b> · score {result.score:.3f} → "
            f"<b>{thresholds.decide(result.score).value}</b> at image threshold {thresholds.image:.3f}.<br>"
            "Colours: blue = like the good samples, red = unlike them; outlined: regions over the pixel threshold."
        )
        return RowView(overlay(image, result.anomaly_map, pixel_threshold=thresholds.pixel), result, caption)


def run_evaluation(
    recipe,
    folder: str | Path,
    thresholds: Thresholds,
    settings: EvaluationSettings = EvaluationSettings(),
    *,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> EvaluationRun:
    """Evaluate ``recipe``'s active model (its own copy, never shared with another thread) on the labelled
    ``folder`` (MVTec layout or good/ + bad/). On cancel the report is partial: the caller should drop it."""
    from core.predictor import Predictor

    samples = read_labelled(folder)
    if on_progress is not None:
        on_progress(0, len(samples))
    predictor = Predictor.from_recipe(recipe)
    predictor.thresholds = thresholds
    report = evaluate(
        predictor,
        samples,
        mode=settings.mode,
        lowlight_strength=settings.lowlight_strength,
        seed=settings.seed,
        on_progress=on_progress,
        cancel=cancel,
    )
    return EvaluationRun(report, list(samples), settings, predictor)
