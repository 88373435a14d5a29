"""Realistic low-light synthesis from well-lit images, and the inverse enhancement.

:func:`synthesize_lowlight` follows what a camera sensor does in dim, uneven light:

1. undo the sRGB display gamma, to work in linear light;
2. scale the exposure down (``strength`` 0 keeps it, 1 divides it by about 30);
3. multiply by a smooth, non-uniform illumination field (a tilted gradient, a soft spot and a vignette);
4. add signal-dependent shot noise (Poisson in photo-electrons) and Gaussian read noise;
5. re-apply the gamma and quantise to 8 bits, as the camera does.

It is seeded, so a benchmark's low-light test set is reproducible. :func:`enhance_lowlight` is a fixed,
classical Retinex-style inverse (estimate the illumination, divide it out, denoise, restore exposure) used to
build training targets when only low-light images exist and, at inspection time, the comparison target when
no well-lit image of the part exists.

The illumination is a blur of 8 % of the image size. That also flattens some of what defects change (a broad band
of another finish keeps about a third of its contrast with its surroundings), but a wider blur, which keeps more of
it, made the model outline defects in low light worse, and a narrower one gained nothing; the foreign-region head
gets the lost level back as an input (:func:`core.model.foreign_region.local_light_level`).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import cv2
import numpy as np


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] to linear light."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] to sRGB."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)


# 8-bit sRGB <-> linear by table: the power laws above cost ~1.7 ms per 256 x 256 RGB image, a lookup ~0.2 ms.
# The inverse table has 65536 linear levels (one 8-bit sRGB step is at least 3e-4 in linear light); it rounds a
# value within 1e-5 of a step's edge the other way, one level off in about 0.4 % of pixels.
_LINEAR_OF_SRGB8 = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
_SRGB8_OF_LINEAR16 = np.round(linear_to_srgb(np.arange(65536, dtype=np.float64) / 65535.0) * 255.0).astype(np.uint8)


def srgb8_to_linear(image: np.ndarray) -> np.ndarray:
    """uint8 sRGB to float32 linear light in [0, 1]."""
    return _LINEAR_OF_SRGB8[image]


def linear_to_srgb8(x: np.ndarray) -> np.ndarray:
    """Linear light (clipped to [0, 1]) to uint8 sRGB."""
    return _SRGB8_OF_LINEAR16[(np.clip(x, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)]


def change_exposure(image: np.ndarray, gain: float) -> np.ndarray:
    """uint8 sRGB ``image`` as taken with ``gain`` times the exposure: linear light scaled, clipped where the
    sensor would saturate."""
    return linear_to_srgb8(srgb8_to_linear(image) * gain)


def is_monochrome(image: np.ndarray) -> bool:
    """Whether an RGB ``image`` holds one value per pixel, as a monochrome camera's frame does once made RGB."""
    return bool(np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 0], image[:, :, 2]))


@dataclass(frozen=True)
class LowLightParams:
    """What one synthesis applied; kept so a benchmark can say exactly what it tested."""

    exposure: float
    field_min: float
    field_max: float
    full_well: float
    read_noise: float
    seed: int | None

    def to_dict(self) -> dict:
        return asdict(self)


@functools.lru_cache(maxsize=8)
def _field_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coordinates in [-1, 1] of an (h, w) image and its vignette less the vignette's mean, which every field
    of that size shares (read-only: cached)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy = yy / max(h - 1, 1) * 2 - 1
    xx = xx / max(w - 1, 1) * 2 - 1
    vignette = 1 - 0.5 * (xx**2 + yy**2) / 2
    vignette = vignette - vignette.mean()
    for a in (yy, xx, vignette):
        a.flags.writeable = False
    return yy, xx, vignette


