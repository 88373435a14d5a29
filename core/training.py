"""Training on good samples only, as a generator of progress events.

``fit`` yields :class:`TrainEvent` objects (loading, every step, calibrating, done) and returns a
:class:`TrainedModel` (``result = yield from fit(...)``, or :func:`run_fit` to drive it to the end). A GUI worker,
the CLI and the tests all drive the same loop; cancelling is cooperative: set the ``cancel`` event and the next
step raises :class:`~core.errors.TrainingCancelled` without touching anything on disk.

Training pairs, per sample and per step, as the detector sees them at inspection
(:func:`core.preprocess.mode_images`): the network's input is the classical enhancement of a dark image and the
illumination map is estimated from the dark image itself:

- real pairs (a well-lit image with a low-light partner): dark image = the partner, target = the well-lit image;
- well-lit only: dark image = :func:`~core.data.sensor.render` of it by a random camera of the ``"train"`` family
  each time (:func:`~core.data.sensor.sample_params`: exposure, full well, read noise, light fall-off, monochrome or
  Bayer sensor; a fraction of steps keeps it unaltered so well-lit inspection works too), target = the well-lit
  image;
- low-light only: the enhancement of the low-light image is input and target at once.

Augmentation: horizontal and vertical flips. Everything is seeded.

A target depends only on the sample and its flips, so its encoder features are computed once and cached
(:class:`_TargetCache`); a step then costs one encoder pass for the inputs, not two.

Calibration, per input mode: the residuals of up to ``baseline_images`` training images fit the mode's whitening
(dark-input modes only, :data:`WHITENED_MODES`) and position baseline, the target features of up to
``density_images`` its feature density (:class:`~core.model.density.FeatureDensity`), those of up to
``image_density_images`` its image density (:class:`~core.model.image_density.ImageDensity`; only the encoder
runs for both; the image density also sees those images at other exposures), and the coarsest target features of
the feature density's images its region contrast (:class:`~core.model.region_contrast.RegionContrast`). The map
of the held-out good images before those terms gives the image density its scores and the region contrast its
scale. Then ``swap_images`` composites of the feature density's images, each with a region swapped in from another
(:func:`core.data.defects.region_swap`), and ``refinish_images`` of them with a region of their own surface made
brighter or darker (:func:`core.data.defects.region_refinish`), train the mode's foreign-region head
(:class:`~core.model.foreign_region.ForeignRegion`, the same scale). Last, the held-out images' scores fit the
mode's image gate (:class:`~core.model.image_gate.ImageGate`), and the held-out images and synthetic defects,
their maps gated, set the thresholds (:func:`core.calibration.calibrate_mode`). Every stage checks for Cancel as
it goes.

Calibration spans the sensor range: every dark view of a well-lit image is rendered by its own random camera of the
training family, its exposure within the range the mode is used for (a low-light mode under automatic mode's
cut-off, well-lit above it: a bright frame from a noisy camera, for ``welllit_noisy`` of the well-lit views), and
each held-out good view is seen ``calibration_views`` times, by different cameras. Each view's lighting is measured
(:mod:`core.lighting`): the scores' rise with the noise is fitted and divided out, and the range of the views is
saved as the lighting guard's.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field, replace

import cv2
import numpy as np
import torch

from core.backbone import FeatureEncoder, shared_encoder
from core.calibration import PostProcessor, calibrate_mode
from core.data.datasets import Sample
from core.data.defects import (
    apply_region_refinish,
    apply_region_swap,
    region_refinish,
    region_swap,
    synthetic_defect,
)
from core.data.io import ImageLoadError, load_image
from core.data.lowlight import change_exposure, enhance_lowlight
from core.data.sensor import TRAIN_RANGES, render, sample_params
from core.errors import DatasetError, TrainingCancelled
from core.lighting import LightingRange, measure
from core.model.decoder import align_to_grid
from core.model.density import held_out_split, spread
from core.model.detector import AnomalyDetector
from core.model.foreign_region import ForeignRegion, local_light_level
from core.model.image_density import ImageDensity
from core.model.image_gate import ImageGate
from core.model.loss import reconstruction_loss
from core.model.net import LowLightAnomalyNet, NetConfig, trainable_state
from core.preprocess import (
    captured_images,
    lowlight_cutoff,
    mean_linear,
    mode_images,
    resize_rgb,
    to_tensor,
    view_tensors,
)
from core.types import InputMode

WHITENED_MODES = (InputMode.LOWLIGHT, InputMode.PAIRED)
"""Modes whose input is a dark capture: their residual is whitened (see :mod:`core.model.anomaly_map`)."""
LIGHT_LEVEL_MODES = (InputMode.LOWLIGHT,)
"""Modes whose foreign-region head also takes each cell's local light level: where the features it sees come from
the enhanced image, which divides that level out (in paired mode they come from the well-lit partner; well-lit
features still see the level, and adding it there did not help)."""

MIN_GOOD_SAMPLES = 10
"""Fewest good images a category can be trained on: below this the held-out calibration set (at least 3
images) and the training set are both too small for a threshold anyone should trust."""


@dataclass
class TrainConfig:
    """Training settings; saved in the recipe with the weights they produced."""

    image_size: int = 256
    steps: int = 750
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    welllit_fraction: float = 0.15
    holdout_fraction: float = 0.1
    baseline_images: int = 128
    density_images: int = 384
    image_density_images: int = 1000
    swap_images: int = 1200
    refinish_images: int = 1200
    calibration_views: int = 4
    welllit_noisy: float = 0.5
    lighting_margin: float = 1.25
    #: the guard's range is the calibration views' from this quantile to 1 - it (widened by the margin): the training
    #: family's noisiest corner (full well 300 e- at 1/32 exposure, read noise 12 e-) is at signal-to-noise 1, where the
    #: noise estimate saturates (about 1.3), so the extremes would leave no frame "noisier than calibrated". 0.01 with
    #: margin 1.25 was chosen on train/good images of all four sets (benchmarks/choose_guard.py): at most 1.5 % of
    #: training-family frames and none of the suite's down to 1/16 exposure and 1,000 e- go to CHECK
    lighting_quantile: float = 0.01
    false_reject_rate: float = 0.01
    seed: int = 0
    threads: int | None = None
    target_cache_mb: int = 1536
    preset: str = "default"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known.setdefault("refinish_images", 0)  # saved before re-finished composites existed: trained without them
        return cls(**known)


PRESETS: dict[str, TrainConfig] = {
    "default": TrainConfig(),
    "fast": TrainConfig(steps=250, swap_images=300, refinish_images=300, preset="fast"),
    "tiny": TrainConfig(image_size=128, steps=40, batch_size=4, swap_images=32, refinish_images=32, preset="tiny"),
}


def preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)


@dataclass
class TrainEvent:
    """Progress report. ``stage``: 'load', 'train', 'calibrate' or 'done'."""

    stage: str
    step: int = 0
    total: int = 0
    loss: float = float("nan")
    elapsed: float = 0.0
    eta: float = float("nan")
    message: str = ""

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0


@dataclass
class TrainedModel:
    """Everything a recipe version stores."""

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


@dataclass
class _Item:
    name: str
    welllit: np.ndarray | None
    lowlight: np.ndarray | None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the item's images (a well-lit image and its low-light partner share it)."""
        return (self.welllit if self.welllit is not None else self.lowlight).shape[:2]

    def each_image(self, change: Callable[[np.ndarray], np.ndarray]) -> _Item:
        """This item with ``change`` applied to each image it has."""
        welllit = None if self.welllit is None else change(self.welllit)
        return replace(self, welllit=welllit, lowlight=None if self.lowlight is None else change(self.lowlight))


