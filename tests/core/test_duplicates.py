"""Near-duplicate detection: a still camera's repeated frame is flagged, a moved or different part is not."""

from __future__ import annotations

import numpy as np

from core.data.duplicates import DUPLICATE_THRESHOLD, difference, find_duplicates, nearest_duplicate, signature


def _scene(seed: int, size: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return np.kron(base, np.ones((size // 8, size // 8, 1), np.uint8))


def test_signature_is_small_gray_and_scaled():
    sig = signature(_scene(0))
    assert sig.shape == (16, 16) and sig.dtype == np.float32
    assert sig.min() >= 0.0 and sig.max() <= 1.0
    assert signature(np.full((50, 80), 255, np.uint8)).min() == 1.0


def test_noisy_repeat_of_a_still_frame_is_a_duplicate():
    rng = np.random.default_rng(1)
    frame = _scene(1)
    noisy = np.clip(frame.astype(int) + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8)
    assert difference(signature(frame), signature(noisy)) < DUPLICATE_THRESHOLD
    assert nearest_duplicate(signature(noisy), [signature(_scene(5)), signature(frame)]) == 1


def test_different_or_moved_parts_are_not_duplicates():
    a = _scene(2)
    moved = np.roll(a, 25, axis=1)
    assert nearest_duplicate(signature(_scene(3)), [signature(a)]) is None
    assert nearest_duplicate(signature(moved), [signature(a)]) is None
    assert nearest_duplicate(signature(a), []) is None


def test_find_duplicates_points_to_an_earlier_sample():
    a, b = _scene(4), _scene(6)
    sigs = [signature(x) for x in (a, b, a, b.copy(), _scene(7))]
    assert find_duplicates(sigs) == [None, None, 0, 1, None]
    assert find_duplicates([]) == []
