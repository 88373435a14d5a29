"""Calibration: the post-processor's stages fitted on good images, in the order they run, per input mode.

For each mode (low-light, well-lit, and paired where the held-out images have pairs), on views rendered by random
cameras of the training family (:mod:`core.postprocess.views`):

1. whitening (dark-input modes only, :data:`WHITENED_MODES`) and position baseline: on the residuals of up to
   ``cfg.baseline_images`` training images;
2. feature density: on the target features of up to ``cfg.density_images`` of them;
3. region contrast: on the coarsest target features of the feature density's images;
4. foreign-region head: on ``cfg.swap_images`` composites of those images with a region swapped in from another
   and ``cfg.refinish_images`` with a region of their own re-finished; both map terms are scaled to the spread of
   the held-out good images' map so far;
5. image density: on the summaries of up to ``cfg.image_density_images`` training images (also at other
   exposures), only where it weighs in at all (:meth:`~core.model.image_density.ImageDensity.fitted_weight`);
6. image gate: on the held-out images' scores;
7. calibration (:func:`core.calibration.calibrate_mode`): thresholds from the held-out images, each seen
   ``cfg.calibration_views`` times by different cameras, and synthetic defects, their maps gated, every score
   divided by the rise fitted with each view's noise; the threshold's spread also from ``cfg.spread_images`` of
   the baseline's training images, seen as often.

Last, the lighting range of every view seen is the lighting guard's. Cancel is checked as every stage goes.
"""

from __future__ import annotations

import copy
from collections.abc import Generator, Sequence
from dataclasses import replace

import cv2
import numpy as np
import torch

from core.calibration import calibrate_mode
from core.data.defects import synthetic_defect
from core.data.lowlight import enhance_lowlight
from core.lighting import FrameLighting, LightingRange, measure
from core.model.density import held_out_split, spread
from core.model.detector import AnomalyDetector
from core.model.foreign_region import local_light_level
from core.postprocess import PostProcessor
from core.postprocess.views import (
    as_lowlight,
    calibration_residuals,
    calibration_view,
    density_descriptors,
    exposure_summaries,
    gated,
    refinished_item,
    score_views,
    swapped_item,
    view_batches,
)
from core.preprocess import captured_images, lowlight_cutoff, mean_linear, resize_rgb
from core.target_cache import release_free_memory
from core.train_setup import Cancel, TrainConfig, TrainEvent, TrainItem, check_cancel, checked
from core.types import InputMode

WHITENED_MODES = (InputMode.LOWLIGHT, InputMode.PAIRED)
"""Modes whose input is a dark capture: their residual is whitened (see :mod:`core.model.anomaly_map`)."""
LIGHT_LEVEL_MODES = (InputMode.LOWLIGHT,)
"""Modes whose foreign-region head also takes each cell's local light level: where the features it sees come from
the enhanced image, which divides that level out (in paired mode they come from the well-lit partner; well-lit
features still see the level, and adding it there did not help)."""


def calibrated_modes(holdout: Sequence[TrainItem], lowlight_only: bool) -> list[InputMode]:
    """The input modes a model trained on these images is calibrated for, in the order they are fitted."""
    modes = [InputMode.LOWLIGHT] if lowlight_only else [InputMode.LOWLIGHT, InputMode.WELLLIT]
    if any(it.lowlight is not None for it in holdout) and not lowlight_only:
        modes.append(InputMode.PAIRED)
    return modes


