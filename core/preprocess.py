"""Pre-processing shared by training, calibration and inference: resize, to tensor, and the per-mode images.

Keeping this in one place is what guarantees that the model sees at inspection exactly what it saw in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np
import torch

from core.data.lowlight import enhance_lowlight, srgb8_to_linear
from core.types import InputMode


def resize_rgb(image: np.ndarray, size: int) -> np.ndarray:
    """Square resize (the model's input is size x size); area filter when shrinking."""
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    interp = cv2.INTER_AREA if h * w > size * size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


def to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    """RGB uint8 images of equal size -> (B, 3, H, W) float in [0, 1], channels-last in memory."""
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div_(255.0)
    return batch.contiguous(memory_format=torch.channels_last)


def mean_linear(image: np.ndarray) -> float:
    """Mean brightness in linear light (used to tell low-light from well-lit input and to set the enhancement)."""
    small = image[::4, ::4] if image.shape[0] > 64 else image
    return float(srgb8_to_linear(small).mean())


def lowlight_cutoff(exposures: Sequence[float]) -> float:
    """The exposure (:func:`mean_linear`) under which automatic mode takes an image for a low-light capture,
    from the category's well-lit good images: half their mean; but where good parts themselves come darker than
    that (parts of differing finish, a drifting lamp), 0.9 times the darkest percent of them, so a good part as
    dark as those it was trained on is still inspected as well-lit."""
    e = np.asarray(exposures, np.float64)
    if e.size == 0:
        raise ValueError("no exposures to set the low-light cut-off from")
    return float(min(0.5 * e.mean(), 0.9 * np.percentile(e, 1)))


def resolve_mode(image: np.ndarray, partner: np.ndarray | None, requested: InputMode | None, lowlight_below: float):
    """The mode to use: ``PAIRED`` when a partner exists; otherwise the requested one; otherwise automatic —
    ``LOWLIGHT`` when the image's exposure is under ``lowlight_below`` (:func:`lowlight_cutoff`), else
    ``WELLLIT``."""
    if partner is not None:
        return InputMode.PAIRED
    if requested is not None and requested != InputMode.PAIRED:
        return InputMode(requested)  # a plain "lowlight" / "welllit" string as well
    return InputMode.LOWLIGHT if mean_linear(image) < lowlight_below else InputMode.WELLLIT


class ModeImages(NamedTuple):
    """What the detector gets for one image in one mode (all size x size uint8 RGB).

    ``input``: what the encoder sees and the network reconstructs from (the classical enhancement of a
    low-light image, the image itself when well-lit); ``target``: the well-lit view the reconstruction is compared
    with, ``None`` when the input is its own target; ``light``: the image as captured, from which the
    illumination map is estimated.
    """

    input: np.ndarray
    target: np.ndarray | None
    light: np.ndarray


def view_tensors(views: Sequence[ModeImages]) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(inputs, targets, light) batches of one mode's views, as :class:`~core.model.detector.AnomalyDetector`
    takes them: ``targets`` is ``None`` when each input is its own target, ``light`` when it is the input itself."""
    inputs = to_tensor([v.input for v in views])
    targets = None if views[0].target is None else to_tensor([v.target for v in views])
    light = None if all(v.light is v.input for v in views) else to_tensor([v.light for v in views])
    return inputs, targets, light


def captured_images(inputs: torch.Tensor, light: torch.Tensor | None) -> torch.Tensor:
    """The images as captured of a :func:`view_tensors` batch: ``light``, or the inputs where it is ``None``."""
    return inputs if light is None else light


def mode_images(
    mode: InputMode, image: np.ndarray, partner: np.ndarray | None, size: int, enhance_mean: float
) -> ModeImages:
    """The detector's images for ``image`` (and its well-lit ``partner`` in paired mode) in ``mode``."""
    raw = resize_rgb(image, size)
    if mode == InputMode.WELLLIT:
        return ModeImages(raw, None, raw)
    enhanced = enhance_lowlight(raw, target_mean=enhance_mean)
    if mode == InputMode.PAIRED:
        if partner is None:
            raise ValueError("paired mode needs the well-lit partner image")
        return ModeImages(enhanced, resize_rgb(partner, size), raw)
    return ModeImages(enhanced, None, raw)