def illumination_field(h: int, w: int, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A smooth field with mean about 1 and relative swing ``amplitude`` (0 = uniform light)."""
    if amplitude <= 0:
        return np.ones((h, w), np.float32)
    yy, xx, vignette = _field_grid(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    gradient = np.cos(angle) * xx + np.sin(angle) * yy  # in [-1.4, 1.4]
    cy, cx = rng.uniform(-0.8, 0.8, size=2)
    radius = rng.uniform(0.4, 1.2)
    spot = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2))
    field = 0.45 * gradient / 1.4 + 0.35 * (spot - spot.mean()) + 0.2 * vignette
    field = field / max(np.abs(field).max(), 1e-6)
    return (1.0 + amplitude * field).clip(0.05, None).astype(np.float32)


def synthesize_lowlight(
    image: np.ndarray,
    strength: float = 0.7,
    seed: int | np.random.Generator | None = None,
    *,
    nonuniform: float | None = None,
    full_well: float | None = None,
    read_noise: float = 3.0,
) -> tuple[np.ndarray, LowLightParams]:
    """Turn a well-lit RGB uint8 image into a low-light one.

    ``strength`` in [0, 1]: 0 returns the image unchanged (no noise either), 1 is a very dark, noisy capture
    (exposure / 32). ``nonuniform`` is the illumination field's relative swing (default ``0.6 * strength``).
    ``full_well`` is the photo-electron count of a saturated pixel at full exposure (default 4000: a small
    industrial sensor); ``read_noise`` is in electrons. Returns the image and the parameters applied.
    """
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError("synthesize_lowlight expects an RGB uint8 image (H, W, 3)")
    strength = float(np.clip(strength, 0.0, 1.0))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    seed_value = None if isinstance(seed, np.random.Generator) else seed
    if strength == 0.0:
        return image.copy(), LowLightParams(1.0, 1.0, 1.0, float("inf"), 0.0, seed_value)
    h, w = image.shape[:2]
    exposure = float(10 ** (-1.5 * strength) * rng.uniform(0.85, 1.15))
    amp = 0.6 * strength if nonuniform is None else float(nonuniform)
    field = illumination_field(h, w, rng, amp)
    fw = 4000.0 if full_well is None else float(full_well)

    mono = is_monochrome(image)
    # a monochrome camera: one sensor value per pixel, so the noise is the same in every channel (and one channel
    # is worked out, then repeated: the same values, in a third of the time)
    linear = srgb8_to_linear(image[:, :, :1] if mono else image)
    electrons = linear * (exposure * fw) * field[:, :, None]
    noisy = rng.poisson(np.clip(electrons, 0, None)).astype(np.float32)
    noisy += rng.normal(0.0, read_noise, size=noisy.shape).astype(np.float32)
    out = linear_to_srgb8(np.clip(noisy / fw, 0.0, 1.0))
    if mono:
        out = np.repeat(out, 3, axis=2)
    return out, LowLightParams(exposure, float(field.min()), float(field.max()), fw, read_noise, seed_value)


def estimate_illumination(image: np.ndarray, sigma_frac: float = 0.08) -> np.ndarray:
    """Smooth illumination estimate in linear light, (H, W) float32: a heavy blur of the brightest channel."""
    # the table is monotonic: the brightest channel stays brightest. Pairwise maxima: numpy's reduction over a
    # 3-long last axis is far slower
    bright = srgb8_to_linear(np.maximum(np.maximum(image[:, :, 0], image[:, :, 1]), image[:, :, 2]))
    h, w = bright.shape
    sigma = max(2.0, sigma_frac * max(h, w))
    small = max(1, int(round(sigma / 4)))
    # blur a down-sampled copy: the field is smooth, so this is exact enough and 10x cheaper
    reduced = cv2.resize(bright, (max(1, w // small), max(1, h // small)), interpolation=cv2.INTER_AREA)
    reduced = cv2.GaussianBlur(reduced, (0, 0), sigma / small, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(reduced, (w, h), interpolation=cv2.INTER_LINEAR)


def enhance_lowlight(image: np.ndarray, target_mean: float = 0.18, denoise: float = 1.0) -> np.ndarray:
    """Classical inverse of low light: divide out the smooth illumination, restore the exposure, denoise.

    ``target_mean`` is the linear-light mean the result is brought to; ``denoise`` scales the Gaussian
    smoothing that suppresses amplified shot noise (0 turns it off).
    """
    return _enhance(image, target_mean, denoise, is_monochrome(image))


def _enhance(image: np.ndarray, target_mean: float, denoise: float, mono: bool) -> np.ndarray:
    """:func:`enhance_lowlight`; with ``mono``, worked out on the first channel and repeated: a monochrome frame's
    result in a third of the per-pixel work."""
    linear = srgb8_to_linear(image[:, :, 0] if mono else image)
    illum = estimate_illumination(image)
    light = np.maximum(illum, max(float(np.percentile(illum, 5)) * 0.5, 1e-3))
    flat = linear / (light if mono else light[:, :, None])
    flat *= target_mean / max(float(flat.mean(dtype=np.float64)), 1e-6)
    if denoise > 0:
        dark = float(np.clip(0.18 / max(float(linear.mean(dtype=np.float64)), 1e-3), 1.0, 20.0))
        sigma = denoise * (0.5 + 0.35 * np.log2(dark))
        flat = cv2.GaussianBlur(flat, (0, 0), sigma)
    out = linear_to_srgb8(flat)
    return np.repeat(out[:, :, None], 3, axis=2) if mono else out
