"""Render results as pictures: heatmap overlays with defect contours, illumination maps. Qt-free (NumPy/OpenCV),
so the GUI, the CLI's ``--save-maps`` and snapshots draw the same thing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.types import InspectionResult

COLORMAPS = {
    "turbo": cv2.COLORMAP_TURBO,
    "jet": cv2.COLORMAP_JET,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "magma": cv2.COLORMAP_MAGMA,
    "hot": cv2.COLORMAP_HOT,
}
MAP_RANGE = (0.0, 2.0)
"""Normalised map values shown from 0 (typical good) to 2 (twice the pixel threshold); 1.0 sits mid-scale."""


def colorize(values: np.ndarray, cmap: str = "turbo", vrange: tuple[float, float] = MAP_RANGE) -> np.ndarray:
    lo, hi = vrange
    scaled = np.clip((values - lo) / max(hi - lo, 1e-9), 0, 1)
    bgr = cv2.applyColorMap((scaled * 255).astype(np.uint8), COLORMAPS.get(cmap, cv2.COLORMAP_TURBO))
    return np.ascontiguousarray(bgr[:, :, ::-1])


def contour_mask(anomaly_map: np.ndarray, pixel_threshold: float) -> list[np.ndarray]:
    mask = (anomaly_map >= pixel_threshold).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return list(contours)


def overlay(
    image: np.ndarray,
    anomaly_map: np.ndarray,
    *,
    opacity: float = 0.45,
    cmap: str = "turbo",
    pixel_threshold: float | None = 1.0,
    contours: bool = True,
    heatmap: bool = True,
) -> np.ndarray:
    """The image with the heatmap blended in and contours (white on black edge) around regions over threshold."""
    out = image.copy()
    if heatmap and opacity > 0:
        colored = colorize(anomaly_map, cmap)
        out = cv2.addWeighted(colored, float(opacity), image, 1 - float(opacity), 0)
    if contours and pixel_threshold is not None:
        cs = contour_mask(anomaly_map, pixel_threshold)
        thick = max(1, round(max(image.shape[:2]) / 300))
        cv2.drawContours(out, cs, -1, (0, 0, 0), thick + 2)
        cv2.drawContours(out, cs, -1, (255, 255, 255), thick)
    return out


def illumination_image(illumination: np.ndarray, cmap: str = "inferno") -> np.ndarray:
    """Illumination map (0..1, linear light) shown perceptually: dark regions dark, bright regions bright."""
    return colorize(
        np.sqrt(np.clip(illumination, 0, 1)) / max(float(np.sqrt(illumination.max())), 1e-6), cmap, (0.0, 1.0)
    )


def save_result_images(result: InspectionResult, folder: Path, stem: str, cmap: str = "turbo") -> dict[str, str]:
    """Write ``<stem>_overlay.png`` and ``<stem>_illumination.png``; returns their paths."""
    from core.fsio import atomic_write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    if result.frame is not None:
        img = overlay(result.frame.image, result.anomaly_map, cmap=cmap, pixel_threshold=result.thresholds.pixel)
        paths["overlay"] = folder / f"{stem}_overlay.png"
        atomic_write_bytes(paths["overlay"], cv2.imencode(".png", img[:, :, ::-1])[1].tobytes())
    if result.illumination_map is not None:
        paths["illumination"] = folder / f"{stem}_illumination.png"
        ill = illumination_image(result.illumination_map)
        atomic_write_bytes(paths["illumination"], cv2.imencode(".png", ill[:, :, ::-1])[1].tobytes())
    return {k: str(v) for k, v in paths.items()}
