"""Training in the background: drives :func:`core.training.fit` on a QThread, reports every event, cancels
cooperatively, and writes the new version only when training has finished.

Signals (from :class:`~llad_gui.workers.job.Job`): ``progress(TrainEvent)``, ``finished(TrainedModel)``,
``failed(str)``, ``cancelled()``; plus ``saved(str)`` with the new version's name just before ``finished``.
A cancel or a crash writes nothing: :meth:`core.recipes.Recipe.save_version` is the last step and is atomic,
and the new version is never activated here (the operator decides).
"""

from __future__ import annotations

from PySide6.QtCore import Signal

from core.topup import finish_topup, plan_topup
from core.training import TrainConfig, fit
from llad_gui.workers.job import Job


class TrainingWorker(Job):
    """Train ``recipe``'s good samples with ``config``; save the result as a new, inactive version."""

    saved = Signal(str)

    def __init__(self, recipe, config: TrainConfig, *, lowlight_only: bool = False, parent=None, **fit_kwargs):
        super().__init__(parent)
        self.recipe = recipe
        self.config = config
        self.lowlight_only = lowlight_only
        self.fit_kwargs = fit_kwargs
        self.version: str | None = None

    def work(self):
        samples = self.recipe.samples()
        kwargs = {"roi": self.recipe.roi(), **self.fit_kwargs}  # top-up (core.topup) passes its own
        gen = fit(samples, self.config, lowlight_only=self.lowlight_only, cancel=self.cancel_event, **kwargs)
        while True:
            try:
                event = next(gen)
            except StopIteration as stop:
                trained = stop.value
                break
            self.report(event)
        self.check_cancel()  # a cancel that came during calibration's last step still wins
        trained = self.finish(trained)
        self.version = self.recipe.save_version(trained, activate=False)
        self.saved.emit(self.version)
        return trained

    def finish(self, trained):
        """What is done with the trained model before it is saved (nothing here)."""
        return trained


class TopUpWorker(TrainingWorker):
    """Top up ``recipe``'s active version (:mod:`core.topup`): planned here, off the GUI thread, since that loads
    the active model; then trained, cancelled and saved like any training. ``config`` is replaced by the plan's."""

    def work(self):
        self.plan = plan_topup(self.recipe)
        self.config, self.lowlight_only = self.plan.config, self.plan.lowlight_only
        self.fit_kwargs = {**self.fit_kwargs, **self.plan.fit_kwargs}
        return super().work()

    def finish(self, trained):
        return finish_topup(trained, self.plan)
