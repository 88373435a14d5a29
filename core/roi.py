"""Inspection mask (region of interest) of a category: which part of the image is inspected at all.

An engineer draws rectangles and polygons on a reference image, each marked *include* or *exclude*. Coordinates
are normalised (0..1 of width and height), so one mask fits every image size the category sees. The inspected
area is the union of the include shapes (the whole image when there is none) minus the union of the exclude
shapes.

How the model is kept from seeing what is outside: before anything runs, every pixel outside is replaced by a flat
fill, the mean colour of the same image inside the mask (:meth:`RoiMask.fill_outside`). Training, calibration and
inspection all do it, so the network learns the fill as normal, and every term that looks at the whole image
(image density, region contrast, foreign-region head) sees the fill, never the content outside; the image score
therefore cannot change with what is outside. After the model, the anomaly map is set to the good level outside
(:meth:`RoiMask.mask_map`), so heatmaps and outlines show nothing there, and calibration's pixel statistics are
taken on inside pixels only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.errors import RecipeError

KINDS = ("rect", "polygon")


@dataclass(frozen=True)
class RoiShape:
    """One rectangle (two opposite corners) or polygon (three or more vertices), normalised (x, y) points."""

    kind: str
    points: tuple[tuple[float, float], ...]
    include: bool = True

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise RecipeError(f"mask shape kind must be one of {KINDS}, not {self.kind!r}")
        for p in self.points:
            if len(p) != 2 or not all(np.isfinite(v) and -1e-6 <= v <= 1 + 1e-6 for v in p):
                raise RecipeError(f"mask point {p!r} is outside the image (coordinates run from 0 to 1)")
        pts = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)
        if self.kind == "rect":
            if len(pts) != 2:
                raise RecipeError("a mask rectangle needs exactly two corners")
            if np.any(np.abs(pts[1] - pts[0]) <= 0):
                raise RecipeError("a mask rectangle must have a width and a height")
        else:
            if len(pts) < 3:
                raise RecipeError("a mask polygon needs at least three points")
            x, y = pts[:, 0], pts[:, 1]
            if abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))) <= 1e-9:
                raise RecipeError("a mask polygon must enclose an area")

    def pixel_polygon(self, height: int, width: int) -> np.ndarray:
        """Vertices in pixel coordinates (int32, (n, 1, 2)) for ``cv2.fillPoly``."""
        pts = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)
        if self.kind == "rect":
            (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
            pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        scaled = np.round(pts * [width, height]).astype(np.int32)
        return scaled.reshape(-1, 1, 2)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "points": [list(p) for p in self.points], "include": self.include}

    @classmethod
    def from_dict(cls, d: dict) -> RoiShape:
        try:
            points = tuple((float(p[0]), float(p[1])) for p in d["points"])
            shape = cls(str(d["kind"]), points, bool(d.get("include", True)))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise RecipeError(f"a mask shape is damaged: {exc!r}") from None
        shape.validate()
        return shape


@dataclass(frozen=True)
class RoiMask:
    """A category's inspection mask: include and exclude shapes; see the module docstring."""

    shapes: tuple[RoiShape, ...] = field(default_factory=tuple)

    @property
    def is_empty(self) -> bool:
        """No shape at all: the whole image is inspected."""
        return not self.shapes

    def validate(self) -> None:
        for s in self.shapes:
            s.validate()
        if self.shapes and not self.rasterize(64, 64).any() and not self.rasterize(512, 512).any():
            raise RecipeError("the mask excludes the whole image: nothing would be inspected")

    def rasterize(self, height: int, width: int) -> np.ndarray:
        """Boolean (height, width) array, True where the image is inspected (read-only; cached per size)."""
        return _rasterize(self, int(height), int(width))

    def _draw(self, height: int, width: int) -> np.ndarray:
        includes = [s for s in self.shapes if s.include]
        inside = np.zeros((height, width), np.uint8) if includes else np.ones((height, width), np.uint8)
        for s in includes:
            cv2.fillPoly(inside, [s.pixel_polygon(height, width)], 1)
        for s in self.shapes:
            if not s.include:
                cv2.fillPoly(inside, [s.pixel_polygon(height, width)], 0)
        out = inside.astype(bool)
        out.flags.writeable = False
        return out

    def fill_outside(self, image: np.ndarray) -> np.ndarray:
        """``image`` (H, W[, C]) with every pixel outside the mask set to the mean of the pixels inside."""
        if self.is_empty:
            return image
        inside = self.rasterize(*image.shape[:2])
        if inside.all() or not inside.any():
            return image
        out = image.copy()
        mean = image[inside].mean(axis=0)
        out[~inside] = np.round(mean).astype(image.dtype) if np.issubdtype(image.dtype, np.integer) else mean
        return out

    def mask_map(self, amap: np.ndarray, level: float = 0.0) -> np.ndarray:
        """An anomaly map (H, W) or a stack (N, H, W) with every value outside the mask set to ``level``."""
        if self.is_empty:
            return amap
        inside = self.rasterize(*amap.shape[-2:])
        return np.where(inside, amap, np.asarray(level, dtype=amap.dtype)).astype(amap.dtype, copy=False)

    def coverage(self) -> float:
        """Share of the image that is inspected (0..1), at 256 x 256."""
        return float(self.rasterize(256, 256).mean())

    def to_dict(self) -> dict:
        return {"shapes": [s.to_dict() for s in self.shapes]}

    @classmethod
    def from_dict(cls, d: dict | None) -> RoiMask:
        """The mask a dict describes (``None`` or ``{}``: no mask); raises RecipeError when it is damaged."""
        if not d:
            return cls()
        if not isinstance(d, dict) or not isinstance(d.get("shapes", []), list):
            raise RecipeError("the inspection mask is damaged (expected {'shapes': [...]})")
        mask = cls(tuple(RoiShape.from_dict(s) for s in d.get("shapes", [])))
        mask.validate()
        return mask


@functools.lru_cache(maxsize=16)
def _rasterize(mask: RoiMask, height: int, width: int) -> np.ndarray:
    return mask._draw(height, width)


def rectangle(x0: float, y0: float, x1: float, y1: float, include: bool = True) -> RoiShape:
    """A rectangle shape from two normalised corners."""
    return RoiShape("rect", ((x0, y0), (x1, y1)), include)


def polygon(points, include: bool = True) -> RoiShape:
    """A polygon shape from normalised (x, y) vertices."""
    return RoiShape("polygon", tuple((float(x), float(y)) for x, y in points), include)