def calibrate(
    detector: AnomalyDetector,
    post: PostProcessor,
    train_items: Sequence[TrainItem],
    holdout: Sequence[TrainItem],
    cfg: TrainConfig,
    welllit_mean: float,
    lowlight_below: float | None,
    *,
    lowlight_only: bool = False,
    cancel: Cancel = None,
    calibration_defects: int = 24,
    roi=None,
    keep_heads: PostProcessor | None = None,
) -> Generator[TrainEvent, None, None]:
    """Fit every stage of ``post`` (whose scoring ``detector`` runs) for each calibrated mode, then its lighting
    range; see the module docstring. ``lowlight_below``: automatic mode's cut-off (``None``: half the well-lit
    mean); ``roi``: the category's :class:`~core.roi.RoiMask`; ``keep_heads``: a post-processor (of the version a
    top-up starts from) whose fitted foreign-region heads are kept, only their scale refitted. Yields
    ``"calibrate"`` events."""
    yield TrainEvent("calibrate", 0, len(holdout), message=f"calibrating on {len(holdout)} held-out good images")
    modes = calibrated_modes(holdout, lowlight_only)
    cal_rng = np.random.default_rng(cfg.seed + 1)
    # automatic mode's cut-off relative to the well-lit mean: low-light views are rendered darker, well-lit brighter
    cutoff = (lowlight_cutoff([welllit_mean]) if lowlight_below is None else lowlight_below) / welllit_mean
    defects = _synthetic_defects(holdout, calibration_defects, welllit_mean, cal_rng, roi)
    base_items = [train_items[i] for i in cal_rng.permutation(len(train_items))[: cfg.baseline_images]]
    n_density = max(cfg.density_images, cfg.image_density_images)
    density_items = [train_items[i] for i in cal_rng.permutation(len(train_items))[:n_density]]
    seen_light: list[FrameLighting] = []
    for index, mode in enumerate(modes):
        check_cancel(cancel)
        views = _ModeViews(detector, mode, cfg, welllit_mean, cutoff, cal_rng, cancel)
        keep = _kept_head(keep_heads, mode)
        seen_light += yield from _fit_mode(
            views, post, base_items, density_items, holdout, defects, index, modes, roi, keep
        )
        yield TrainEvent("calibrate", index + 1, len(modes), message=f"calibrated {mode.label}")
    post.lighting = LightingRange.fit(seen_light, cfg.lighting_margin, cfg.lighting_quantile)
    if not lowlight_only:  # every training image's exposure was seen well-lit, not only the held-out ones'
        brightest = max(mean_linear(it.welllit) for it in train_items) / welllit_mean * cfg.lighting_margin
        post.lighting = replace(post.lighting, exposure_max=max(post.lighting.exposure_max, brightest))


class _ModeViews:
    """What one mode's fits share: the detector, the settings, the camera cut-off and random stream, Cancel."""

    def __init__(self, detector, mode, cfg, welllit_mean, cutoff, rng, cancel) -> None:
        self.detector, self.mode, self.cfg, self.welllit_mean = detector, mode, cfg, welllit_mean
        self.cutoff, self.rng, self.cancel = cutoff, rng, cancel
        self.scoring = detector.scoring[mode.value]

    def view(self, item: TrainItem):
        return calibration_view(item, self.mode, self.cfg, self.rng, self.cutoff)

    def scores(self, views):
        """(scores, maps) of ``views`` as the mode's scoring gives them now."""
        return score_views(self.detector, checked(views, self.cancel), self.mode, self.cfg, self.welllit_mean)

    def lighting(self, views) -> list[FrameLighting]:
        """The exposure and noise of each of ``views`` (image, partner) at the model's input size."""
        return [measure(resize_rgb(img, self.cfg.image_size), self.welllit_mean) for img, _ in views]


def _kept_head(keep_heads: PostProcessor | None, mode: InputMode):
    """``keep_heads``' fitted foreign-region head of ``mode``, or None (nothing to keep: fit one)."""
    if keep_heads is None or keep_heads.scoring is None or mode.value not in keep_heads.scoring:
        return None
    head = keep_heads.stage(mode, "foreign_region")
    return head if head.is_fitted else None


