"""Evaluation in the background: loads its own predictor for the category (so the Inspect page's model is never
shared between threads) and runs :func:`core.evaluation.evaluate` with progress and cooperative cancel.

Signals (from :class:`~llad_gui.workers.job.Job`): ``progress((done, total))``, ``finished(EvalReport)``,
``failed(str)``, ``cancelled()``. The report gains a ``predictor`` attribute so the page can draw an image's
overlay on double-click without loading the model again.
"""

from __future__ import annotations

from core.data.datasets import read_labelled
from core.types import InputMode, Thresholds
from llad_gui.workers.job import Job


class EvaluationWorker(Job):
    """Evaluate ``recipe``'s active model on the labelled ``folder`` (MVTec layout or good/ + bad/)."""

    def __init__(
        self,
        recipe,
        folder,
        thresholds: Thresholds,
        *,
        mode: InputMode | None = None,
        lowlight_strength: float | None = None,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.recipe = recipe
        self.folder = folder
        self.thresholds = thresholds
        self.mode = mode
        self.lowlight_strength = lowlight_strength

    def work(self):
        from core.evaluation import evaluate
        from core.predictor import Predictor

        samples = read_labelled(self.folder)
        self.report((0, len(samples)))
        predictor = Predictor.from_recipe(self.recipe)
        predictor.thresholds = self.thresholds
        self.check_cancel()
        report = evaluate(
            predictor,
            samples,
            mode=self.mode,
            lowlight_strength=self.lowlight_strength,
            on_progress=lambda done, total: self.report((done, total)),
            cancel=self.cancel_event.is_set,
        )
        self.check_cancel()  # evaluate() stops early on cancel and returns a partial report: not a result
        report.predictor = predictor  # type: ignore[attr-defined]
        report.samples = samples  # type: ignore[attr-defined]
        return report
