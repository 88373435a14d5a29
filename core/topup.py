"""Quick top-up training: fine-tune the active version on old plus new good samples, then recalibrate.

When an operator adds a few new good samples (a new batch of material, a moved lamp), a full retrain costs many
minutes. A top-up starts the network's trainable weights from the active version, runs a few steps on all the
category's samples at a lower learning rate, and recalibrates every term and threshold (the held-out images take the
new samples in their share, and old ones the version was not trained on, so the thresholds see the new batch and
the old alike, on images the fine-tuned network has not learnt). The foreign-region heads, the
slowest part of calibration, read only the frozen encoder's features: they are kept from the version and only
rescaled for the fine-tuned network's map, unless the inspection mask changed since (then they are fitted anew).
The result is saved as a new version like any training, so rollback is activating the previous one.

The same :func:`core.training.fit` runs, so progress, cancel and the inspection mask behave as in training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from core.errors import RecipeError
from core.model.net import TRAINED_PARTS, trainable_state  # noqa: F401  (part of this module's API)
from core.training import TrainConfig, TrainedModel, run_fit

TOPUP_STEPS = 60
"""Fine-tuning steps of a top-up: enough to take in new samples of the same part, few enough for a minute."""
TOPUP_LR_SCALE = 0.25
"""The top-up's learning rate relative to the version's: it adjusts weights that already work."""


@dataclass
class TopUpPlan:
    """What a top-up of one category will do: the settings and :func:`core.training.fit` arguments to run."""

    base_version: str
    config: TrainConfig
    new_names: list[str]
    fit_kwargs: dict = field(default_factory=dict)
    lowlight_only: bool = False

    def describe(self) -> str:
        return (
            f"top up {self.base_version} with {len(self.new_names)} new good sample(s): "
            f"{self.config.steps} steps from its weights, then recalibrate"
        )


def plan_topup(recipe, steps: int = TOPUP_STEPS, base: TrainedModel | None = None) -> TopUpPlan:
    """Plan a top-up of ``recipe``'s active version; raises RecipeError when there is nothing to top up."""
    version = recipe.active_version
    if not version:
        raise RecipeError(f"category {recipe.name!r} has no active model to top up: train it first")
    base = base or recipe.load(version)
    known = set(base.stats.get("sample_names") or [])
    if not known:
        raise RecipeError(f"{version} does not record its training samples (trained before top-up existed): retrain")
    new = sorted(s.path.name for s in recipe.samples() if s.path.name not in known)
    if not new:
        raise RecipeError(f"no new good samples since {version} was trained: nothing to top up")
    cfg = replace(base.config, steps=int(steps), lr=base.config.lr * TOPUP_LR_SCALE, seed=base.config.seed + 1)
    roi = recipe.roi()
    unseen = base.stats.get("holdout_names", [])  # old samples the version's network never trained on
    kwargs = {"roi": roi, "start_from": base.net, "new_samples": new, "unseen_samples": unseen}
    if base.stats.get("roi") == (None if roi is None or roi.is_empty else roi.to_dict()):
        kwargs["keep_heads"] = base.post  # the heads saw images masked as now: kept, only rescaled
    return TopUpPlan(version, cfg, new, kwargs, bool(base.stats.get("lowlight_only", False)))


def finish_topup(trained: TrainedModel, plan: TopUpPlan) -> TrainedModel:
    """Record in ``trained``'s statistics where the top-up started and what it added."""
    trained.stats["topped_up_from"] = plan.base_version
    trained.stats["topup_new_samples"] = list(plan.new_names)
    return trained


def run_topup(
    recipe,
    steps: int = TOPUP_STEPS,
    on_event: Callable | None = None,
    cancel=None,
    activate: bool = False,
) -> tuple[str, TrainedModel]:
    """Top up ``recipe`` to the end and save the result as a new version; returns (version, model)."""
    plan = plan_topup(recipe, steps)
    trained = run_fit(
        recipe.samples(), plan.config, on_event, lowlight_only=plan.lowlight_only, cancel=cancel, **plan.fit_kwargs
    )
    finish_topup(trained, plan)
    return recipe.save_version(trained, activate=activate), trained
