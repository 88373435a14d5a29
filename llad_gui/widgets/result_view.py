"""The image the operator looks at: input, heatmap overlay with defect contours, illumination map, or the
low-light input beside its well-lit partner; zoom with the wheel, pan by dragging, aspect locked.

Rendering is plain NumPy through :mod:`core.visualize` (the same drawing as snapshots and the CLI), shown in a
pyqtgraph :class:`~pyqtgraph.ImageItem` inside a :class:`~pyqtgraph.ViewBox`.
"""

from __future__ import annotations

from enum import Enum

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.types import InspectionResult
from core.visualize import colorize, overlay


class ViewMode(str, Enum):
    """What the image area shows."""

    INPUT = "input"
    OVERLAY = "overlay"
    ILLUMINATION = "illumination"
    PAIRED = "paired"


VIEW_LABELS = {
    ViewMode.INPUT: "Input image",
    ViewMode.OVERLAY: "Heatmap overlay",
    ViewMode.ILLUMINATION: "Illumination map",
    ViewMode.PAIRED: "Low-light | well-lit",
}


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 6) -> np.ndarray:
    """Two RGB images at the same height with a dark gap between."""
    h = left.shape[0]
    if right.shape[0] != h:
        right = cv2.resize(right, (max(1, round(right.shape[1] * h / right.shape[0])), h))
    spacer = np.full((h, gap, 3), 40, np.uint8)
    return np.concatenate([left, spacer, right], axis=1)


def illumination_picture(illumination: np.ndarray) -> np.ndarray:
    """The illumination map on an absolute scale (unlike :func:`core.visualize.illumination_image`, which
    stretches each map to its own maximum), so a dim part looks dim next to a bright one."""
    return colorize(np.sqrt(np.clip(illumination, 0.0, 1.0)), "inferno", (0.0, 1.0))


class ResultView(QWidget):
    """Shows one :class:`InspectionResult` in the chosen :class:`ViewMode`; settings apply at once."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.result: InspectionResult | None = None
        self.mode = ViewMode.OVERLAY
        self.opacity = 0.45
        self.cmap = "turbo"
        self.show_overlay = True
        self.show_contours = True
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#202124")
        self.viewbox = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.image_item)
        self.placeholder = QLabel("No image yet: choose a source above and press Open")
        self.placeholder.setObjectName("viewPlaceholder")
        self.caption = QLabel("")
        self.caption.setObjectName("viewCaption")
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        self._shape: tuple[int, ...] | None = None
        self.graphics.hide()

    def set_result(self, result: InspectionResult | None) -> None:
        self.result = result
        self.refresh()

    def set_mode(self, mode: ViewMode | str) -> None:
        self.mode = ViewMode(mode)
        self.refresh()

    def set_options(self, *, opacity=None, cmap=None, show_overlay=None, show_contours=None) -> None:
        if opacity is not None:
            self.opacity = float(opacity)
        if cmap is not None:
            self.cmap = cmap
        if show_overlay is not None:
            self.show_overlay = bool(show_overlay)
        if show_contours is not None:
            self.show_contours = bool(show_contours)
        self.refresh()

    def rendered(self) -> np.ndarray | None:
        """The RGB image currently shown (what a snapshot saves beside the input)."""
        r = self.result
        if r is None or r.frame is None or r.frame.image.size <= 3:
            return None
        image = r.frame.image
        if self.mode is ViewMode.ILLUMINATION and r.illumination_map is not None:
            return side_by_side(image, illumination_picture(r.illumination_map))
        if self.mode is ViewMode.PAIRED and r.frame.partner is not None:
            return side_by_side(image, r.frame.partner)
        if self.mode is ViewMode.INPUT or not self.show_overlay or not np.isfinite(r.score):
            return image
        return overlay(
            image,
            r.anomaly_map,
            opacity=self.opacity,
            cmap=self.cmap,
            pixel_threshold=r.thresholds.pixel,
            contours=self.show_contours,
        )

    def caption_text(self) -> str:
        r = self.result
        if r is None:
            return ""
        if self.mode is ViewMode.ILLUMINATION:
            if r.illumination_map is None:
                return "No illumination map for this image."
            return (
                "Left: input. Right: the light the model estimates on the part "
                "(black = no light, yellow-white = fully lit; the same scale for every image)."
            )
        if self.mode is ViewMode.PAIRED:
            if r.frame is None or r.frame.partner is None:
                return "No well-lit partner: open paired folders to compare."
            return "Left: low-light input. Right: well-lit partner."
        if self.mode is ViewMode.OVERLAY and self.show_overlay and np.isfinite(r.score):
            return "Heatmap: blue = like good parts, red = unusual. Outlined = region above the pixel threshold."
        return ""

    def refresh(self) -> None:
        image = self.rendered()
        self.caption.setText(self.caption_text())
        if image is None:
            self.graphics.hide()
            self.placeholder.show()
            if self.result is not None and self.result.error:
                self.placeholder.setText(f"Cannot show this image:\n{self.result.error}")
            return
        self.placeholder.hide()
        self.graphics.show()
        self.image_item.setImage(np.ascontiguousarray(image), autoLevels=False, levels=(0, 255))
        if image.shape != self._shape:  # a new size: fit it; the same size keeps the operator's zoom
            self._shape = image.shape
            self.viewbox.autoRange(padding=0.01)

    def reset_zoom(self) -> None:
        self.viewbox.autoRange(padding=0.01)
