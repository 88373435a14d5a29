"""The live training-loss curve (pyqtgraph): raw loss per step, faint, and a running mean on top."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg


class LossPlot(pg.PlotWidget):
    """Loss against training step. :meth:`add_point` during training, :meth:`set_curve` for a saved version."""

    SMOOTH = 10

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.setMinimumHeight(160)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setLabel("bottom", "training step")
        self.setLabel("left", "loss (lower is better)")
        self.raw = self.plot([], [], pen=pg.mkPen((150, 170, 210), width=1))
        self.smooth = self.plot([], [], pen=pg.mkPen((30, 80, 170), width=2))
        self.steps: list[int] = []
        self.losses: list[float] = []

    def clear_curve(self) -> None:
        self.steps, self.losses = [], []
        self.raw.setData([], [])
        self.smooth.setData([], [])

    def add_point(self, step: int, loss: float) -> None:
        if not math.isfinite(loss):
            return
        self.steps.append(step)
        self.losses.append(loss)
        self._redraw()

    def set_curve(self, losses, every: int = 1) -> None:
        """Show a stored curve (e.g. a version's ``loss_curve``, one value per ``every`` steps)."""
        self.losses = [float(x) for x in losses]
        self.steps = [(i + 1) * every for i in range(len(self.losses))]
        # a stored curve is already averaged: one line, no second smoothing
        self.raw.setData([], [])
        self.smooth.setData(np.asarray(self.steps, float), np.asarray(self.losses, float))

    def _redraw(self) -> None:
        x, y = np.asarray(self.steps, float), np.asarray(self.losses, float)
        self.raw.setData(x, y)
        if len(y) >= 2:
            k = min(self.SMOOTH, len(y))
            cs = np.cumsum(np.r_[0.0, y])
            mean = np.r_[cs[1:k] / np.arange(1, k), (cs[k:] - cs[:-k]) / k]
            self.smooth.setData(x, mean)
        else:
            self.smooth.setData(x, y)
