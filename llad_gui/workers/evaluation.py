"""Evaluation in the background: :func:`core.evaluation_run.run_evaluation` on its own thread, with progress and
cooperative cancel. It loads its own predictor for the category, so the Inspect page's model is never shared
between threads.

Signals (from :class:`~llad_gui.workers.job.Job`): ``progress((done, total))``,
``finished(core.evaluation_run.EvaluationRun)``, ``failed(str)``, ``cancelled()``.
"""

from __future__ import annotations

from core.evaluation_run import EvaluationRun, EvaluationSettings, run_evaluation
from core.types import Thresholds
from llad_gui.workers.job import Job


class EvaluationWorker(Job):
    """Evaluate ``recipe``'s active model on the labelled ``folder`` (MVTec layout or good/ + bad/)."""

    def __init__(self, recipe, folder, thresholds: Thresholds, settings: EvaluationSettings, parent=None) -> None:
        super().__init__(parent)
        self.recipe = recipe
        self.folder = folder
        self.thresholds = thresholds
        self.settings = settings

    def work(self) -> EvaluationRun:
        run = run_evaluation(
            self.recipe,
            self.folder,
            self.thresholds,
            self.settings,
            on_progress=lambda done, total: self.report((done, total)),
            cancel=self.cancel_event.is_set,
        )
        self.check_cancel()  # a cancelled evaluation returns a partial report: not a result
        return run
