"""A randomised camera-sensor model: how a well-lit scene looks when a given camera captures it in poor light.

:func:`render` takes a well-lit RGB uint8 image (sRGB) and a :class:`SensorParams` and returns the same scene as
that sensor would deliver it, in this order, in linear light:

1. optics: a Gaussian defocus blur (``defocus``, sigma in pixels at 256 px, scaled with the image);
2. light: the exposure times a smooth illumination field whose brightest / darkest ratio is ``falloff`` (mean 1,
   so ``exposure`` is the mean exposure), of one of four ``shape``\\ s: a tilted ``gradient``, a Gaussian ``spot``,
   a ``radial`` off-centre point source (inverse-square with the cosine law) or a lens ``vignette`` (cos^4);
3. the sensor: photo-electrons (``full_well`` at full exposure and white), on one value per pixel (``mono``) or per
   photosite of an RGGB mosaic (``bayer``), with Poisson shot noise and Gaussian read noise (``read_noise`` e-),
   and optionally a fixed pattern (``fixed_pattern``: per-photosite gain and row/column offsets that stay the same
   from frame to frame for one ``pattern_seed``, as one camera's do);
4. the camera's output: a bilinear demosaic (Bayer), the encoding ``gamma`` (2.2 is the sRGB curve, other values
   a pure power law), 8-bit quantisation and optionally JPEG at ``jpeg_quality``.

The output is not brightened back: a 1/8 exposure gives a dark image, as a camera with fixed gain does.

:func:`sample_params` draws a camera from one of two families, so a benchmark can tell generalisation from
recall. ``"train"`` (:data:`TRAIN_RANGES`) is all that training may draw: exposure and full well log-uniform,
read noise log-uniform, gradient and spot fall-off only, gamma 2.2, no JPEG, no defocus, no fixed pattern.
``"held_out"`` (:data:`HELD_OUT`) always uses what training never sees: radial and vignette fall-off, gamma 1.8 or
2.4, JPEG, defocus and fixed-pattern noise. :func:`held_out_axes` says which held-out axes a camera uses.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from core.data.lowlight import is_monochrome, linear_to_srgb, srgb8_to_linear

SHAPES = ("gradient", "spot", "radial", "vignette")
COLOURS = ("auto", "mono", "bayer")

#: What the ``"train"`` family draws from: (low, high) ranges, or the tuple of allowed values.
TRAIN_RANGES: dict[str, tuple] = {
    "exposure": (1 / 32, 1.0),  # log-uniform
    "full_well": (300.0, 20000.0),  # log-uniform
    "read_noise": (1.0, 12.0),  # log-uniform
    "falloff": (1.0, 6.0),  # log-uniform
    "shape": ("gradient", "spot"),
    "colour": ("auto", "bayer"),  # a monochrome part may be taken by a colour camera; a colour part stays colour
    "gamma": (2.2,),
    "jpeg_quality": (None,),
    "defocus": (0.0,),
    "fixed_pattern": (0.0,),
}

#: What only the ``"held_out"`` family draws (its other axes come from :data:`TRAIN_RANGES`).
HELD_OUT: dict[str, tuple] = {
    "shape": ("radial", "vignette"),
    "gamma": (1.8, 2.4),
    "jpeg_quality": (60, 95),  # uniform integer
    "defocus": (0.5, 2.0),  # uniform, sigma in pixels at 256 px
    "fixed_pattern": (0.005, 0.03),  # uniform, relative
}

# below this many expected electrons the shot noise is drawn as Poisson; above, as a Gaussian of the same variance
# (indistinguishable there, and 3x cheaper)
_POISSON_BELOW = 20.0
_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)  # linear-light luminance of sRGB primaries


@dataclass(frozen=True)
class SensorParams:
    """One camera under one lighting: what :func:`render` applies, kept so a benchmark can say what it tested."""

    exposure: float = 1.0
    full_well: float = 4000.0
    read_noise: float = 3.0
    colour: str = "auto"
    falloff: float = 1.0
    shape: str = "gradient"
    jpeg_quality: int | None = None
    gamma: float = 2.2
    defocus: float = 0.0
    fixed_pattern: float = 0.0
    pattern_seed: int = 0

    def __post_init__(self) -> None:
        if not self.exposure > 0 or not self.full_well > 0 or self.read_noise < 0:
            raise ValueError(f"exposure and full well must be positive, read noise not negative: {self}")
        if self.colour not in COLOURS or self.shape not in SHAPES:
            raise ValueError(f"colour must be one of {COLOURS}, shape one of {SHAPES}: {self}")
        if self.falloff < 1 or self.gamma <= 0 or self.defocus < 0 or self.fixed_pattern < 0:
            raise ValueError(f"falloff >= 1, gamma > 0, defocus and fixed pattern >= 0: {self}")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100 or None: {self}")

    def to_dict(self) -> dict:
        return asdict(self)


def held_out_axes(params: SensorParams, monochrome_image: bool = False) -> tuple[str, ...]:
    """The axes on which ``params`` leaves the training family (empty: inside the training range). A ``mono``
    sensor is inside it for a ``monochrome_image`` (there ``auto`` means ``mono``), outside for a colour one."""
    out = []
    for name, allowed in TRAIN_RANGES.items():
        value = getattr(params, name)
        if name == "colour" and monochrome_image and value == "mono":
            continue
        if isinstance(allowed[0], str) or len(allowed) == 1:
            inside = value in allowed
        else:
            inside = allowed[0] * (1 - 1e-9) <= value <= allowed[1] * (1 + 1e-9)
        if not inside:
            out.append(name)
    return tuple(out)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def sample_params(rng: np.random.Generator, family: str = "train", held_out: dict | None = None) -> SensorParams:
    """A random camera from ``family``: ``"train"`` (only :data:`TRAIN_RANGES`) or ``"held_out"`` (always every
    axis of ``held_out``, by default :data:`HELD_OUT`, the rest as in training)."""
    if family not in ("train", "held_out"):
        raise ValueError(f"unknown family {family!r}: 'train' or 'held_out'")
    t = TRAIN_RANGES
    kw: dict = {
        "exposure": _log_uniform(rng, *t["exposure"]),
        "full_well": _log_uniform(rng, *t["full_well"]),
        "read_noise": _log_uniform(rng, *t["read_noise"]),
        "falloff": _log_uniform(rng, *t["falloff"]),
        "colour": str(rng.choice(t["colour"])),
    }
    if family == "train":
        kw["shape"] = str(rng.choice(t["shape"]))
    else:
        h = HELD_OUT if held_out is None else held_out
        kw["shape"] = str(rng.choice(h["shape"]))
        kw["gamma"] = float(rng.choice(h["gamma"]))
        kw["jpeg_quality"] = int(rng.integers(h["jpeg_quality"][0], h["jpeg_quality"][1] + 1))
        kw["defocus"] = float(rng.uniform(*h["defocus"]))
        kw["fixed_pattern"] = float(rng.uniform(*h["fixed_pattern"]))
        kw["pattern_seed"] = int(rng.integers(0, 2**31))
    return SensorParams(**kw)


@functools.lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates scaled so the longer side spans [-1, 1] (read-only: cached)."""
    s = max(h, w) - 1 or 1
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy = (2 * yy - (h - 1)) / s
    xx = (2 * xx - (w - 1)) / s
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


