"""Score trend of the last inspections (newest on the right) with the NG threshold, to spot drift at a glance."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from core.types import Verdict
from llad_gui.widgets.plots import static_plot

POINT_COLOURS = {
    Verdict.OK: "#2e7d32",
    Verdict.NG: "#c62828",
    Verdict.UNCERTAIN: "#f0a000",
    Verdict.ERROR: "#757575",
}


class ScoreTrend(QWidget):
    """``set_history(scores, verdicts)`` redraws; ``set_threshold`` moves the line (not draggable here)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = static_plot()
        self.plot.setTitle("Score trend", size="8pt")
        self.plot.setLabel("left", "score")
        self.plot.setLabel("bottom", "inspection")
        self.curve = pg.PlotDataItem(pen=pg.mkPen("#9e9e9e", width=1))
        self.points = pg.ScatterPlotItem(size=7, pen=None)
        self.line = pg.InfiniteLine(pos=1.0, angle=0, movable=False, pen=pg.mkPen("#c62828", width=2))
        for item in (self.curve, self.points, self.line):
            self.plot.addItem(item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_history(self, scores, verdicts) -> None:
        y = np.asarray(scores, dtype=float)
        x = np.arange(len(y))
        finite = np.isfinite(y)
        self.curve.setData(x[finite], y[finite])
        brushes = [pg.mkBrush(POINT_COLOURS[v]) for v, f in zip(verdicts, finite) if f]
        self.points.setData(x[finite], y[finite], brush=brushes)
        top = max(2.0, float(np.nanmax(y[finite])) * 1.1) if finite.any() else 2.0
        self.plot.setYRange(0, top, padding=0)
        self.plot.setXRange(0, max(10, len(y)), padding=0.02)

    def set_threshold(self, value: float) -> None:
        self.line.setValue(value)
