"""Histogram of the category's validation scores (good parts, and defective ones when known) with the NG
threshold as a line you can drag; where the line sits against the two groups shows what a threshold costs."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from llad_gui.widgets.plots import static_plot

GOOD_BRUSH = (46, 160, 67, 150)
DEFECT_BRUSH = (211, 47, 47, 150)


class ScoreHistogram(QWidget):
    """``set_scores(good, defect)`` (normalised) and ``set_threshold``; dragging emits ``thresholdMoved``."""

    thresholdMoved = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = static_plot()
        self.plot.setLabel("bottom", "validation score")
        self.plot.setLabel("left", "parts")
        self.setToolTip(
            "Scores of the model's validation images (1.0 = calibrated): green good parts, red synthetic defects"
        )
        self._mode_text = ""
        self.set_mode_text("")
        self.plot.disableAutoRange()
        self.good = pg.BarGraphItem(x=[], height=[], width=0.1, brush=GOOD_BRUSH)
        self.defect = pg.BarGraphItem(x=[], height=[], width=0.1, brush=DEFECT_BRUSH)
        self.plot.addItem(self.good)
        self.plot.addItem(self.defect)
        self.band = pg.LinearRegionItem(values=(1, 1), movable=False, brush=(240, 160, 0, 60), pen=pg.mkPen(None))
        self.band.setZValue(-5)
        self.plot.addItem(self.band)
        self.line = pg.InfiniteLine(
            pos=1.0,
            angle=90,
            movable=True,
            pen=pg.mkPen("#c62828", width=3),
            hoverPen=pg.mkPen("#ff5252", width=4),
            label="NG ≥ {value:.2f}",
            labelOpts={"position": 0.9, "color": "#c62828", "fill": (255, 255, 255, 200)},
        )
        self.line.setToolTip("Drag to change the NG threshold")
        self.plot.addItem(self.line)
        self.line.sigPositionChanged.connect(self._moved)
        self.empty = pg.TextItem("no validation scores in this model", color="#555", anchor=(0.5, 0.5))
        self.plot.addItem(self.empty)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._quiet = False
        self.set_scores([], [])

    def set_mode_text(self, text: str) -> None:
        """Which calibration the scores are of, e.g. "low-light mode" (each lighting mode has its own)."""
        self._mode_text = text
        self.plot.setTitle(
            f"{text or 'validation'} · <span style='color:#2e7d32'>■ good</span> "
            "<span style='color:#c62828'>■ defect</span>",
            color="#202124",
            size="8pt",
        )

    def mode_text(self) -> str:
        return self._mode_text

    def set_scores(self, good, defect) -> None:
        good = np.asarray(good, dtype=float)
        defect = np.asarray(defect, dtype=float)
        good, defect = good[np.isfinite(good)], defect[np.isfinite(defect)]
        both = np.r_[good, defect, 0.0, 1.5]
        hi = float(np.clip(np.percentile(both, 99) * 1.15, 1.5, 10.0))
        lo = float(min(0.0, both.min()))
        edges = np.linspace(lo, hi, 31)
        width = (edges[1] - edges[0]) * 0.9
        centres = (edges[:-1] + edges[1:]) / 2
        for item, values in ((self.good, good), (self.defect, defect)):
            counts, _ = np.histogram(np.clip(values, lo, hi), edges)
            item.setOpts(x=centres, height=counts, width=width)
        self.empty.setVisible(good.size == 0 and defect.size == 0)
        self.empty.setPos((lo + hi) / 2, 0.5)
        self.plot.setXRange(lo, hi, padding=0.02)
        top = max([1, *(int(np.histogram(np.clip(v, lo, hi), edges)[0].max()) for v in (good, defect) if v.size)])
        self.plot.setYRange(0, top * 1.25, padding=0)
        self.line.setBounds((max(lo, 0.01), hi))

    def set_threshold(self, value: float, band: float = 0.0) -> None:
        self._quiet = True
        self.line.setValue(value)
        self._quiet = False
        self.band.setRegion((value - band, value))
        self.band.setVisible(band > 0)

    def _moved(self) -> None:
        if not self._quiet:
            self.thresholdMoved.emit(round(float(self.line.value()), 2))
