"""Synthetic defects for calibration when no real defective samples exist.

Two kinds, both seeded and both returning the defect mask:

- :func:`blotch_defect`: a smooth random blob (thresholded, blurred noise, Perlin-like) inside which the surface
  is darkened, brightened or scratched with texture — stains, dents, blow-holes.
- :func:`cutpaste_defect`: a patch cut from elsewhere in the same image, rotated and pasted with a brightness
  change — misplaced or foreign material.

They are only used to place the default *pixel* threshold and to report an expected detection rate; the image
threshold comes from good samples alone.

A third kind trains rather than calibrates: :func:`region_swap` and :func:`apply_region_swap` replace a
quadrilateral region of one good part (a band across it, a band from one side, or a blob) by the same region of
another good part, level-matched, so every pixel is good and only the region's mismatch with the rest of its part
is wrong. :func:`region_refinish` and :func:`apply_region_refinish` make the other case the same head learns
from: a region of the part's *own* surface made brighter or darker (by a factor of 0.45 to 2.2) with its texture's
contrast changed a little, the way a band ground or coated differently looks. :class:`~core.model.foreign_region.
ForeignRegion` learns to outline both.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def _blob_mask(h: int, w: int, rng: np.random.Generator, area_frac: tuple[float, float]) -> np.ndarray:
    scale = rng.integers(4, 10)
    noise = rng.random((scale, scale)).astype(np.float32)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    target = rng.uniform(*area_frac)
    # restrict the blob to one random window so it is a compact defect, not a pattern across the part
    side = np.sqrt(target) * 2.2
    ch, cw = int(max(8, side * h)), int(max(8, side * w))
    y0, x0 = rng.integers(0, max(1, h - ch)), rng.integers(0, max(1, w - cw))
    window = np.zeros((h, w), np.float32)
    cv2.ellipse(window, (x0 + cw // 2, y0 + ch // 2), (cw // 2, ch // 2), float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    values = noise * window
    inside = values[window > 0]
    if inside.size == 0:
        return np.zeros((h, w), bool)
    thr = np.quantile(inside, max(0.0, 1 - target / max(window.mean(), 1e-6)))
    return values > thr


def blotch_defect(image: np.ndarray, seed: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (defective RGB uint8 image, bool mask)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    h, w = image.shape[:2]
    mask = _blob_mask(h, w, rng, (0.002, 0.02))
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.5)[:, :, None]
    img = image.astype(np.float32)
    kind = rng.integers(0, 3)
    if kind == 0:
        altered = img * rng.uniform(0.2, 0.6)
    elif kind == 1:
        altered = np.clip(img * rng.uniform(1.5, 2.5) + 30, 0, 255)
    else:
        texture = rng.normal(0, 60, size=(h, w, 1)).astype(np.float32)
        altered = np.clip(img + texture, 0, 255)
    out = img * (1 - soft) + altered * soft
    return np.round(out).astype(np.uint8), mask


def cutpaste_defect(image: np.ndarray, seed: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (defective RGB uint8 image, bool mask)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    h, w = image.shape[:2]
    ph, pw = int(rng.uniform(0.06, 0.18) * h), int(rng.uniform(0.06, 0.18) * w)
    ph, pw = max(ph, 4), max(pw, 4)
    sy, sx = rng.integers(0, h - ph + 1), rng.integers(0, w - pw + 1)
    patch = image[sy : sy + ph, sx : sx + pw].astype(np.float32)
    patch = np.rot90(patch, k=int(rng.integers(1, 4)))
    patch = np.clip(patch * rng.uniform(0.5, 1.6), 0, 255)
    ph, pw = patch.shape[:2]
    ph, pw = min(ph, h), min(pw, w)
    patch = patch[:ph, :pw]
    dy, dx = rng.integers(0, h - ph + 1), rng.integers(0, w - pw + 1)
    out = image.copy()
    out[dy : dy + ph, dx : dx + pw] = np.round(patch).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[dy : dy + ph, dx : dx + pw] = True
    return out, mask


def synthetic_defect(image: np.ndarray, seed: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One of the two kinds, chosen at random."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return (blotch_defect if rng.random() < 0.6 else cutpaste_defect)(image, rng)


@dataclass(frozen=True)
class RegionSwap:
    """Where and how :func:`apply_region_swap` replaces a region of a part by the same region of another."""

    mask: np.ndarray  # (h, w) float32 in [0, 1]: the donor's share of each pixel (soft at the edge)
    flips: tuple[bool, bool]  # donor mirrored left-right, top-bottom
    gain: float  # the donor's brightness relative to a level-matched one


REFINISH_LOG_GAIN = (0.1, 0.8)
"""Range of |log brightness factor| of a re-finished region (darker or brighter with equal chance)."""
REFINISH_LOG_CONTRAST = 0.25
"""Spread (normal, in log) of the factor on a re-finished region's texture contrast."""


@dataclass(frozen=True)
class RegionRefinish:
    """Where and how :func:`apply_region_refinish` changes a region of a part's own surface."""

    swap: RegionSwap  # the region and its brightness factor (``gain``); never flipped
    contrast: float  # factor on the texture's deviation from its local mean inside the region