def _calibration_holdout(n: int, cfg: TrainConfig) -> int:
    """How many of ``n`` good images are held out from training to calibrate on."""
    return int(np.clip(round(n * cfg.holdout_fraction), 3, 100))


def image_density_needs(cfg: TrainConfig, limit: int = 100_000) -> tuple[int | None, int | None]:
    """The fewest good images with which a category's image density weighs in at all, and in full
    (:meth:`~core.model.image_density.ImageDensity.weight_for`). ``None`` where ``cfg`` never gets there (the
    density is fitted on at most ``image_density_images``)."""

    def weight(n: int) -> float:
        return ImageDensity.weight_for(min(n - _calibration_holdout(n, cfg), cfg.image_density_images))

    some = next((n for n in range(MIN_GOOD_SAMPLES, limit) if weight(n) > 0), None)
    full = next((n for n in range(some or limit, limit) if weight(n) >= ImageDensity.max_weight), None)
    return some, full


def _load_items(samples: Sequence[Sample], size: int, lowlight_only: bool) -> tuple[list[_Item], list[str]]:
    items, problems = [], []
    for s in samples:
        try:
            main = resize_rgb(load_image(s.path), size)
            partner = resize_rgb(load_image(s.partner), size) if s.partner is not None else None
        except ImageLoadError as exc:
            problems.append(str(exc))
            continue
        if lowlight_only:
            items.append(_Item(s.path.name, None, main))
        else:
            items.append(_Item(s.path.name, main, partner))
    return items, problems


