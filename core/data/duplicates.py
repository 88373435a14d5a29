"""Near-duplicate detection for good samples collected from a still camera.

A camera that looks at a part that has not moved delivers the same picture again and again; ten copies of one
frame are one sample, not ten, and they make the held-out calibration set lie (it scores images the model has
as good as seen). Each image is reduced to a tiny grayscale signature (16 x 16, values 0..1); two images whose
signatures differ by less than :data:`DUPLICATE_THRESHOLD` on average are flagged as near-duplicates.
Qt-free and fast enough to compare a new frame against every previous sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

SIGNATURE_SIZE = 16
DUPLICATE_THRESHOLD = 0.012
"""Mean absolute difference (0..1 scale) below which two signatures count as the same view. Sensor noise of a
still scene stays well below it after the 16 x 16 averaging; a part moved or swapped lands far above it."""


def signature(image: np.ndarray, size: int = SIGNATURE_SIZE) -> np.ndarray:
    """The ``size`` x ``size`` grayscale thumbnail of an RGB (or gray) uint8 image, float32 in 0..1."""
    img = np.asarray(image)
    if img.ndim == 3:
        img = cv2.cvtColor(np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    scale = 65535.0 if small.dtype == np.uint16 else 255.0
    return (small.astype(np.float32) / scale).reshape(size, size)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two signatures (0 = identical, 1 = black against white)."""
    return float(np.mean(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32))))


def nearest_duplicate(
    sig: np.ndarray, previous: Sequence[np.ndarray], threshold: float = DUPLICATE_THRESHOLD
) -> int | None:
    """Index of the closest signature in ``previous`` that ``sig`` nearly duplicates, or None."""
    if len(previous) == 0:
        return None
    stack = np.stack([np.asarray(p, np.float32) for p in previous]).reshape(len(previous), -1)
    diffs = np.mean(np.abs(stack - np.asarray(sig, np.float32).reshape(1, -1)), axis=1)
    i = int(np.argmin(diffs))
    return i if diffs[i] < threshold else None


def find_duplicates(signatures: Sequence[np.ndarray], threshold: float = DUPLICATE_THRESHOLD) -> list[int | None]:
    """For each signature, the index of an *earlier* one it nearly duplicates (None for the first of a kind)."""
    if len(signatures) == 0:
        return []
    flat = np.stack([np.asarray(s, np.float32).ravel() for s in signatures])
    out: list[int | None] = [None]
    for i in range(1, len(flat)):
        diffs = np.mean(np.abs(flat[:i] - flat[i]), axis=1)
        j = int(np.argmin(diffs))
        out.append(j if diffs[j] < threshold else None)
    return out