def illumination(h: int, w: int, shape: str, falloff: float, rng: np.random.Generator) -> np.ndarray:
    """An (h, w) float32 light field of mean 1 whose max / min is ``falloff``; its geometry (direction, centre,
    width) is drawn from ``rng``."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}")
    if falloff <= 1.0:
        return np.ones((h, w), np.float32)
    yy, xx = _grid(h, w)
    if shape == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        s = np.cos(angle) * xx + np.sin(angle) * yy
    elif shape == "spot":
        cy, cx = rng.uniform(-0.6, 0.6, size=2)
        sigma = rng.uniform(0.3, 0.8)
        s = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
    elif shape == "radial":
        # a small lamp at height z over (cx, cy): irradiance ~ z / d^3 (inverse square times the cosine)
        cy, cx = rng.uniform(-1.0, 1.0, size=2)
        z = rng.uniform(0.5, 1.5)
        s = (1 + ((xx - cx) ** 2 + (yy - cy) ** 2) / z**2) ** -1.5
    else:  # vignette: cos^4 of the field angle, centred on the optical axis
        s = (1 + (xx**2 + yy**2) / rng.uniform(0.8, 1.6)) ** -2.0
    s = s.astype(np.float32)
    lo, hi = float(s.min()), float(s.max())
    s = (s - lo) / max(hi - lo, 1e-12)
    field = 1 + (falloff - 1) * s
    return (field / field.mean(dtype=np.float64)).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _encode_table(gamma: float) -> np.ndarray:
    """uint16 linear level -> uint8 output code for an encoding ``gamma`` (2.2: the sRGB curve)."""
    x = np.arange(65536, dtype=np.float64) / 65535.0
    y = linear_to_srgb(x) if gamma == 2.2 else np.power(x, 1.0 / gamma)
    table = np.round(y * 255.0).astype(np.uint8)
    table.flags.writeable = False
    return table


@functools.lru_cache(maxsize=8)
def _pattern(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One camera's fixed pattern at unit strength: per-photosite gain, row and column offsets (read-only)."""
    r = np.random.default_rng(seed)
    gain = r.standard_normal((h, w), dtype=np.float32)
    rows = r.standard_normal((h, 1), dtype=np.float32)
    cols = r.standard_normal((1, w), dtype=np.float32)
    for a in (gain, rows, cols):
        a.flags.writeable = False
    return gain, rows, cols


