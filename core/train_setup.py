"""What a training runs on and reports: its settings, its progress events, the good images it learns from, and
Cancel.

Shared by the step loop (:mod:`core.train_loop`), calibration (:mod:`core.postprocess.fitting`) and the driver
that runs both (:mod:`core.training`, which re-exports the public names).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from core.data.datasets import Sample
from core.data.io import ImageLoadError, load_image
from core.errors import TrainingCancelled
from core.preprocess import resize_rgb

MIN_GOOD_SAMPLES = 10
"""Fewest good images a category can be trained on: below this the held-out calibration set (at least 3
images) and the training set are both too small for a threshold anyone should trust."""

Cancel = threading.Event | Callable[[], bool] | None
"""How a caller asks a training to stop: an event to set, or a function that says so."""


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
    #: training images whose scores (as many views each as a held-out image) give the threshold its spread with the
    #: held-out ones' (core.calibration.pooled_spread): on validation data of all four sets, the spread of ten held-out
    #: images alone rejected 2.6 % of further good images when 1 % was asked (benchmarks/choose_threshold.py)
    spread_images: int = 48
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
class TrainItem:
    """A good sample as training sees it: its well-lit image, its low-light one, or both (paired), resized."""

    name: str
    welllit: np.ndarray | None
    lowlight: np.ndarray | None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the item's images (a well-lit image and its low-light partner share it)."""
        return (self.welllit if self.welllit is not None else self.lowlight).shape[:2]

    def each_image(self, change: Callable[[np.ndarray], np.ndarray]) -> TrainItem:
        """This item with ``change`` applied to each image it has."""
        welllit = None if self.welllit is None else change(self.welllit)
        return replace(self, welllit=welllit, lowlight=None if self.lowlight is None else change(self.lowlight))


def calibration_holdout(n: int, cfg: TrainConfig) -> int:
    """How many of ``n`` good images are held out from training to calibrate on."""
    return int(np.clip(round(n * cfg.holdout_fraction), 3, 100))


def load_items(samples: Sequence[Sample], size: int, lowlight_only: bool) -> tuple[list[TrainItem], list[str]]:
    """The readable ``samples`` as items of ``size`` pixels, and a message for each one that could not be read."""
    items, problems = [], []
    for s in samples:
        try:
            main = resize_rgb(load_image(s.path), size)
            partner = resize_rgb(load_image(s.partner), size) if s.partner is not None else None
        except ImageLoadError as exc:
            problems.append(str(exc))
            continue
        if lowlight_only:
            items.append(TrainItem(s.path.name, None, main))
        else:
            items.append(TrainItem(s.path.name, main, partner))
    return items, problems


def checked(views: Iterable, cancel: Cancel) -> Iterator:
    """``views`` one by one, checking for Cancel before each: a calibration stage runs the encoder on hundreds of
    images, tens of seconds on a 2-core PC."""
    for view in views:
        check_cancel(cancel)
        yield view


def check_cancel(cancel: Cancel) -> None:
    """Raise :class:`~core.errors.TrainingCancelled` once ``cancel`` asks for it."""
    if cancel is None:
        return
    if cancel.is_set() if isinstance(cancel, threading.Event) else cancel():
        raise TrainingCancelled("training cancelled")
