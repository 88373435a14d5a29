"""Training on good samples only, as a generator of progress events.

``fit`` yields :class:`TrainEvent` objects (loading, every step, calibrating, done) and returns a
:class:`TrainedModel` (``result = yield from fit(...)``, or :func:`run_fit` to drive it to the end). A GUI worker,
the CLI and the tests all drive the same loop; cancelling is cooperative: set the ``cancel`` event and the next
step raises :class:`~core.errors.TrainingCancelled` without touching anything on disk.

It runs three units in turn: the good images are loaded and a share held out to calibrate on
(:mod:`core.train_setup`); the network learns in :func:`core.train_loop.train_steps` (with its target cache,
:mod:`core.target_cache`); then :func:`core.postprocess.fitting.calibrate` fits the post-processor's stages in
order on the held-out images and good images rendered by random cameras of the training family. The network and
the post-processor together are the :class:`TrainedModel` a recipe version stores.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.backbone import FeatureEncoder, shared_encoder
from core.data.datasets import Sample
from core.data.lowlight import enhance_lowlight
from core.errors import DatasetError
from core.model.detector import AnomalyDetector
from core.model.image_density import ImageDensity
from core.model.net import LowLightAnomalyNet, NetConfig, trainable_state
from core.postprocess import PostProcessor
from core.postprocess.fitting import calibrate, calibrated_modes
from core.preprocess import lowlight_cutoff, mean_linear
from core.target_cache import release_free_memory
from core.train_loop import train_steps
from core.train_setup import (
    MIN_GOOD_SAMPLES,
    PRESETS,
    Cancel,
    TrainConfig,
    TrainEvent,
    calibration_holdout,
    check_cancel,
    load_items,
    preset,
)
from core.types import InputMode

__all__ = [
    "MIN_GOOD_SAMPLES",
    "PRESETS",
    "TrainConfig",
    "TrainEvent",
    "TrainedModel",
    "fit",
    "image_density_needs",
    "preset",
    "run_fit",
]


@dataclass
class TrainedModel:
    """Everything a recipe version stores: the network and the post-processor that scores its output."""

    net: LowLightAnomalyNet
    post: PostProcessor
    config: TrainConfig
    welllit_mean: float
    stats: dict = field(default_factory=dict)
    default_mode: InputMode = InputMode.LOWLIGHT
    #: automatic mode's low-light cut-off (:func:`core.preprocess.lowlight_cutoff`); ``None`` (models trained on
    #: low-light images only, or saved before it was stored): the cut-off of ``welllit_mean`` alone (half of it)
    lowlight_below: float | None = None

    @property
    def lowlight_exposure(self) -> float:
        """The exposure under which automatic mode inspects an image as low-light."""
        return lowlight_cutoff([self.welllit_mean]) if self.lowlight_below is None else self.lowlight_below


def image_density_needs(cfg: TrainConfig, limit: int = 100_000) -> tuple[int | None, int | None]:
    """The fewest good images with which a category's image density weighs in at all, and in full
    (:meth:`~core.model.image_density.ImageDensity.weight_for`). ``None`` where ``cfg`` never gets there (the
    density is fitted on at most ``image_density_images``)."""

    def weight(n: int) -> float:
        return ImageDensity.weight_for(min(n - calibration_holdout(n, cfg), cfg.image_density_images))

    some = next((n for n in range(MIN_GOOD_SAMPLES, limit) if weight(n) > 0), None)
    full = next((n for n in range(some or limit, limit) if weight(n) >= ImageDensity.max_weight), None)
    return some, full


def holdout_order(order: np.ndarray, is_new: Sequence[bool], n_hold: int, unseen: Sequence[bool] = ()) -> np.ndarray:
    """``order`` (a permutation of the items) rearranged so that its first ``n_hold`` (the held-out images) take
    the new items (``is_new``) in their share of all, at least one where there are any, and old ones for the rest,
    those ``unseen`` (never trained on by the network a top-up starts from) first; without new items, ``order``
    unchanged. Thresholds set on a new batch alone fit that batch, not the part; set on images the network was
    trained on, they are too low for every part it was not."""
    new = [int(i) for i in order if is_new[i]]
    if not new:
        return np.asarray(order, dtype=int)
    fresh = set(i for i, u in enumerate(unseen) if u)
    old = [int(i) for i in order if not is_new[i] and i in fresh] + [
        int(i) for i in order if not is_new[i] and i not in fresh
    ]
    k = min(len(new), max(1, round(n_hold * len(new) / len(order))), n_hold)
    k = max(k, n_hold - len(old))
    return np.array(new[:k] + old + new[k:], dtype=int)  # the first n_hold: k new, then the old ones


def fit(
    samples: Sequence[Sample],
    config: TrainConfig | None = None,
    *,
    lowlight_only: bool = False,
    cancel: Cancel = None,
    encoder: FeatureEncoder | None = None,
    calibration_defects: int = 24,
    roi=None,
    start_from: LowLightAnomalyNet | None = None,
    new_samples: Sequence[str] = (),
    unseen_samples: Sequence[str] = (),
    keep_heads: PostProcessor | None = None,
) -> Generator[TrainEvent, None, TrainedModel]:
    """Train a network on good ``samples`` and calibrate its post-processor; see the module docstring. ``roi``: the
    category's :class:`~core.roi.RoiMask` (outside it every image is filled and the map ignored); ``start_from``: a
    trained network whose trainable weights the steps start from (top-up, :mod:`core.topup`); ``new_samples``:
    names of samples added since ``start_from`` was trained, held out for calibration in their share of all
    (at least one), so the thresholds see the new batch and the old alike; ``unseen_samples``: old samples
    ``start_from`` was not trained on (its held-out ones), held out before any other old one; ``keep_heads``: a
    post-processor whose fitted foreign-region heads calibration keeps, rescaled (top-up)."""
    cfg = config or TrainConfig()
    t0 = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    yield TrainEvent("load", 0, len(samples), message=f"loading {len(samples)} images")
    items, problems = load_items(samples, cfg.image_size, lowlight_only)
    if roi is not None and not roi.is_empty:
        items = [it.each_image(roi.fill_outside) for it in items]
    if len(items) < MIN_GOOD_SAMPLES:
        raise DatasetError(
            f"{len(items)} usable good images; at least {MIN_GOOD_SAMPLES} are needed to train and calibrate"
            + (f" ({len(problems)} could not be read: {problems[0]})" if problems else "")
        )
    check_cancel(cancel)
    n_hold = calibration_holdout(len(items), cfg)
    new, unseen = set(new_samples), set(unseen_samples)
    is_new, is_unseen = [it.name in new for it in items], [it.name in unseen for it in items]
    order = holdout_order(rng.permutation(len(items)), is_new, n_hold, is_unseen)
    holdout = [items[i] for i in order[:n_hold]]
    train_items = [items[i] for i in order[n_hold:]]
    if lowlight_only:
        welllit_mean = float(np.mean([mean_linear(enhance_lowlight(it.lowlight)) for it in train_items[:50]]))
        lowlight_below = None
    else:
        exposures = [mean_linear(it.welllit) for it in train_items]
        welllit_mean, lowlight_below = float(np.mean(exposures)), lowlight_cutoff(exposures)

    encoder = encoder or shared_encoder()
    torch.manual_seed(cfg.seed)  # after the encoder: building it the first time draws from the global generator
    net = LowLightAnomalyNet(NetConfig(image_size=cfg.image_size))
    # made right after the network, as the stages' first weights come from the same global generator
    post = PostProcessor.for_network(net.config.channels, net.map_grid)
    if start_from is not None:
        net.load_state_dict(trainable_state(start_from), strict=False)
    net = net.to(memory_format=torch.channels_last)
    post.scoring.to(memory_format=torch.channels_last)
    detector = AnomalyDetector(encoder, net, post.scoring)

    losses, train_seconds = yield from train_steps(net, encoder, train_items, cfg, rng, welllit_mean, cancel, t0)
    net.eval()
    post.scoring.eval()
    yield from calibrate(
        detector,
        post,
        train_items,
        holdout,
        cfg,
        welllit_mean,
        lowlight_below,
        lowlight_only=lowlight_only,
        cancel=cancel,
        calibration_defects=calibration_defects,
        roi=roi,
        keep_heads=keep_heads,
    )
    modes = calibrated_modes(holdout, lowlight_only)
    cal = post.modes[modes[0].value]
    detected = float(np.mean(np.asarray(cal.defect_scores) >= cal.threshold)) if cal.defect_scores else None
    stats = {
        "train_images": len(train_items),
        "holdout_images": len(holdout),
        "unreadable": problems,
        "steps": cfg.steps,
        "final_loss": float(np.mean(losses[-20:])),
        "loss_curve": [float(np.mean(losses[i : i + 10])) for i in range(0, len(losses), 10)],
        "train_seconds": round(train_seconds, 2),
        "total_seconds": round(time.perf_counter() - t0, 2),
        "synthetic_defect_detection_rate": detected,
        "density_components": {m.value: post.stage(m, "density").components for m in modes},
        "image_density_weight": {m.value: round(post.stage(m, "image_density").weight, 3) for m in modes},
        "image_density_needs": list(image_density_needs(cfg)),
        "calibration_views": {m.value: len(post.modes[m.value].good_scores) for m in modes},
        "spread_views": {m.value: len(post.modes[m.value].train_scores) for m in modes},
        "noise_slope": {m.value: round(post.modes[m.value].noise_slope, 3) for m in modes},
        "lowlight_only": lowlight_only,
        "paired": any(it.lowlight is not None and it.welllit is not None for it in items),
        "roi": None if roi is None or roi.is_empty else roi.to_dict(),
        "sample_names": sorted(it.name for it in items),
        "holdout_names": sorted(it.name for it in holdout),
        "foreign_region_kept": keep_heads is not None,
    }
    model = TrainedModel(net, post, cfg, welllit_mean, stats, InputMode.LOWLIGHT, lowlight_below)
    release_free_memory()  # calibration's composites and features, freed
    yield TrainEvent("done", cfg.steps, cfg.steps, stats["final_loss"], time.perf_counter() - t0, 0.0, "done")
    return model


def run_fit(samples: Sequence[Sample], config: TrainConfig | None = None, on_event=None, **kwargs) -> TrainedModel:
    """Drive :func:`fit` to the end, passing each event to ``on_event``."""
    gen = fit(samples, config, **kwargs)
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(event)
