"""The image the operator looks at: input, heatmap overlay with defect contours, illumination map, or the
low-light input beside its well-lit partner; zoom with the wheel, pan by dragging, aspect locked.

A dark frame's heatmap is drawn over the brightened image the model compares (its well-lit partner when
paired): over the frame as captured the part is nearly invisible under the colours. Outlines do not depend
on the heatmap being shown. A colour bar under the image shows the current colormap's scale.

Rendering is plain NumPy through :mod:`core.visualize` (the same drawing as snapshots and the CLI), shown in a
pyqtgraph :class:`~pyqtgraph.ImageItem` inside a :class:`~pyqtgraph.ViewBox`.
"""

from __future__ import annotations

from enum import Enum

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from core.data.lowlight import enhance_lowlight
from core.types import InputMode, InspectionResult, Verdict
from core.visualize import colorize, overlay
from llad_gui.widgets.colour_bar import ColourBar


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
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.caption = QLabel("")
        self.caption.setObjectName("viewCaption")
        self.caption.setWordWrap(True)
        self.colour_bar = ColourBar()
        # one stack for the picture and the "cannot show" text: an error never changes the view's size
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.graphics)
        self.stack.setMinimumHeight(160)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.colour_bar)
        layout.addWidget(self.caption)
        self._shape: tuple[int, ...] | None = None
        self._base: tuple[int, np.ndarray] | None = None  # (id of the result, its brightened image)
        self.colour_bar.hide()

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
            self.colour_bar.set_colormap(cmap)
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
        if self.mode is ViewMode.INPUT or not np.isfinite(r.score) or not (self.show_overlay or self.show_contours):
            return image
        return overlay(
            self.base_image(),
            r.anomaly_map,
            opacity=self.opacity,
            cmap=self.cmap,
            pixel_threshold=r.thresholds.pixel,
            contours=self.show_contours,
            heatmap=self.show_overlay,
        )

    def brightened(self) -> bool:
        """Whether the heatmap is drawn over a brightened picture of the part rather than the frame itself."""
        r = self.result
        return r is not None and r.verdict is not Verdict.ERROR and r.mode in (InputMode.LOWLIGHT, InputMode.PAIRED)

    def base_image(self) -> np.ndarray:
        """What the heatmap is drawn over: the frame, or for a dark frame its brightened version (computed once
        a result; the well-lit partner when there is one)."""
        r = self.result
        image = r.frame.image
        if not self.brightened():
            return image
        if r.frame.partner is not None and r.frame.partner.shape == image.shape:
            return r.frame.partner
        if self._base is None or self._base[0] != id(r.frame):
            self._base = (id(r.frame), enhance_lowlight(image))
        return self._base[1]

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
        if self.mode is not ViewMode.OVERLAY or not np.isfinite(r.score):
            return ""
        parts = []
        if self.show_overlay:
            parts.append(f"Heatmap ({self.cmap}): colours as in the colour bar, from like good parts to unusual.")
        if self.show_contours:
            parts.append("Outlined: regions above the pixel threshold.")
        if self.brightened() and (self.show_overlay or self.show_contours):
            over = "its well-lit partner" if r.frame.partner is not None else "the brightened image"
            parts.append(f"Dark frame: drawn over {over} (Input image shows it as captured).")
        return " ".join(parts)

    def refresh(self) -> None:
        image = self.rendered()
        self.caption.setText(self.caption_text())
        r = self.result
        self.colour_bar.setVisible(
            bool(r is not None and self.mode is ViewMode.OVERLAY and self.show_overlay and np.isfinite(r.score))
        )
        if image is None:
            self.stack.setCurrentWidget(self.placeholder)
            if r is not None and r.error:
                self.placeholder.setText(f"Cannot show this image:\n{r.error}")
            return
        self.stack.setCurrentWidget(self.graphics)
        self.image_item.setImage(np.ascontiguousarray(image), autoLevels=False, levels=(0, 255))
        if image.shape != self._shape:  # a new size: fit it; the same size keeps the operator's zoom
            self._shape = image.shape
            self.viewbox.autoRange(padding=0.01)

    def reset_zoom(self) -> None:
        self.viewbox.autoRange(padding=0.01)