def _fit_mode(v: _ModeViews, post, base_items, density_items, holdout, defects, index, modes, roi, keep=None):
    """Fit one mode's stages in order (see the module docstring); returns the lighting of its good views."""
    cfg, mode, s = v.cfg, v.mode, v.scoring
    base_views = [v.view(it) for it in base_items]
    residuals = calibration_residuals(v.detector, checked(base_views, v.cancel), mode, cfg, v.welllit_mean)
    if mode in WHITENED_MODES:
        s.whitening.fit(residuals)
    discrepancy = s.whitening(residuals)
    del residuals
    s.baseline.fit(discrepancy)
    density_views = checked((v.view(it) for it in density_items), v.cancel)
    local, whole, (fine, coarse, levels) = density_descriptors(v.detector, density_views, mode, cfg, v.welllit_mean)
    s.density.fit(local, s.baseline(discrepancy).mean(1, keepdim=True), seed=cfg.seed)
    del local, discrepancy
    good = _views_of(v, holdout)
    bad = [
        (as_lowlight(img, mode, cfg, v.rng, v.cutoff), img if mode == InputMode.PAIRED else None) for img, _ in defects
    ]
    good_light, bad_light = v.lighting(good), v.lighting(bad)
    map_scores, map_pixels = v.scores(good)  # the map's, before the stages fitted below
    map_spread = spread(torch.from_numpy(map_pixels))
    del map_pixels
    s.region_contrast.fit(coarse, map_spread, seed=cfg.seed)
    if keep is not None and len(coarse) >= s.foreign_region.min_images:
        _keep_foreign_region(v, keep, (fine, coarse, levels), map_spread)
    elif cfg.swap_images + cfg.refinish_images > 0 and len(coarse) >= s.foreign_region.min_images:
        message = f"{mode.label}: learning what a swapped-in or re-finished region looks like"
        yield TrainEvent("calibrate", index, len(modes), message=message)
        _fit_foreign_region(v, density_items[: len(coarse)], (fine, coarse, levels), map_spread)
    del fine, coarse, levels
    if s.image_density.fitted_weight(len(whole)) > 0:  # else it would not count: left unfitted, saved empty
        exposed = exposure_summaries(
            v.detector, density_items[: len(whole)], mode, cfg, v.welllit_mean, v.cutoff, v.cancel
        )
        s.image_density.fit(whole, torch.from_numpy(map_scores), cfg.seed, exposed)
    del whole
    g_scores, g_maps = v.scores(good)
    d_scores, d_maps = v.scores(bad) if bad else (None, None)
    trained = _views_of(v, base_items[: cfg.spread_images])  # images the network learnt: for the spread only
    t_scores = v.scores(trained)[0] if trained else None
    t_noise = np.array([x.noise for x in v.lighting(trained)])
    del trained
    s.gate.fit(g_scores, s.image_density.weight / s.image_density.max_weight)
    g_maps = gated(s.gate, g_maps, g_scores)
    d_maps = None if d_maps is None else gated(s.gate, d_maps, d_scores)
    masks = np.stack([m for _, m in defects]) if defects else None
    if roi is not None and not roi.is_empty:  # pixel statistics on inside pixels only
        inside = roi.rasterize(*g_maps.shape[-2:])
        g_maps, d_maps = g_maps[:, inside], None if d_maps is None else d_maps[:, inside]
        masks = None if masks is None else masks[:, inside]
    post.modes[mode.value] = calibrate_mode(
        g_scores,
        g_maps,
        d_scores,
        d_maps,
        masks,
        cfg.false_reject_rate,
        np.array([x.noise for x in good_light]),
        np.array([x.noise for x in bad_light]) if bad else None,
        t_scores,
        t_noise if t_scores is not None else None,
    )
    return good_light


def _views_of(v: _ModeViews, items: Sequence[TrainItem]) -> list:
    """The mode's calibration views of ``items``: ``cfg.calibration_views`` cameras each where a well-lit image is
    rendered, the capture itself where the item has one for the mode."""
    each = max(1, v.cfg.calibration_views)
    rendered = [it.welllit is not None and (it.lowlight is None or v.mode == InputMode.WELLLIT) for it in items]
    return [v.view(it) for it, many in zip(items, rendered) for _ in range(each if many else 1)]


def _synthetic_defects(holdout, count: int, welllit_mean: float, rng: np.random.Generator, roi):
    """(image, mask) of ``count`` synthetic defects drawn on the held-out images in turn, as inspection will see
    them (nothing outside ``roi``)."""
    defects = []
    for i in range(count if holdout else 0):
        src = holdout[i % len(holdout)]
        base = src.welllit if src.welllit is not None else enhance_lowlight(src.lowlight, target_mean=welllit_mean)
        image, mask = synthetic_defect(base, rng)
        if roi is not None and not roi.is_empty:
            image, mask = roi.fill_outside(image), mask * roi.rasterize(*mask.shape)
        defects.append((image, mask))
    return defects