def _mosaic(linear: np.ndarray) -> np.ndarray:
    """RGGB photosites of a linear RGB image: R at (even, even), G at (even, odd) and (odd, even), B at (odd, odd)."""
    m = np.empty(linear.shape[:2], np.float32)
    m[0::2, 0::2] = linear[0::2, 0::2, 0]
    m[0::2, 1::2] = linear[0::2, 1::2, 1]
    m[1::2, 0::2] = linear[1::2, 0::2, 1]
    m[1::2, 1::2] = linear[1::2, 1::2, 2]
    return m


def _expose(signal: np.ndarray, params: SensorParams, rng: np.random.Generator) -> np.ndarray:
    """Expected photo-electrons -> read-out electrons: shot noise, read noise and the fixed pattern."""
    lam = np.clip(signal, 0, None)
    z = rng.standard_normal(lam.shape, dtype=np.float32)
    out = lam + np.sqrt(lam + params.read_noise**2) * z
    low = lam < _POISSON_BELOW
    if low.any():
        out[low] = rng.poisson(lam[low]).astype(np.float32) + params.read_noise * z[low]
    if params.fixed_pattern > 0:
        gain, rows, cols = _pattern(*lam.shape, params.pattern_seed)
        level = float(lam.mean(dtype=np.float64))  # row/column offsets relative to the frame's mean signal
        p = params.fixed_pattern
        out = out * (1 + p * gain) + (p * level) * (rows + cols)
    return out


def render(image: np.ndarray, params: SensorParams, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """The well-lit RGB uint8 ``image`` as the camera ``params`` captures it: RGB uint8 of the same shape.

    Deterministic for an int ``seed``; with a Generator, draws from it. ``colour="auto"`` is ``mono`` for a
    monochrome image (all channels equal) and ``bayer`` otherwise; ``mono`` on a colour image takes its luminance.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("render expects an RGB uint8 image (H, W, 3)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    h, w = image.shape[:2]
    colour = params.colour
    mono_in = is_monochrome(image)
    if colour == "auto":
        colour = "mono" if mono_in else "bayer"
    if colour == "mono":
        linear = srgb8_to_linear(image[:, :, 0]) if mono_in else srgb8_to_linear(image) @ _LUMA
    else:
        linear = srgb8_to_linear(image)
    if params.defocus > 0:
        linear = cv2.GaussianBlur(linear, (0, 0), params.defocus * max(h, w) / 256.0, borderType=cv2.BORDER_REFLECT)
    scene = linear if colour == "mono" else _mosaic(linear)
    field = illumination(h, w, params.shape, params.falloff, rng)
    electrons = _expose(scene * field * np.float32(params.exposure * params.full_well), params, rng)
    raw = (np.clip(electrons / np.float32(params.full_well), 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
    if colour == "bayer":
        # OpenCV names a Bayer pattern by the second row's 2nd and 3rd photosites: its "BG" is an RGGB sensor
        raw = cv2.cvtColor(raw, cv2.COLOR_BayerBG2RGB)
    out = _encode_table(float(params.gamma))[raw]
    if params.jpeg_quality is not None:
        bgr = out if out.ndim == 2 else cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(params.jpeg_quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        if out.ndim == 3:
            out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    return np.ascontiguousarray(out)
