"""How a frame was lit, measured from the frame itself, and the guard that says when a model was not made for it.

Two cheap estimates per frame (under a millisecond for a 256 px image, no network):

- **exposure**: the frame's mean linear light relative to the mean of the category's well-lit training images
  (1 = as bright as training, 1/16 = four stops darker);
- **noise**: the sensor noise relative to the frame's own mean level (standard deviation over mean, in linear
  light). Shot noise makes the variance of a pixel proportional to its level, ``var(y) = y / W`` with ``W`` the
  sensor's effective full well, so the estimator whitens a second-difference high-pass of the green channel by the
  local level, takes its mean square in 16 x 16 blocks and a low percentile of the blocks, where texture and edges
  add least. The classical enhancement scales the image and its noise alike, so this relative noise is what the
  network sees after it: a darker exposure of the same sensor and a noisier sensor at the same exposure read alike.

:class:`LightingRange` is the range of these two the model was calibrated over (saved with the model); a frame
outside it gets the CHECK verdict with a reason, since the model's scores are not known to mean anything there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from core.data.lowlight import is_monochrome, srgb8_to_linear

_SECOND_DIFFERENCE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32) / 6.0
"""Immerkaer's noise kernel, scaled so white noise of variance 1 has a response of variance 1: it cancels a level,
a gradient and a ramp, so smooth shading does not read as noise."""
NOISE_BLOCK = 16
"""Side of the blocks whose mean squared response is compared: small enough for a textured part to show flat
blocks, large enough for the block's mean to be steady (256 samples)."""
NOISE_PERCENTILE = 20.0
"""The block percentile taken as the noise: low, so texture and edges (which only add) are left out, but not the
minimum, which reads low by chance. On synthetic captures of synthetic textured parts and of the four data sets'
good images (full well 1,000 to 20,000 e-, exposure 1/3 to 1/16) it read 0.73 to 1.15 times the true noise, most
within 10 % (tests/core/test_lighting.py)."""
SATURATED = 0.95
"""Linear level above which a pixel is taken as clipped (no noise left) and left out."""
DARKEST = 2e-4
"""Local level (linear) below which a pixel is left out: it is mostly clipped at zero, which hides its noise."""
TOO_DARK = "too dark for this model"
TOO_NOISY = "noisier than calibrated"
MONOCHROME = "monochrome frame: the model was trained on colour"


def _green_linear(image: np.ndarray) -> np.ndarray:
    """The green channel in linear light (float32): one sensor channel, the same for monochrome and colour frames."""
    channel = image[:, :, 1] if image.ndim == 3 else image
    return srgb8_to_linear(np.ascontiguousarray(channel))