def region_refinish(h: int, w: int, seed: int | np.random.Generator | None = None) -> RegionRefinish:
    """A random re-finished region for (h, w) images: the outline of :func:`region_swap`, a brightness factor
    of exp(+-U(:data:`REFINISH_LOG_GAIN`)) and a texture contrast factor of exp(N(0, :data:`REFINISH_LOG_CONTRAST`))."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    mask = _region_mask(h, w, rng)
    gain = float(np.exp(rng.choice((-1.0, 1.0)) * rng.uniform(*REFINISH_LOG_GAIN)))
    contrast = float(np.exp(rng.normal(0.0, REFINISH_LOG_CONTRAST)))
    return RegionRefinish(RegionSwap(mask, (False, False), gain), contrast)


def apply_region_refinish(image: np.ndarray, refinish: RegionRefinish) -> np.ndarray:
    """``image`` (uint8, h x w [x 3]) with ``refinish``'s region re-finished: inside it, the texture's deviation
    from its local mean (a Gaussian of 6 pixels at 256) times ``contrast``, the whole times ``swap.gain``."""
    base = image.astype(np.float32)
    local = cv2.GaussianBlur(base, (0, 0), 6.0 * min(image.shape[:2]) / 256)
    donor = np.clip(local + (base - local) * refinish.contrast, 0, 255)
    return apply_region_swap(image, donor, refinish.swap)


def _swap_outline(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Corners (4, 2) as (x, y) of one region: a band across the part, a band in from one side, or a blob."""
    kind = rng.integers(3)
    if kind == 0:  # a slanted band from top to bottom
        x0, width = rng.uniform(-0.1, 0.9) * w, rng.uniform(0.15, 0.55) * w
        y0, y1 = rng.uniform(-0.08, 0.3) * h, rng.uniform(0.66, 1.1) * h
        d = rng.uniform(-0.1, 0.1, 4) * w
        corners = [[x0 + d[0], y0], [x0 + width + d[1], y0], [x0 + width + d[2], y1], [x0 + d[3], y1]]
    elif kind == 1:  # a band in from the top (or, flipped and turned, from any side)
        depth, skew = rng.uniform(0.15, 0.47) * h, rng.uniform(-0.08, 0.08, 2) * h
        left, right, top = -0.04 * w, 1.04 * w, -0.04 * h
        corners = np.asarray([[left, top], [right, top], [right, depth + skew[0]], [left, depth + skew[1]]])
        if rng.random() < 0.5:
            corners[:, 1] = h - corners[:, 1]
        if rng.random() < 0.5:
            corners = corners[:, ::-1] * [w / h, h / w]
    else:  # a four-cornered blob
        centre = rng.uniform(0.23, 0.77, 2) * [w, h]
        radius = rng.uniform(0.12, 0.35) * min(h, w)
        angles = np.sort(rng.uniform(0, 2 * np.pi, 4))
        reach = radius * rng.uniform(0.7, 1.3, 4)
        corners = np.stack([centre[0] + reach * np.cos(angles), centre[1] + reach * np.sin(angles)], 1)
    return np.asarray(corners, np.float64)


def _region_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """(h, w) float32 share of each pixel inside one region of :func:`_swap_outline`, its edge softened by a
    Gaussian of 1 to 4 pixels at 256."""
    mask = np.zeros((h, w), np.float32)
    cv2.fillPoly(mask, [np.round(_swap_outline(h, w, rng)).astype(np.int32)], 1.0)
    return cv2.GaussianBlur(mask, (0, 0), rng.uniform(1.0, 4.0) * min(h, w) / 256)


def region_swap(h: int, w: int, seed: int | np.random.Generator | None = None) -> RegionSwap:
    """A random region swap for (h, w) images."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    mask = _region_mask(h, w, rng)
    flips = (bool(rng.random() < 0.5), bool(rng.random() < 0.5))
    return RegionSwap(mask, flips, float(np.exp(rng.normal(0.0, 0.2))))


def apply_region_swap(image: np.ndarray, donor: np.ndarray, swap: RegionSwap) -> np.ndarray:
    """``image`` (uint8, h x w [x 3]) with ``swap.mask``'s region taken from ``donor`` (same size), the donor
    scaled to the image's mean level times ``swap.gain``."""
    if image.shape != donor.shape or image.shape[:2] != swap.mask.shape:
        raise ValueError(f"image {image.shape}, donor {donor.shape} and mask {swap.mask.shape} differ in size")
    d = donor[:, ::-1] if swap.flips[0] else donor
    d = d[::-1] if swap.flips[1] else d
    base, d = image.astype(np.float32), d.astype(np.float32)
    d = np.clip(d * (base.mean() / max(float(d.mean()), 1e-3) * swap.gain), 0, 255)
    m = swap.mask if image.ndim == 2 else swap.mask[:, :, None]
    return np.round(base * (1 - m) + d * m).astype(np.uint8)
