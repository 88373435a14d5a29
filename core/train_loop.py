"""The training steps: the network learns to reconstruct well-lit features from those of a dark input.

:func:`train_steps` runs ``cfg.steps`` optimiser steps as a generator of progress events and returns the losses.
Each step draws ``cfg.batch_size`` good items and, per item, a training pair as the detector sees it at inspection
(:func:`training_pair`: the input is the classical enhancement of a dark image, the illumination map is estimated
from the dark image itself):

- real pairs (a well-lit image with a low-light partner): dark image = the partner, target = the well-lit image;
- well-lit only: dark image = :func:`~core.data.sensor.render` of it by a random camera of the ``"train"`` family
  each time (a fraction ``cfg.welllit_fraction`` of steps keeps it unaltered so well-lit inspection works too),
  target = the well-lit image;
- low-light only: the enhancement of the low-light image is input and target at once.

Augmentation: horizontal and vertical flips. Everything is drawn from the caller's seeded generator. Targets'
features are kept in a :class:`~core.target_cache.TargetCache`, let go (and its memory handed back) when the steps
end.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence

import numpy as np
import torch

from core.backbone import FeatureEncoder
from core.data.sensor import render, sample_params
from core.model.decoder import align_to_grid
from core.model.loss import reconstruction_loss
from core.model.net import LowLightAnomalyNet
from core.preprocess import mode_images, to_tensor
from core.target_cache import TargetCache, available_memory_bytes, cache_budget, release_free_memory
from core.train_setup import Cancel, TrainConfig, TrainEvent, TrainItem, check_cancel
from core.types import InputMode


def train_steps(
    net: LowLightAnomalyNet,
    encoder: FeatureEncoder,
    train_items: Sequence[TrainItem],
    cfg: TrainConfig,
    rng: np.random.Generator,
    welllit_mean: float,
    cancel: Cancel = None,
    started: float | None = None,
) -> Generator[TrainEvent, None, tuple[list[float], float]]:
    """Train ``net`` for ``cfg.steps`` steps on ``train_items``, yielding a ``"train"`` event after each (its
    ``elapsed`` counted from ``started``, a :func:`time.perf_counter` value; default: now); returns (the loss of
    every step, the seconds the steps took). Cancel is checked before each step."""
    started = time.perf_counter() if started is None else started
    optim = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    cache = TargetCache(cache_budget(cfg.target_cache_mb, available_memory_bytes()))
    losses: list[float] = []
    t_train = time.perf_counter()
    net.train()
    for step in range(1, cfg.steps + 1):
        check_cancel(cancel)
        picks = rng.integers(0, len(train_items), cfg.batch_size)
        pairs = [training_pair(train_items[i], cfg, rng, welllit_mean) for i in picks]
        inputs = to_tensor([p[0] for p in pairs])
        lights = to_tensor([p[1] for p in pairs])
        keys = [(int(i), *p[2]) for i, p in zip(picks, pairs)]
        cached = [cache.get(k) for k in keys]
        n = len(pairs)
        missing = [j for j, c in enumerate(cached) if c is None and not pairs[j][3]]
        with torch.no_grad():
            extra = [target_image(train_items[keys[j][0]], keys[j][1:]) for j in missing]
            feats = encoder(torch.cat([inputs, to_tensor(extra)]) if extra else inputs)
            in_feats = [f[:n] for f in feats]
            fresh = torch.cat(align_to_grid(feats, net.grid_size(inputs)), dim=1)
            # a missing target is its own input's row when the input is the target, else one of the extra rows
            rows = {j: fresh[j] for j in range(n) if pairs[j][3]} | {j: fresh[n + k] for k, j in enumerate(missing)}
            for j, row in rows.items():
                if cached[j] is None:
                    cached[j] = row
                    cache.put(keys[j], row)
            tgt = torch.split(torch.stack(cached), list(encoder.channels), dim=1)
        out = net(in_feats, lights)
        loss = reconstruction_loss(out.reconstruction, list(tgt))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optim.step()
        sched.step()
        losses.append(float(loss.detach()))
        elapsed = time.perf_counter() - t_train
        eta = elapsed / step * (cfg.steps - step)
        yield TrainEvent("train", step, cfg.steps, losses[-1], time.perf_counter() - started, eta)
    train_seconds = time.perf_counter() - t_train
    del cache  # the targets' features (up to its budget) are not needed again
    release_free_memory()
    return losses, train_seconds


def training_pair(item: TrainItem, cfg: TrainConfig, rng: np.random.Generator, welllit_mean: float):
    """(input, light, flips, input is the target): a dark image goes through :func:`core.preprocess.mode_images`,
    exactly as at inspection; the target is :func:`target_image` of the same flips."""
    flips = (bool(rng.random() < 0.5), bool(rng.random() < 0.5))
    if item.welllit is None:  # low-light only: the enhancement is input and target at once
        seen = mode_images(InputMode.LOWLIGHT, _flip(item.lowlight, flips), None, cfg.image_size, welllit_mean)
        return seen.input, seen.light, flips, True
    if item.lowlight is not None and rng.random() < 0.7:
        dark = _flip(item.lowlight, flips)
    else:
        well = _flip(item.welllit, flips)
        if rng.random() < cfg.welllit_fraction:
            return well, well, flips, True
        dark = render(well, sample_params(rng, "train"), rng)
    seen = mode_images(InputMode.LOWLIGHT, dark, None, cfg.image_size, welllit_mean)
    return seen.input, seen.light, flips, False


def _flip(image: np.ndarray, flips: tuple[bool, bool]) -> np.ndarray:
    if flips[0]:
        image = image[:, ::-1]
    if flips[1]:
        image = image[::-1]
    return np.ascontiguousarray(image)


def target_image(item: TrainItem, flips: tuple[bool, bool]) -> np.ndarray:
    """The well-lit image the network learns to reconstruct features of, when it is not the input itself (a
    low-light-only item is always its own target, see :func:`training_pair`): deterministic per (item, flips)."""
    return _flip(item.welllit, flips)
