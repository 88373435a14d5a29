"""What calibration looks at: views of good images (and composites of them) as each input mode sees them, and
what the encoder, the network and the scoring make of them.

A held-out or training image is rendered for a mode by a random camera of the training family
(:func:`as_lowlight`, :func:`calibration_view`); views go through the detector in batches
(:func:`view_batches`), which give scores and maps (:func:`score_views`), the residuals a whitening and a position
baseline are fitted on (:func:`calibration_residuals`), or only the encoder's target features for the densities,
the region contrast and the foreign-region head (:func:`density_descriptors`, :func:`exposure_summaries`).
Composites for the foreign-region head take a region from another part or re-finish one of its own
(:func:`swapped_item`, :func:`refinished_item`).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import torch

from core.data.defects import apply_region_refinish, apply_region_swap, region_refinish, region_swap
from core.data.lowlight import change_exposure
from core.data.sensor import TRAIN_RANGES, render, sample_params
from core.model.detector import AnomalyDetector
from core.model.foreign_region import local_light_level
from core.model.image_gate import ImageGate
from core.preprocess import captured_images, mode_images, view_tensors
from core.train_setup import Cancel, TrainConfig, TrainItem, checked
from core.types import InputMode


def as_lowlight(image: np.ndarray, mode: InputMode, cfg: TrainConfig, rng: np.random.Generator, cutoff: float):
    """The well-lit ``image`` as a random camera of the training family captures it for ``mode``: in a dark-input
    mode at an exposure under ``cutoff`` (automatic mode's, relative to the well-lit mean), log-uniform down to the
    family's least; in well-lit mode unchanged, or for ``cfg.welllit_noisy`` of the views taken by such a camera at
    an exposure from ``cutoff`` to 1."""
    darkest = TRAIN_RANGES["exposure"][0]
    if mode == InputMode.WELLLIT:
        if rng.random() >= cfg.welllit_noisy:
            return image
        low, high = min(max(cutoff, darkest), 1.0), 1.0
    else:
        low, high = darkest, min(max(cutoff, darkest), 1.0)
    exposure = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    return render(image, replace(sample_params(rng, "train"), exposure=exposure), rng)


def calibration_view(item: TrainItem, mode: InputMode, cfg: TrainConfig, rng: np.random.Generator, cutoff: float):
    """(image, partner) for one held-out item in ``mode`` (:func:`as_lowlight` renders a well-lit image)."""
    if item.welllit is None:
        return item.lowlight, None
    if mode == InputMode.PAIRED:
        low = item.lowlight if item.lowlight is not None else as_lowlight(item.welllit, mode, cfg, rng, cutoff)
        return low, item.welllit
    if mode == InputMode.LOWLIGHT and item.lowlight is not None:
        return item.lowlight, None
    return as_lowlight(item.welllit, mode, cfg, rng, cutoff), None


def view_batches(views, mode: InputMode, cfg: TrainConfig, welllit_mean: float, size: int = 8):
    """(inputs, targets or None, light) tensors for (image, partner) views (any iterable, read as it goes),
    ``size`` at a time."""
    views = iter(views)
    while chunk := list(itertools.islice(views, size)):
        yield view_tensors([mode_images(mode, img, partner, cfg.image_size, welllit_mean) for img, partner in chunk])


@torch.inference_mode()
def score_views(detector: AnomalyDetector, views, mode: InputMode, cfg: TrainConfig, welllit_mean: float):
    scores, maps = [], []
    for inputs, targets, light in view_batches(views, mode, cfg, welllit_mean):
        out = detector(inputs, targets, light, mode)
        scores.append(out.score.numpy())
        maps.append(out.anomaly_map[:, 0].numpy())
    return np.concatenate(scores), np.concatenate(maps)


def gated(gate: ImageGate, maps: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(N, H, W) maps scored before ``gate`` was fitted, as the detector gives them now."""
    return gate(torch.from_numpy(maps)[:, None], torch.from_numpy(scores))[:, 0].numpy()


@torch.inference_mode()
def calibration_residuals(detector: AnomalyDetector, views, mode: InputMode, cfg: TrainConfig, welllit_mean: float):
    """Per scale, the unit residuals of all ``views`` (N, C, grid, grid)."""
    per_batch = [detector.calibration_residuals(*batch) for batch in view_batches(views, mode, cfg, welllit_mean)]
    return [torch.cat(s) for s in zip(*per_batch)]


@torch.inference_mode()
def density_descriptors(detector: AnomalyDetector, views, mode: InputMode, cfg: TrainConfig, welllit_mean: float):
    """What ``mode``'s densities, region contrast and foreign-region head are fitted on, from ``views``, only the
    encoder running: the feature density's descriptors (n, h, w, C) and the two coarsest target features
    ((n, C, h, w) each, half precision) and their local light levels (n, 1, h, w) of the first
    ``cfg.density_images`` views, the image density's summaries (N, D) of the first ``cfg.image_density_images``."""
    scoring = detector.scoring[mode.value]
    density, image_density, foreign = scoring.density, scoring.image_density, scoring.foreign_region
    local, whole, fine, coarse, levels, seen = [], [], [], [], [], 0
    for batch in view_batches(views, mode, cfg, welllit_mean):
        feats = detector.target_features(*batch)
        on_grid = detector.net.align_targets(feats, batch[0])
        keep = max(0, cfg.density_images - seen)
        local.append(density.descriptors(on_grid)[:keep])
        fine.append(feats[-2][:keep].half())
        coarse.append(feats[-1][:keep].half())
        captured = captured_images(batch[0], batch[2])[:keep]
        levels.append(local_light_level(captured, feats[-1].shape[-2:], foreign.light_blurs))
        whole.append(image_density.summaries(feats)[: max(0, cfg.image_density_images - seen)])
        seen += len(batch[0])
    return torch.cat(local), torch.cat(whole), (torch.cat(fine), torch.cat(coarse), torch.cat(levels))


@torch.inference_mode()
def exposure_summaries(
    detector: AnomalyDetector,
    items,
    mode: InputMode,
    cfg: TrainConfig,
    welllit_mean: float,
    cutoff: float,
    cancel: Cancel = None,
):
    """Per gain of the image density's ``exposure_gains``, its summaries (N, D) of ``items`` as taken
    with that exposure (their own random stream: the other views stay as they were)."""
    image_density = detector.scoring[mode.value].image_density
    rng = np.random.default_rng(cfg.seed + 2)
    out = []
    for gain in image_density.exposure_gains:
        exposed = (with_exposure(it, gain) for it in checked(items, cancel))
        views = (calibration_view(it, mode, cfg, rng, cutoff) for it in exposed)
        batches = view_batches(views, mode, cfg, welllit_mean)
        out.append(torch.cat([image_density.summaries(detector.target_features(*b)) for b in batches]))
    return out


def swapped_item(item: TrainItem, donor: TrainItem, rng: np.random.Generator) -> tuple[TrainItem, np.ndarray]:
    """``item`` with one region taken from ``donor`` (the same region in each image the item has), and the
    donor's share of each pixel (:func:`core.data.defects.region_swap`)."""
    swap = region_swap(*item.size, rng)

    def swapped(image, other):
        return None if image is None or other is None else apply_region_swap(image, other, swap)

    welllit, lowlight = swapped(item.welllit, donor.welllit), swapped(item.lowlight, donor.lowlight)
    return replace(item, welllit=welllit, lowlight=lowlight), swap.mask


def refinished_item(item: TrainItem, rng: np.random.Generator) -> tuple[TrainItem, np.ndarray]:
    """``item`` with one region of its own surface re-finished (the same region in each image the item has), and
    each pixel's share of the change (:func:`core.data.defects.region_refinish`)."""
    refinish = region_refinish(*item.size, rng)
    return item.each_image(lambda image: apply_region_refinish(image, refinish)), refinish.swap.mask


def with_exposure(item: TrainItem, gain: float) -> TrainItem:
    return item.each_image(lambda image: change_exposure(image, gain))
