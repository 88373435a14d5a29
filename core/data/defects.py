"""Synthetic defects for calibration when no real defective samples exist.

Two kinds, both seeded and both returning the defect mask:

- :func:`blotch_defect`: a smooth random blob (thresholded, blurred noise, Perlin-like) inside which the surface
  is darkened, brightened or scratched with texture — stains, dents, blow-holes.
- :func:`cutpaste_defect`: a patch cut from elsewhere in the same image, rotated and pasted with a brightness
  change — misplaced or foreign material.

They are only used to place the default *pixel* threshold and to report an expected detection rate; the image
threshold comes from good samples alone.
"""

from __future__ import annotations

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