def _checked(views, cancel: threading.Event | Callable[[], bool] | None):
    """``views`` one by one, checking for Cancel before each: a calibration stage runs the encoder on hundreds of
    images, tens of seconds on a 2-core PC."""
    for view in views:
        _check_cancel(cancel)
        yield view


def _check_cancel(cancel: threading.Event | Callable[[], bool] | None) -> None:
    if cancel is None:
        return
    if cancel.is_set() if isinstance(cancel, threading.Event) else cancel():
        raise TrainingCancelled("training cancelled")


def _training_pair(item: _Item, cfg: TrainConfig, rng: np.random.Generator, welllit_mean: float):
    """(input, light, flips, input is the target): a dark image goes through :func:`core.preprocess.mode_images`,
    exactly as at inspection; the target is :func:`_target_image` of the same flips."""
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


def _target_image(item: _Item, flips: tuple[bool, bool]) -> np.ndarray:
    """The well-lit image the network learns to reconstruct features of, when it is not the input itself (a
    low-light-only item is always its own target, see :func:`_training_pair`): deterministic per (item, flips)."""
    return _flip(item.welllit, flips)


def available_memory_bytes() -> int | None:
    """Memory the system can hand out now without swapping (Linux ``MemAvailable``); ``None`` where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def release_free_memory() -> bool:
    """Hand the memory the C allocator holds free back to the system (glibc's ``malloc_trim``; elsewhere nothing
    is done). Tensors freed between training's stages stay resident otherwise: the target cache alone leaves up to
    its budget behind, which the next stage's allocations do not always reuse, and which an application that
    trained in-process would keep for as long as it runs. True when the call was made."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc; musl has no malloc_trim
    except (OSError, AttributeError):
        return None