def estimate_noise(image: np.ndarray, block: int = NOISE_BLOCK, percentile: float = NOISE_PERCENTILE) -> float:
    """Relative noise (std / mean in linear light) at the mean level of the RGB uint8 ``image``: see the module
    docstring. 0 for a frame with no usable pixels."""
    y = _green_linear(image)
    level = cv2.blur(y, (3, 3))
    response = cv2.filter2D(y, -1, _SECOND_DIFFERENCE, borderType=cv2.BORDER_REFLECT)
    usable = ((y < SATURATED) & (level > DARKEST)).astype(np.float32)
    whitened = response * response / np.maximum(level, DARKEST) * usable
    h, w = y.shape
    blocks = (w // block, h // block)
    if min(blocks) < 1:
        return 0.0
    crop = (slice(0, blocks[1] * block), slice(0, blocks[0] * block))
    total = cv2.resize(whitened[crop], blocks, interpolation=cv2.INTER_AREA)
    share = cv2.resize(usable[crop], blocks, interpolation=cv2.INTER_AREA)
    full = share > 0.5
    if not full.any():
        return 0.0
    inverse_well = float(np.percentile(total[full] / share[full], percentile))
    mean = float(y.mean(dtype=np.float64))
    return float(np.sqrt(max(inverse_well, 0.0) / max(mean, DARKEST)))


def estimate_exposure(image: np.ndarray, welllit_mean: float) -> float:
    """The mean linear light of ``image`` relative to ``welllit_mean`` (the category's well-lit training mean)."""
    small = image[::4, ::4] if image.shape[0] > 64 else image
    return float(srgb8_to_linear(small).mean(dtype=np.float64)) / max(float(welllit_mean), 1e-6)


@dataclass(frozen=True)
class FrameLighting:
    """What :func:`measure` found for one frame: ``exposure`` relative to well-lit training, relative ``noise``."""

    exposure: float
    noise: float
    #: one value per pixel (a monochrome camera's frame)
    monochrome: bool = False

    def to_dict(self) -> dict[str, float]:
        return {"exposure": round(self.exposure, 5), "noise": round(self.noise, 5)}


def measure(
    image: np.ndarray, welllit_mean: float, block: int = NOISE_BLOCK, percentile: float = NOISE_PERCENTILE
) -> FrameLighting:
    """Exposure and noise of the RGB uint8 ``image`` (best at the model's input size: the noise that it sees)."""
    return FrameLighting(
        estimate_exposure(image, welllit_mean), estimate_noise(image, block, percentile), is_monochrome(image)
    )


@dataclass(frozen=True)
class LightingRange:
    """The lighting a model was calibrated over; saved with it. A frame outside it gets CHECK with :meth:`reason`.

    ``margin`` widens the observed range (exposure down and up, noise up, by that factor) so the frame next to the
    calibrated extremes is still inspected. A frame brighter than calibrated is inspected all the same
    (``exposure_max`` is kept to show the range): good parts brighter than the training images are scored as good
    (the image density is fitted at brighter and darker exposures too), and on MTD a model trained on the first
    100 good images by name would have sent 73 % of the other good training images to CHECK for brightness.
    ``noise_block`` and ``noise_percentile`` are the estimator's settings the model was calibrated with (the
    noise-aware normalisation depends on them): :meth:`measure` uses them.
    """

    exposure_min: float
    exposure_max: float
    noise_max: float
    noise_block: int = NOISE_BLOCK
    noise_percentile: float = NOISE_PERCENTILE
    #: every calibration view was in colour: a monochrome frame is outside what the model knows (a colour part
    #: seen in grey loses what tells it from a defect)
    colour: bool = False

    def measure(self, image: np.ndarray, welllit_mean: float) -> FrameLighting:
        """:func:`measure` with this range's estimator settings."""
        return measure(image, welllit_mean, self.noise_block, self.noise_percentile)

    @classmethod
    def fit(cls, seen: list[FrameLighting], margin: float = 1.25, quantile: float = 0.0) -> LightingRange:
        """The range of the calibration views ``seen``: their extremes (or the ``quantile`` and ``1 - quantile``
        ones), widened by ``margin``."""
        if not seen:
            raise ValueError("no calibration views to take the lighting range from")
        exposure = np.array([s.exposure for s in seen], np.float64)
        noise = np.array([s.noise for s in seen], np.float64)
        return cls(
            exposure_min=float(np.quantile(exposure, quantile)) / margin,
            exposure_max=float(np.quantile(exposure, 1 - quantile)) * margin,
            noise_max=float(np.quantile(noise, 1 - quantile)) * margin,
            colour=not any(s.monochrome for s in seen),
        )

    def reason(self, lighting: FrameLighting) -> str:
        """Why ``lighting`` is outside the range ("" when it is inside, or only brighter); darkness first, as its
        usual cause."""
        if lighting.exposure < self.exposure_min:
            return TOO_DARK
        if self.colour and lighting.monochrome:
            return MONOCHROME
        if lighting.noise > self.noise_max:
            return TOO_NOISY
        return ""

    def describe(self) -> str:
        """The range in words, as the Train page shows it."""
        return (
            f"exposure {self.exposure_min:.3g} to {self.exposure_max:.3g} of the well-lit training mean "
            f"(1/{1 / max(self.exposure_min, 1e-9):.0f} darkest), noise up to {100 * self.noise_max:.1f} % of the "
            "signal" + (", colour frames only" if self.colour else "")
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LightingRange:
        return cls(
            float(d["exposure_min"]),
            float(d["exposure_max"]),
            float(d["noise_max"]),
            int(d["noise_block"]),
            float(d["noise_percentile"]),
            bool(d.get("colour", False)),  # saved before it was checked: not checked
        )
