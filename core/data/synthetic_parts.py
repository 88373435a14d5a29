"""Generated parts: a brushed, machined tile under uneven light, with or without drawn defects and their masks.

The self-test trains on them, and the test suite writes a whole data set of them in MVTec layout
(:func:`write_parts_dataset`), so that training, calibration, saving, loading and inspection can be exercised
without any image from outside the repository. Everything is drawn from one seeded generator, so the same seed
gives the same files. The defects are the kinds an inspection finds on such a surface: a thin bright or dark
scratch, a dark pit (blob), a branching crack, and a band ground to another finish.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.data.defects import apply_region_refinish, region_refinish

DEFECT_KINDS = ("band", "blob", "crack", "scratch")
"""The defect types :func:`write_parts_dataset` writes, one ``test/<kind>`` folder each."""


def generated_part(rng: np.random.Generator, size: int = 160) -> np.ndarray:
    """A textured part (brushed-metal-like stripes with a soft gradient), RGB uint8."""
    base = rng.normal(0, 1, (size // 4, size)).astype(np.float32)
    stripes = cv2.resize(base, (size, size), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 110 + 18 * stripes + 30 * (xx - 0.5) + 10 * np.sin(6 * yy)
    img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    return np.repeat(img[:, :, None], 3, axis=2)


def lit_part(rng: np.random.Generator, size: int = 192) -> np.ndarray:
    """:func:`generated_part` under a light that changes from part to part: an overall gain, a gradient in a random
    direction and a soft spot, as a lamp at a slightly different place would give. RGB uint8."""
    part = generated_part(rng, size).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, 2 * np.pi)
    gradient = (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)) * rng.uniform(0.1, 0.35)
    cy, cx = rng.uniform(0.2, 0.8, 2)
    spot = rng.uniform(0.0, 0.2) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * rng.uniform(0.15, 0.3) ** 2))
    light = rng.uniform(0.8, 1.1) * (1 + gradient + spot)
    return np.clip(part * light[:, :, None], 0, 255).astype(np.uint8)


def _stroke(image: np.ndarray, mask: np.ndarray, points: np.ndarray, width: int, factor: float) -> None:
    """Draw a polyline into ``mask`` and scale ``image`` (in place) by ``factor`` under its softened stroke."""
    line = np.zeros(mask.shape, np.uint8)
    cv2.polylines(line, [points.astype(np.int32).reshape(-1, 1, 2)], False, 1, width, cv2.LINE_AA)
    mask |= line > 0
    soft = cv2.GaussianBlur(line.astype(np.float32), (0, 0), 0.8)[:, :, None]
    image[:] = image * (1 - soft) + np.clip(image * factor, 0, 255) * soft


def draw_scratch(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A thin, slightly curved scratch across part of the surface, brighter or darker than it."""
    h, w = image.shape[:2]
    out, mask = image.astype(np.float32), np.zeros((h, w), bool)
    start = rng.uniform(0.15, 0.85, 2) * (w, h)
    angle, length = rng.uniform(0, np.pi), rng.uniform(0.3, 0.6) * min(h, w)
    t = np.linspace(-0.5, 0.5, 24)[:, None]
    direction, normal = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
    bend = rng.uniform(-0.08, 0.08) * length * (1 - 4 * t**2)
    points = start + t * length * direction + bend * normal
    factor = rng.choice((rng.uniform(0.35, 0.55), rng.uniform(1.6, 2.0)))
    _stroke(out, mask, points, max(2, round(min(h, w) / 60)), float(factor))
    return np.round(out).astype(np.uint8), mask


def draw_blob(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A dark pit with a faint bright rim (a blow-hole or dent), round to elongated."""
    h, w = image.shape[:2]
    out = image.astype(np.float32)
    centre = (int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.2, 0.8) * h))
    radius = rng.uniform(0.04, 0.08) * min(h, w)
    axes = (max(3, int(radius * rng.uniform(0.8, 1.4))), max(3, int(radius * rng.uniform(0.6, 1.0))))
    pit = np.zeros((h, w), np.float32)
    cv2.ellipse(pit, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    rim = cv2.GaussianBlur(cv2.dilate(pit, np.ones((5, 5), np.uint8)) - pit, (0, 0), 1.0)
    depth = cv2.GaussianBlur(pit, (0, 0), radius / 3)
    out = out * (1 - rng.uniform(0.55, 0.8) * depth[:, :, None]) + 40 * rim[:, :, None]
    return np.clip(np.round(out), 0, 255).astype(np.uint8), (pit + rim) > 0.2


def draw_crack(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A dark, jagged crack that wanders across part of the surface and may branch once."""
    h, w = image.shape[:2]
    out, mask = image.astype(np.float32), np.zeros((h, w), bool)
    step = min(h, w) / 40
    point, heading = rng.uniform(0.2, 0.8, 2) * (w, h), rng.uniform(0, 2 * np.pi)
    branches = []
    for _ in range(int(rng.integers(1, 3))):
        points = [point]
        for _ in range(int(rng.integers(14, 22))):
            heading += rng.normal(0, 0.45)
            points.append(np.clip(points[-1] + step * np.array([np.cos(heading), np.sin(heading)]), 0, (w - 1, h - 1)))
        branches.append(np.array(points))
        point, heading = points[len(points) // 2], heading + rng.choice((-1.0, 1.0)) * 1.2
    for points in branches:
        _stroke(out, mask, points, max(2, round(min(h, w) / 70)), float(rng.uniform(0.25, 0.45)))
    return np.round(out).astype(np.uint8), mask


def draw_band(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A region of the part's own surface ground to another finish (brighter or darker, its texture's contrast
    changed), with the outlines :func:`core.data.defects.region_refinish` draws."""
    h, w = image.shape[:2]
    for _ in range(8):  # a region too small to see is drawn again
        refinish = region_refinish(h, w, rng)
        mask = refinish.swap.mask > 0.5
        if 0.04 < mask.mean() < 0.5 and abs(np.log(refinish.swap.gain)) > 0.25:
            break
    return apply_region_refinish(image, refinish), mask


DRAW = {"band": draw_band, "blob": draw_blob, "crack": draw_crack, "scratch": draw_scratch}


def write_parts_dataset(
    root: str | Path,
    n_train: int = 60,
    n_test_good: int = 10,
    n_defective: int = 6,
    kinds: tuple[str, ...] = DEFECT_KINDS,
    size: int = 192,
    seed: int = 0,
) -> Path:
    """Write a data set of generated parts in MVTec layout under ``root`` and return it: ``train/good``,
    ``test/good``, ``test/<kind>`` (``n_defective`` each) and ``ground_truth/<kind>/<stem>_mask.png``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    folders = [("train", "good", n_train), ("test", "good", n_test_good)] + [("test", k, n_defective) for k in kinds]
    for split, kind, n in folders:
        images = root / split / kind
        images.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            part = lit_part(rng, size)
            stem = f"{i:03d}"
            if kind != "good":
                part, mask = DRAW[kind](part, rng)
                masks = root / "ground_truth" / kind
                masks.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(masks / f"{stem}_mask.png"), mask.astype(np.uint8) * 255)
            cv2.imwrite(str(images / f"{stem}.png"), part[:, :, ::-1])
    return root
