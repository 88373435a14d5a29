"""The heatmap's colour scale: the current colormap drawn from a typical good part (0) through the pixel
threshold (1) to twice it (2), so the operator can read a colour without knowing the colormap's name."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from core.visualize import MAP_RANGE, colorize

TICKS = ((0.0, "good"), (1.0, "threshold"), (2.0, "2×"))


class ColourBar(QWidget):
    """A horizontal bar of ``colours()`` with three labelled ticks; ``set_colormap(name)`` redraws it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cmap = "turbo"
        self._colours = colorize(np.linspace(*MAP_RANGE, 256)[None, :], self.cmap)[0]
        self.setMinimumHeight(30)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Heatmap colours: left = like good parts, middle = the pixel threshold, right = far above it")

    def set_colormap(self, name: str) -> None:
        if name != self.cmap:
            self.cmap = name
            self._colours = colorize(np.linspace(*MAP_RANGE, 256)[None, :], name)[0]
            self.update()

    def colours(self) -> np.ndarray:
        """The 256 RGB colours the bar shows, lowest map value first."""
        return self._colours

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        strip = np.ascontiguousarray(self._colours[None, :, :])
        img = QImage(strip.data, strip.shape[1], 1, strip.strides[0], QImage.Format.Format_RGB888)
        p = QPainter(self)
        w = self.width()
        bar = QRect(4, 2, w - 8, 12)
        p.drawImage(bar, img)
        p.setPen(QColor("#5f6368"))
        font = p.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        p.setFont(font)
        lo, hi = MAP_RANGE
        for value, label in TICKS:
            x = bar.left() + round((value - lo) / (hi - lo) * (bar.width() - 1))
            p.drawLine(x, bar.bottom(), x, bar.bottom() + 3)
            align = Qt.AlignmentFlag.AlignHCenter
            if value == lo:
                align, left = Qt.AlignmentFlag.AlignLeft, x
            elif value == hi:
                align, left = Qt.AlignmentFlag.AlignRight, x - 80
            else:
                left = x - 40
            p.drawText(QRect(left, bar.bottom() + 3, 80, self.height() - bar.bottom() - 3), align, label)
        p.end()
