"""The Inspect page's layout: the first-start guide or the workstation (source bar, banner, the image with its
view controls, the latest parts, the score trend and histogram, the verdict and thresholds), in three splitters
whose proportions are remembered. Layout only: :class:`~llad_gui.pages.inspect_page.InspectPage` wires it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QStackedWidget, QVBoxLayout, QWidget

from llad_gui.widgets.first_start import FirstStartGuide
from llad_gui.widgets.layouts import remember_proportions, splitter
from llad_gui.widgets.recent_results import RecentResults
from llad_gui.widgets.result_view import ResultView
from llad_gui.widgets.score_histogram import ScoreHistogram
from llad_gui.widgets.score_trend import ScoreTrend
from llad_gui.widgets.source_bar import SourceBar
from llad_gui.widgets.status_banner import StatusBanner
from llad_gui.widgets.threshold_panel import ThresholdPanel
from llad_gui.widgets.verdict_panel import VerdictPanel
from llad_gui.widgets.view_controls import ViewControls


class InspectLayout(QStackedWidget):
    """The guide (``guide``) or the workstation (``workspace``) and every widget of it as an attribute;
    ``splitters`` maps each splitter's settings key to it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.guide = FirstStartGuide()
        self.source_bar = SourceBar()
        self.banner = StatusBanner()
        self.view_controls = ViewControls()
        self.view = ResultView()
        self.recent = RecentResults()
        self.verdict = VerdictPanel()
        self.thresholds = ThresholdPanel()
        self.histogram = ScoreHistogram()
        self.trend = ScoreTrend()

        # three splitters (none lets a part collapse); the histogram is below the image, not under the verdict, so
        # the side panel fits a 768-pixel panel
        below = splitter([self.recent, self.trend, self.histogram], (0, 0, 0), (340, 180, 300))
        top = QWidget()
        tv = QVBoxLayout(top)
        tv.setContentsMargins(0, 0, 0, 0)
        tv.addWidget(self.view_controls)
        tv.addWidget(self.view, 1)
        left = splitter([top, below], (3, 1), (400, 190), Qt.Orientation.Vertical)
        self.recent.setMinimumHeight(90)
        right = QWidget()
        right.setMinimumWidth(300)
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.verdict)
        box = QGroupBox("Thresholds")
        QVBoxLayout(box).addWidget(self.thresholds)
        rv.addWidget(box)
        rv.addStretch(1)
        self.side_panel = right
        split = splitter([left, right], (3, 1), (700, 320))
        self.splitters = {"inspect/split": split, "inspect/left": left, "inspect/below": below}

        work = QWidget()
        wv = QVBoxLayout(work)
        wv.setContentsMargins(6, 6, 6, 6)
        wv.addWidget(self.source_bar)
        wv.addWidget(self.banner)
        wv.addWidget(split, 1)
        self.workspace = work
        self.addWidget(self.guide)
        self.addWidget(work)

    def remember_proportions(self, settings) -> None:
        """Restore each splitter's saved proportions from ``settings`` and save them whenever one moves."""
        for key, split in self.splitters.items():
            remember_proportions(split, settings, key)
