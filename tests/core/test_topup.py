"""Top-up training: a new version, fine-tuned from the active one's weights and calibrated on the new samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import RecipeError
from core.model.net import LowLightAnomalyNet, NetConfig
from core.roi import RoiMask, rectangle
from core.topup import TRAINED_PARTS, plan_topup, run_topup, trainable_state
from core.training import holdout_order


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

    events = []
    v2, topped = run_topup(recipe, steps=6, on_event=events.append)
    assert v2 != v1 and recipe.versions() == [v1, v2]
    assert recipe.active_version == v1  # the operator activates it; rollback stays as it was
    assert [e.step for e in events if e.stage == "train"] == list(range(1, 7))
    assert events[-1].stage == "done"

    saved = recipe.load(v2)
    assert saved.stats["topped_up_from"] == v1
    assert saved.stats["topup_new_samples"] == plan.new_names
    assert saved.stats["train_images"] + saved.stats["holdout_images"] == 30
    # calibration: the held-out good images take the new samples in their share (10 of 30: one of the three), the
    # rest are old ones the version's network never trained on (its own held-out ones)
    holdout = set(saved.stats["holdout_names"])
    assert len(holdout) == 3 and len(holdout & set(plan.new_names)) == 1
    assert holdout - set(plan.new_names) <= set(trained.stats["holdout_names"])
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

    # the foreign-region heads read only the frozen encoder's features: kept, and only rescaled for the new map
    assert saved.stats["foreign_region_kept"] is True
    for mode in saved.post.modes:
        kept, base = saved.post.stage(mode, "foreign_region"), trained.post.stage(mode, "foreign_region")
        assert _heads_equal(kept, base)
        assert float(kept.norm[2]) != float(base.norm[2])  # the map spread of the fine-tuned network


def _heads_equal(a, b) -> bool:
    return all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items() if k != "norm")


@pytest.mark.timeout(1800)
def test_a_topup_after_the_mask_changed_fits_its_heads_anew(generated, store, trained):
    """A head learnt on images masked otherwise would look at fills it never saw: a changed mask refits it."""
    recipe = store.create("masked")
    recipe.import_samples([s.path for s in generated.train[:20]])
    recipe.save_version(trained, activate=True)
    recipe.import_samples([s.path for s in generated.train[20:24]])
    recipe.set_roi(RoiMask((rectangle(0.0, 0.0, 0.8, 1.0),)))
    plan = plan_topup(recipe, steps=2)
    assert "keep_heads" not in plan.fit_kwargs
    _, topped = run_topup(recipe, steps=2)
    assert topped.stats["foreign_region_kept"] is False
    mode = next(iter(topped.post.modes))
    assert not _heads_equal(topped.post.stage(mode, "foreign_region"), trained.post.stage(mode, "foreign_region"))


def test_topup_needs_an_active_version(store):
    recipe = store.create("untrained")
    with pytest.raises(RecipeError, match="train it first"):
        plan_topup(recipe)


@pytest.mark.parametrize(("n", "new", "n_hold"), [(120, 20, 12), (30, 10, 3), (100, 1, 10), (12, 11, 3), (40, 0, 4)])
def test_the_holdout_takes_the_new_samples_in_their_share(n, new, n_hold):
    order = np.random.default_rng(n).permutation(n)
    is_new = [i >= n - new for i in range(n)]
    out = holdout_order(order, is_new, n_hold)
    assert sorted(out.tolist()) == list(range(n))
    held = out[:n_hold]
    expected = 0 if new == 0 else min(new, max(1, round(n_hold * new / n), n_hold - (n - new)))
    assert sum(is_new[i] for i in held) == expected
    if new == 0:
        assert np.array_equal(out, order)
    # within each group, the random order is kept: the held-out ones are the first of the permutation
    first_old = [int(i) for i in order if not is_new[i]][: n_hold - expected]
    assert sorted(int(i) for i in held if not is_new[i]) == sorted(first_old)


def test_the_holdout_prefers_old_samples_the_network_never_trained_on():
    order = np.random.default_rng(1).permutation(120)
    is_new = [i >= 100 for i in range(120)]
    unseen = [i in (3, 50, 77) for i in range(120)]
    held = holdout_order(order, is_new, 12, unseen)[:12]
    assert {3, 50, 77} <= set(held.tolist())
    assert sum(is_new[i] for i in held) == 2