def cache_budget(cap_mb: int, available: int | None) -> int:
    """Bytes the target cache may hold: ``cap_mb``, but at most a quarter of the memory available when training
    starts, so a small PC trains without swapping (just more slowly: targets past the bound are recomputed)."""
    cap = int(cap_mb) * 2**20
    return cap if available is None else max(0, min(cap, available // 4))


class _TargetCache:
    """Aligned target features per (item, flips), computed once and kept in float16.

    A target depends only on the item and its flips (never on the random low-light synthesis), so after its first
    use it costs nothing: this removes most of the second encoder pass of every step. Bounded by ``max_bytes``;
    past it, targets are computed afresh each time.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.store: dict[tuple[int, bool, bool], torch.Tensor] = {}

    def get(self, key: tuple[int, bool, bool]) -> torch.Tensor | None:
        hit = self.store.get(key)
        return None if hit is None else hit.float()

    def put(self, key: tuple[int, bool, bool], value: torch.Tensor) -> None:
        size = value.numel() * 2
        if key not in self.store and self.bytes + size <= self.max_bytes:
            self.store[key] = value.to(torch.float16).clone()
            self.bytes += size


def fit(
    samples: Sequence[Sample],
    config: TrainConfig | None = None,
    *,
    lowlight_only: bool = False,
    cancel: threading.Event | Callable[[], bool] | None = None,
    encoder: FeatureEncoder | None = None,
    calibration_defects: int = 24,
    roi=None,
    start_from: LowLightAnomalyNet | None = None,
    holdout_first: Sequence[str] = (),
) -> Generator[TrainEvent, None, TrainedModel]:
    """Train a network on good ``samples`` and calibrate it; see the module docstring. ``roi``: the category's
    :class:`~core.roi.RoiMask` (outside it every image is filled and the map ignored); ``start_from``: a trained
    network whose trainable weights the steps start from (top-up, :mod:`core.topup`); ``holdout_first``: sample
    names held out for calibration before any other."""
    cfg = config or TrainConfig()
    t0 = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    yield TrainEvent("load", 0, len(samples), message=f"loading {len(samples)} images")
    items, problems = _load_items(samples, cfg.image_size, lowlight_only)
    if roi is not None and not roi.is_empty:
        items = [it.each_image(roi.fill_outside) for it in items]
    if len(items) < MIN_GOOD_SAMPLES:
        raise DatasetError(
            f"{len(items)} usable good images; at least {MIN_GOOD_SAMPLES} are needed to train and calibrate"
            + (f" ({len(problems)} could not be read: {problems[0]})" if problems else "")
        )
    _check_cancel(cancel)
    order = rng.permutation(len(items))
    first = set(holdout_first)
    order = np.array(sorted(order, key=lambda i: items[i].name not in first), dtype=int)  # stable: `first` first
    n_hold = _calibration_holdout(len(items), cfg)
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
    if start_from is not None:
        net.load_state_dict(trainable_state(start_from), strict=False)
    net = net.to(memory_format=torch.channels_last)
    detector = AnomalyDetector(encoder, net)
    optim = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)

    cache = _TargetCache(cache_budget(cfg.target_cache_mb, available_memory_bytes()))
    losses: list[float] = []
    t_train = time.perf_counter()
    net.train()
    for step in range(1, cfg.steps + 1):
        _check_cancel(cancel)
        picks = rng.integers(0, len(train_items), cfg.batch_size)
        pairs = [_training_pair(train_items[i], cfg, rng, welllit_mean) for i in picks]
        inputs = to_tensor([p[0] for p in pairs])
        lights = to_tensor([p[1] for p in pairs])
        keys = [(int(i), *p[2]) for i, p in zip(picks, pairs)]
        cached = [cache.get(k) for k in keys]
        n = len(pairs)
        missing = [j for j, c in enumerate(cached) if c is None and not pairs[j][3]]
        with torch.no_grad():
            extra = [_target_image(train_items[keys[j][0]], keys[j][1:]) for j in missing]
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
        yield TrainEvent("train", step, cfg.steps, losses[-1], time.perf_counter() - t0, eta)
    train_seconds = time.perf_counter() - t_train
    del cache  # the targets' features (up to its budget) are not needed again
    release_free_memory()

    net.eval()
    yield TrainEvent("calibrate", 0, len(holdout), message=f"calibrating on {len(holdout)} held-out good images")
    post = PostProcessor()
    modes = [InputMode.LOWLIGHT] if lowlight_only else [InputMode.LOWLIGHT, InputMode.WELLLIT]
    if any(it.lowlight is not None for it in holdout) and not lowlight_only:
        modes.append(InputMode.PAIRED)
    cal_rng = np.random.default_rng(cfg.seed + 1)
    # automatic mode's cut-off relative to the well-lit mean: low-light views are rendered darker, well-lit brighter
    cutoff = (lowlight_cutoff([welllit_mean]) if lowlight_below is None else lowlight_below) / welllit_mean
    views_each = max(1, cfg.calibration_views)
    seen_light = []
    defects = []
    for i in range(calibration_defects if holdout else 0):
        src = holdout[i % len(holdout)]
        base = src.welllit if src.welllit is not None else enhance_lowlight(src.lowlight, target_mean=welllit_mean)
        image, mask = synthetic_defect(base, cal_rng)
        if roi is not None and not roi.is_empty:  # as inspection will see it: nothing outside
            image, mask = roi.fill_outside(image), mask * roi.rasterize(*mask.shape)
        defects.append((image, mask))
    base_items = [train_items[i] for i in cal_rng.permutation(len(train_items))[: cfg.baseline_images]]
    n_density = max(cfg.density_images, cfg.image_density_images)
    density_items = [train_items[i] for i in cal_rng.permutation(len(train_items))[:n_density]]
    for mode in modes:
        _check_cancel(cancel)
        base_views = [_calibration_view(it, mode, cfg, cal_rng, cutoff) for it in base_items]
        residuals = _calibration_residuals(detector, _checked(base_views, cancel), mode, cfg, welllit_mean)
        whitening, baseline, density = (net.whitening[mode.value], net.baselines[mode.value], net.densities[mode.value])
        if mode in WHITENED_MODES:
            whitening.fit(residuals)
        discrepancy = whitening(residuals)
        del residuals
        baseline.fit(discrepancy)
        density_views = _checked((_calibration_view(it, mode, cfg, cal_rng, cutoff) for it in density_items), cancel)
        local, whole, (fine, coarse, levels) = _density_descriptors(detector, density_views, mode, cfg, welllit_mean)
        density.fit(local, baseline(discrepancy).mean(1, keepdim=True), seed=cfg.seed)
        del local, discrepancy
        good = [
            _calibration_view(it, mode, cfg, cal_rng, cutoff)
            for it in holdout
            for _ in range(
                views_each if it.welllit is not None and (it.lowlight is None or mode == InputMode.WELLLIT) else 1
            )
        ]
        bad = [
            (_as_lowlight(img, mode, cfg, cal_rng, cutoff), img if mode == InputMode.PAIRED else None)
            for img, _ in defects
        ]
        good_light = [measure(resize_rgb(img, cfg.image_size), welllit_mean) for img, _ in good]
        bad_light = [measure(resize_rgb(img, cfg.image_size), welllit_mean) for img, _ in bad]
        seen_light += good_light
        # the map's, before the terms fitted below
        map_scores, map_pixels = _score_views(detector, _checked(good, cancel), mode, cfg, welllit_mean)
        map_spread = spread(torch.from_numpy(map_pixels))
        net.floors[mode.value].fit(torch.from_numpy(map_pixels))
        net.region_contrasts[mode.value].fit(coarse, map_spread, seed=cfg.seed)
        if ImageDensity.weight_for(len(whole)) > 0:  # else it would not count: left unfitted, saved empty
            exposed = _exposure_summaries(
                detector, density_items[: len(whole)], mode, cfg, welllit_mean, cutoff, cancel
            )
            net.image_densities[mode.value].fit(whole, torch.from_numpy(map_scores), cfg.seed, exposed)
        del whole, map_pixels
        if cfg.swap_images + cfg.refinish_images > 0 and len(coarse) >= ForeignRegion.min_images:
            message = f"{mode.label}: learning what a swapped-in or re-finished region looks like"
            yield TrainEvent("calibrate", modes.index(mode), len(modes), message=message)
            items_seen = density_items[: len(coarse)]
            features = (fine, coarse, levels)
            _fit_foreign_region(detector, items_seen, features, mode, cfg, welllit_mean, map_spread, cutoff, cancel)
        del fine, coarse, levels
        g_scores, g_maps = _score_views(detector, _checked(good, cancel), mode, cfg, welllit_mean)
        d_scores, d_maps = (
            _score_views(detector, _checked(bad, cancel), mode, cfg, welllit_mean) if bad else (None, None)
        )
        gate = net.gates[mode.value]
        gate.fit(g_scores, net.image_densities[mode.value].weight / ImageDensity.max_weight)
        g_maps = _gated(gate, g_maps, g_scores)
        d_maps = None if d_maps is None else _gated(gate, d_maps, d_scores)
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
            np.array([v.noise for v in good_light]),
            np.array([v.noise for v in bad_light]) if bad else None,
        )
        yield TrainEvent("calibrate", modes.index(mode) + 1, len(modes), message=f"calibrated {mode.label}")

    post.lighting = LightingRange.fit(seen_light, cfg.lighting_margin, cfg.lighting_quantile)
    if not lowlight_only:  # every training image's exposure was seen well-lit, not only the held-out ones'
        brightest = max(exposures) / welllit_mean * cfg.lighting_margin
        post.lighting = replace(post.lighting, exposure_max=max(post.lighting.exposure_max, brightest))
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
        "density_components": {m.value: net.densities[m.value].components for m in modes},
        "image_density_weight": {m.value: round(net.image_densities[m.value].weight, 3) for m in modes},
        "image_density_needs": list(image_density_needs(cfg)),
        "calibration_views": {m.value: len(post.modes[m.value].good_scores) for m in modes},
        "noise_slope": {m.value: round(post.modes[m.value].noise_slope, 3) for m in modes},
        "lowlight_only": lowlight_only,
        "paired": any(it.lowlight is not None and it.welllit is not None for it in items),
        "roi": None if roi is None or roi.is_empty else roi.to_dict(),
        "sample_names": sorted(it.name for it in items),
        "holdout_names": sorted(it.name for it in holdout),
    }
    model = TrainedModel(net, post, cfg, welllit_mean, stats, InputMode.LOWLIGHT, lowlight_below)
    release_free_memory()  # calibration's composites and features, freed
    yield TrainEvent("done", cfg.steps, cfg.steps, stats["final_loss"], time.perf_counter() - t0, 0.0, "done")
    return model


def _as_lowlight(image: np.ndarray, mode: InputMode, cfg: TrainConfig, rng: np.random.Generator, cutoff: float):
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


def _calibration_view(item: _Item, mode: InputMode, cfg: TrainConfig, rng: np.random.Generator, cutoff: float):
    """(image, partner) for one held-out item in ``mode`` (:func:`_as_lowlight` renders a well-lit image)."""
    if item.welllit is None:
        return item.lowlight, None
    if mode == InputMode.PAIRED:
        low = item.lowlight if item.lowlight is not None else _as_lowlight(item.welllit, mode, cfg, rng, cutoff)
        return low, item.welllit
    if mode == InputMode.LOWLIGHT and item.lowlight is not None:
        return item.lowlight, None
    return _as_lowlight(item.welllit, mode, cfg, rng, cutoff), None


def _view_batches(views, mode: InputMode, cfg: TrainConfig, welllit_mean: float, size: int = 8):
    """(inputs, targets or None, light) tensors for (image, partner) views (any iterable, read as it goes),
    ``size`` at a time."""
    views = iter(views)
    while chunk := list(itertools.islice(views, size)):
        yield view_tensors([mode_images(mode, img, partner, cfg.image_size, welllit_mean) for img, partner in chunk])


@torch.inference_mode()
def _score_views(detector: AnomalyDetector, views, mode: InputMode, cfg: TrainConfig, welllit_mean: float):
    scores, maps = [], []
    for inputs, targets, light in _view_batches(views, mode, cfg, welllit_mean):
        out = detector(inputs, targets, light, mode)
        scores.append(out.score.numpy())
        maps.append(out.anomaly_map[:, 0].numpy())
    return np.concatenate(scores), np.concatenate(maps)


def _gated(gate: ImageGate, maps: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(N, H, W) maps scored before ``gate`` was fitted, as the detector gives them now."""
    return gate(torch.from_numpy(maps)[:, None], torch.from_numpy(scores))[:, 0].numpy()


@torch.inference_mode()
def _calibration_residuals(detector: AnomalyDetector, views, mode: InputMode, cfg: TrainConfig, welllit_mean: float):
    """Per scale, the unit residuals of all ``views`` (N, C, grid, grid)."""
    per_batch = [detector.calibration_residuals(*batch) for batch in _view_batches(views, mode, cfg, welllit_mean)]
    return [torch.cat(s) for s in zip(*per_batch)]


@torch.inference_mode()
def _density_descriptors(detector: AnomalyDetector, views, mode: InputMode, cfg: TrainConfig, welllit_mean: float):
    """What ``mode``'s densities, region contrast and foreign-region head are fitted on, from ``views``, only the
    encoder running: the feature density's descriptors (n, h, w, C) and the two coarsest target features
    ((n, C, h, w) each, half precision) and their local light levels (n, 1, h, w) of the first
    ``cfg.density_images`` views, the image density's summaries (N, D) of the first ``cfg.image_density_images``."""
    density, image_density = detector.net.densities[mode.value], detector.net.image_densities[mode.value]
    local, whole, fine, coarse, levels, seen = [], [], [], [], [], 0
    for batch in _view_batches(views, mode, cfg, welllit_mean):
        feats = detector.target_features(*batch)
        on_grid = detector.net.align_targets(feats, batch[0])
        keep = max(0, cfg.density_images - seen)
        local.append(density.descriptors(on_grid)[:keep])
        fine.append(feats[-2][:keep].half())
        coarse.append(feats[-1][:keep].half())
        levels.append(local_light_level(captured_images(batch[0], batch[2])[:keep], feats[-1].shape[-2:]))
        whole.append(image_density.summaries(feats)[: max(0, cfg.image_density_images - seen)])
        seen += len(batch[0])
    return torch.cat(local), torch.cat(whole), (torch.cat(fine), torch.cat(coarse), torch.cat(levels))


@torch.inference_mode()
def _exposure_summaries(
    detector: AnomalyDetector,
    items,
    mode: InputMode,
    cfg: TrainConfig,
    welllit_mean: float,
    cutoff: float,
    cancel=None,
):
    """Per gain of :attr:`ImageDensity.exposure_gains`, the image density's summaries (N, D) of ``items`` as taken
    with that exposure (their own random stream: the other views stay as they were)."""
    image_density = detector.net.image_densities[mode.value]
    rng = np.random.default_rng(cfg.seed + 2)
    out = []
    for gain in ImageDensity.exposure_gains:
        exposed = (_with_exposure(it, gain) for it in _checked(items, cancel))
        views = (_calibration_view(it, mode, cfg, rng, cutoff) for it in exposed)
        batches = _view_batches(views, mode, cfg, welllit_mean)
        out.append(torch.cat([image_density.summaries(detector.target_features(*b)) for b in batches]))
    return out


def _fit_foreign_region(
    detector: AnomalyDetector,
    items: Sequence[_Item],
    features: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    mode: InputMode,
    cfg: TrainConfig,
    welllit_mean: float,
    map_spread: float,
    cutoff: float,
    cancel,
) -> None:
    """Fit ``mode``'s :class:`~core.model.foreign_region.ForeignRegion` on ``items`` (whose two coarsest target
    features and local light levels are ``features``, in order): ``cfg.swap_images`` composites of two of them and
    ``cfg.refinish_images`` of them with a region re-finished (never of the images held out to set its z-score)
    go through the mode's view and the encoder, and the head learns their masks. In :data:`LIGHT_LEVEL_MODES`
    the head also takes the local light level."""
    fine, coarse, levels = features
    foreign = detector.net.foreign_regions[mode.value]
    foreign.take_light(mode in LIGHT_LEVEL_MODES)
    fit_index, held_index = held_out_split(len(items), ForeignRegion.holdout, torch.Generator().manual_seed(cfg.seed))
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
                item, mask = _swapped_item(donors[a], donors[b], rng)
            else:
                item, mask = _refinished_item(donors[int(rng.integers(len(donors)))], rng)
            masks.append(cv2.resize(mask, grid[::-1], interpolation=cv2.INTER_AREA))
            yield _calibration_view(item, mode, cfg, rng, cutoff)

    swapped = torch.empty(cfg.swap_images + cfg.refinish_images, *good.shape[1:], dtype=torch.float16)
    done = 0
    for batch in _view_batches(composites(), mode, cfg, welllit_mean, size=32):
        _check_cancel(cancel)
        with torch.inference_mode():
            feats = detector.target_features(*batch)
            level = (
                local_light_level(captured_images(batch[0], batch[2]), feats[-1].shape[-2:])
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
        check=lambda: _check_cancel(cancel),
    )


def _swapped_item(item: _Item, donor: _Item, rng: np.random.Generator) -> tuple[_Item, np.ndarray]:
    """``item`` with one region taken from ``donor`` (the same region in each image the item has), and the
    donor's share of each pixel (:func:`core.data.defects.region_swap`)."""
    swap = region_swap(*item.size, rng)

    def swapped(image, other):
        return None if image is None or other is None else apply_region_swap(image, other, swap)

    welllit, lowlight = swapped(item.welllit, donor.welllit), swapped(item.lowlight, donor.lowlight)
    return replace(item, welllit=welllit, lowlight=lowlight), swap.mask


def _refinished_item(item: _Item, rng: np.random.Generator) -> tuple[_Item, np.ndarray]:
    """``item`` with one region of its own surface re-finished (the same region in each image the item has), and
    each pixel's share of the change (:func:`core.data.defects.region_refinish`)."""
    refinish = region_refinish(*item.size, rng)
    return item.each_image(lambda image: apply_region_refinish(image, refinish)), refinish.swap.mask


def _with_exposure(item: _Item, gain: float) -> _Item:
    return item.each_image(lambda image: change_exposure(image, gain))


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
