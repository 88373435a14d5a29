"""Checks a good sample must pass to be worth training on: not blank (one flat level: a lens cap, a failed
frame, a placeholder) and not tiny (a thumbnail or a crop too small to show the part's texture).

Near-duplicate views are a separate check (:mod:`core.data.duplicates`). Qt-free, so the Train page, an import
and a script agree on what is flagged.
"""

from __future__ import annotations

import numpy as np

MIN_SIDE = 64
"""Pixels on the shorter side below which a sample is too small to learn a part's texture from."""

BLANK_SPREAD = 2.0
"""Grey levels between the 1st and 99th percentiles at or below which an image is one flat level (a dark but
real frame still spreads over several levels from sensor noise and the part)."""


def sample_problem(image: np.ndarray) -> str:
    """Why ``image`` (uint8, H x W or H x W x C) should not be a good sample, in a few words; '' when it is fine."""
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        return f"too small ({w} x {h} px; at least {MIN_SIDE} a side)"
    grey = image.mean(axis=2) if image.ndim == 3 else image
    step = max(1, int(np.sqrt(grey.size / 65536)))  # a quarter-megapixel subsample is plenty for a spread
    lo, hi = np.percentile(grey[::step, ::step], (1, 99))
    if hi - lo <= BLANK_SPREAD:
        return f"blank (one flat level, about {float(np.median(grey)):.0f} of 255)"
    return ""
