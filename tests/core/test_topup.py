"""Top-up training: a new version, fine-tuned from the active one's weights and calibrated on the new samples."""

from __future__ import annotations

import pytest
import torch

from core.backbone import shared_encoder
from core.errors import RecipeError
from core.model.net import LowLightAnomalyNet, NetConfig
from core.roi import RoiMask, RoiShape
from core.topup import TOPUP_STEPS, TRAINED_PARTS, plan_topup, run_topup, trainable_state
from core.training import PRESETS


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return float(sum((a[k].float() - b[k].float()).pow(2).sum() for k in a) ** 0.5)


@pytest.mark.timeout(1800)  # two trainings (the fixture's and the top-up) on a shared, loaded 2-core machine
def test_topup_starts_from_the_active_weights_and_calibrates_on_the_new_samples(generated, store, trained):
    recipe = store.create("topped")
    recipe.import_samples([s.path for s in generated.train[:20]])  # the samples ``trained`` was trained on
    v1 = recipe.save_version(trained, activate=True)
    with pytest.raises(RecipeError, match="no new good samples"):
        plan_topup(recipe)
    new = recipe.import_samples([s.path for s in generated.train[20:30]])
    plan = plan_topup(recipe, steps=6)
    assert plan.base_version == v1 and plan.new_names == sorted(p.name for p in new)

    events, encoded = [], []
    encoder = shared_encoder()
    hook = encoder.register_forward_pre_hook(lambda module, args: encoded.append(int(args[0].shape[0])))
    try:
        v2, topped = run_topup(recipe, steps=6, on_event=events.append, encoder=encoder)
        kept_images = sum(encoded)
        encoded.clear()
        # the same top-up with the foreign-region heads fitted afresh: what keeping them saves
        v3, refitted = run_topup(recipe, steps=6, encoder=encoder, reuse_foreign_region=False)
        refit_images = sum(encoded)
    finally:
        hook.remove()
    assert v2 != v1 and recipe.versions() == [v1, v2, v3]
    assert recipe.active_version == v1  # the operator activates it; rollback stays as it was
    assert [e.step for e in events if e.stage == "train"] == list(range(1, 7))
    assert events[-1].stage == "done"

    saved = recipe.load(v2)
    assert saved.stats["topped_up_from"] == v1
    assert saved.stats["topup_new_samples"] == plan.new_names
    assert saved.stats["train_images"] + saved.stats["holdout_images"] == 30
    # calibration: the held-out good images it set the thresholds on are new samples
    holdout = set(saved.stats["holdout_names"])
    assert holdout and holdout <= set(plan.new_names)
    # each held-out image is calibrated through ``calibration_views`` random cameras
    assert len(saved.post.modes["lowlight"].good_scores) == len(holdout) * saved.config.calibration_views

    # the weights started from v1's: a few small steps stay much closer to them than a fresh start is
    before = trainable_state(trained.net)
    after = trainable_state(saved.net)
    assert set(after) == set(before) and all(k.startswith(TRAINED_PARTS) for k in after)
    torch.manual_seed(plan.config.seed)
    fresh = trainable_state(LowLightAnomalyNet(NetConfig(image_size=trained.config.image_size)))
    moved, fresh_gap = _distance(after, before), _distance(fresh, before)
    assert 0 < moved < 0.2 * fresh_gap

    # the budget: the foreign-region heads are v1's (fitted on encoder features only), rescaled to the new map, so
    # none of the composites a training renders for them is encoded
    cfg = trained.config
    modes = list(saved.post.modes)
    assert saved.stats["topup_kept_foreign_region"] and not refitted.stats["topup_kept_foreign_region"]
    for mode in modes:
        kept, base = saved.net.foreign_regions[mode], trained.net.foreign_regions[mode]
        assert kept.is_fitted and all(torch.equal(a, b) for a, b in zip(kept.head.parameters(), base.head.parameters()))
        assert torch.equal(kept.norm[[0, 1, 3]], base.norm[[0, 1, 3]]) and kept.norm[2] != base.norm[2]
    assert refit_images - kept_images == len(modes) * (cfg.swap_images + cfg.refinish_images)
    assert saved.stats["steps"] == 6 and plan_topup(recipe).config.steps == TOPUP_STEPS <= PRESETS["fast"].steps / 8


def test_topup_needs_an_active_version(store):
    recipe = store.create("untrained")
    with pytest.raises(RecipeError, match="train it first"):
        plan_topup(recipe)


def test_a_changed_mask_refits_the_foreign_region_heads(generated, store, trained):
    recipe = store.create("masked")
    recipe.import_samples([s.path for s in generated.train[:20]])
    recipe.save_version(trained, activate=True)
    recipe.import_samples([s.path for s in generated.train[20:24]])
    assert plan_topup(recipe).fit_kwargs["reuse_foreign_region"]  # the mask it was trained with: none
    recipe.set_roi(RoiMask((RoiShape("rect", ((0.1, 0.1), (0.9, 0.9))),)))
    assert not plan_topup(recipe).fit_kwargs["reuse_foreign_region"]