def _keep_foreign_region(v: _ModeViews, keep, features, map_spread: float) -> None:
    """The mode's foreign-region head becomes a copy of ``keep`` (a fitted one), rescaled on the held-out part of
    this calibration's images (``features`` as in :func:`_fit_foreign_region`) and the new network's map spread.
    The head reads only the frozen encoder's features, so it stays valid for a fine-tuned network; what changes is
    the map it is added to."""
    fine, coarse, levels = features
    foreign = v.scoring.foreign_region = copy.deepcopy(keep)  # its settings too, as the kept version saved them
    _, held_index = held_out_split(len(coarse), foreign.holdout, torch.Generator().manual_seed(v.cfg.seed))
    with torch.no_grad():
        held = foreign.inputs((fine[held_index], coarse[held_index]), levels[held_index])
    foreign.rescale(held, map_spread)


def _fit_foreign_region(v: _ModeViews, items: Sequence[TrainItem], features, map_spread: float) -> None:
    """Fit the mode's :class:`~core.model.foreign_region.ForeignRegion` on ``items`` (whose two coarsest target
    features and local light levels are ``features``, in order): ``cfg.swap_images`` composites of two of them and
    ``cfg.refinish_images`` of them with a region re-finished (never of the images held out to set its z-score)
    go through the mode's view and the encoder, and the head learns their masks. In :data:`LIGHT_LEVEL_MODES`
    the head also takes the local light level."""
    cfg, mode = v.cfg, v.mode
    fine, coarse, levels = features
    foreign = v.scoring.foreign_region
    foreign.take_light(mode in LIGHT_LEVEL_MODES)
    fit_index, held_index = held_out_split(len(items), foreign.holdout, torch.Generator().manual_seed(cfg.seed))
    with torch.no_grad():
        foreign.fit_projections(fine[fit_index].float(), coarse[fit_index].float())
        chunks = zip(fine[fit_index].split(64), coarse[fit_index].split(64), levels[fit_index].split(64))
        good = torch.cat([foreign.inputs((f, c), level) for f, c, level in chunks])
        held = foreign.inputs((fine[held_index], coarse[held_index]), levels[held_index])
    donors = [items[int(i)] for i in fit_index]
    rng = np.random.default_rng(cfg.seed + 3)
    masks: list[np.ndarray] = []
    grid = tuple(coarse.shape[-2:])

    def composites():
        for i in range(cfg.swap_images + cfg.refinish_images):
            if i < cfg.swap_images:
                a, b = rng.choice(len(donors), 2, replace=False)
                item, mask = swapped_item(donors[a], donors[b], rng)
            else:
                item, mask = refinished_item(donors[int(rng.integers(len(donors)))], rng)
            masks.append(cv2.resize(mask, grid[::-1], interpolation=cv2.INTER_AREA))
            yield calibration_view(item, mode, cfg, rng, v.cutoff)

    swapped = torch.empty(cfg.swap_images + cfg.refinish_images, *good.shape[1:], dtype=torch.float16)
    done = 0
    for batch in view_batches(composites(), mode, cfg, v.welllit_mean, size=32):
        check_cancel(v.cancel)
        with torch.inference_mode():
            feats = v.detector.target_features(*batch)
            level = (
                local_light_level(captured_images(batch[0], batch[2]), feats[-1].shape[-2:], foreign.light_blurs)
                if foreign.takes_light
                else None
            )
            swapped[done : done + len(batch[0])] = foreign.inputs(feats, level)
        done += len(batch[0])
        del batch, feats, level
        # The allocator does not always reuse what a batch freed for the next one: in 3 of 7 traced runs its heap
        # grew by about 50 MB a batch, 1.9 to 3.1 GB over the stage, nearly all of it free. Given back each batch, the
        # stage's memory stays at what is in use.
        release_free_memory()
    foreign.fit(
        good.half(),
        swapped,
        torch.from_numpy(np.stack(masks)),
        held,
        map_spread,
        seed=cfg.seed,
        check=lambda: check_cancel(v.cancel),
    )
