"""The training steps as a unit (:func:`core.train_loop.train_steps`): one event a step, the losses it returns,
seeded reproducibility, the target cache changing nothing but speed, and Cancel between steps."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core.backbone import shared_encoder
from core.errors import TrainingCancelled
from core.model.net import LowLightAnomalyNet, NetConfig, trainable_state
from core.preprocess import mean_linear
from core.train_loop import train_steps, training_pair
from core.train_setup import TrainItem, load_items, preset


def _steps(samples, cfg, cancel=None, on_event=None):
    """(losses, seconds, net) of ``cfg.steps`` steps from a freshly seeded network, as :func:`core.training.fit`
    starts them."""
    items, problems = load_items(samples, cfg.image_size, lowlight_only=False)
    assert not problems
    welllit_mean = float(np.mean([mean_linear(it.welllit) for it in items]))
    encoder = shared_encoder()
    torch.manual_seed(cfg.seed)
    net = LowLightAnomalyNet(NetConfig(image_size=cfg.image_size)).to(memory_format=torch.channels_last)
    run = train_steps(net, encoder, items, cfg, np.random.default_rng(cfg.seed), welllit_mean, cancel)
    while True:
        try:
            event = next(run)
        except StopIteration as stop:
            losses, seconds = stop.value
            return losses, seconds, net
        if on_event is not None:
            on_event(event)


def test_one_event_a_step_and_the_losses_returned(generated):
    cfg = preset("tiny", steps=4)
    events = []
    torch.manual_seed(cfg.seed)
    before = trainable_state(LowLightAnomalyNet(NetConfig(image_size=cfg.image_size)))
    losses, seconds, net = _steps(generated.train[:12], cfg, on_event=events.append)
    assert [(e.stage, e.step, e.total) for e in events] == [("train", s, 4) for s in range(1, 5)]
    assert [e.loss for e in events] == losses and all(np.isfinite(losses))
    assert seconds > 0 and events[-1].eta == 0.0
    after = trainable_state(net)
    assert set(after) == set(before) and any(not torch.equal(before[k], after[k]) for k in before)  # it learnt


def test_same_seed_same_losses(generated):
    runs = [_steps(generated.train[:12], preset("tiny", steps=3, seed=seed))[0] for seed in (5, 5, 6)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_cached_targets_train_exactly_like_fresh_ones(generated):
    """The target-feature cache only saves encoder passes: with it and without it (budget 0) the same seed gives
    the same losses, step after step, including steps that reuse a cached (sample, flips) target."""
    samples = generated.train[:12]
    fresh, cached = (_steps(samples, preset("tiny", steps=12, target_cache_mb=mb))[0] for mb in (0, 64))
    # 12 steps x 4 draws from 12 tiles x 4 flip variants: later steps reuse cached targets
    np.testing.assert_allclose(cached, fresh, rtol=2e-3)


def test_cancel_stops_at_the_next_step(generated):
    cancel = threading.Event()
    seen = []

    def on_event(event):
        seen.append(event.step)
        if event.step == 2:
            cancel.set()

    with pytest.raises(TrainingCancelled):
        _steps(generated.train[:12], preset("tiny", steps=50), cancel, on_event)
    assert seen == [1, 2]


def test_a_lowlight_only_item_is_its_own_target_and_a_welllit_one_is_darkened():
    rng = np.random.default_rng(0)
    image = np.full((64, 64, 3), 150, np.uint8)
    cfg = preset("tiny", image_size=64, welllit_fraction=0.0)
    *_, own = training_pair(TrainItem("dark", None, image // 4), cfg, rng, 0.3)
    assert own
    darkened = [training_pair(TrainItem("lit", image, None), cfg, rng, 0.3) for _ in range(8)]
    assert not any(p[3] for p in darkened)  # with no well-lit steps, every input is a rendered dark capture
    assert all(p[1].mean() < image.mean() for p in darkened)  # the light it is estimated from: the dark capture
