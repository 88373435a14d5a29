"""The threshold assistant: how many good parts a threshold rejects against how many synthetic defects it catches.

Displays a :class:`core.threshold_advice.TradeOff` (one curve a lighting mode, the pooled one, and optionally the
labelled test set of an evaluation) with the operating point of the current thresholds, lets the engineer ask for
a target false-reject or catch rate and says in words what the chosen point does, with a warning when it catches
few defects. All numbers come from core; this widget only draws them and emits the threshold asked for.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.threshold_advice import TradeOff
from core.types import Thresholds
from llad_gui.resources import palette
from llad_gui.widgets.plots import static_plot


class ThresholdAssistant(QWidget):
    """``set_tradeoff(TradeOff | None)`` and ``set_thresholds(Thresholds)`` to display; the "Set threshold" button
    emits ``thresholdChosen(float image_threshold)`` for the chosen target (the page applies it)."""

    thresholdChosen = Signal(float)  # noqa: N815 - Qt signal naming

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.tradeoff: TradeOff | None = None
        self.thresholds = Thresholds()
        self.plot = static_plot()
        self.plot.setLabel("bottom", "good parts rejected (%)")
        self.plot.setLabel("left", "defects caught (%)")
        self.plot.setXRange(0, 100, padding=0.02)
        self.plot.setYRange(0, 100, padding=0.02)
        self.plot.setMinimumHeight(170)
        self.legend = self.plot.addLegend(offset=(-10, -10), labelTextSize="9pt")
        self.curve_items: list[pg.PlotDataItem] = []
        self.point_items: list[pg.ScatterPlotItem] = []
        colours = palette()
        self.target_item = pg.ScatterPlotItem(
            size=14, symbol="o", pen=pg.mkPen(colours["target_point"], width=2), brush=None
        )
        self.target_item.setZValue(10)
        self.plot.addItem(self.target_item)

        self.frr_radio = QRadioButton("Reject at most")
        self.catch_radio = QRadioButton("Catch at least")
        self.frr_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.frr_radio)
        group.addButton(self.catch_radio)
        self.frr_spin = _percent_spin(0.0, 50.0, 1.0, " % of good parts")
        self.catch_spin = _percent_spin(1.0, 100.0, 90.0, " % of synthetic defects")
        self.set_button = QPushButton("Set threshold")
        self.set_button.setToolTip("Use the image threshold that meets this target (the pixel threshold is kept)")
        self.set_button.clicked.connect(self.choose)
        for widget in (self.frr_radio, self.catch_radio):
            widget.toggled.connect(lambda _: self._refresh_target())
        for spin in (self.frr_spin, self.catch_spin):
            spin.valueChanged.connect(lambda _: self._refresh_target())
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setObjectName("assistantWarning")
        self.warning.hide()

        targets = QGridLayout()
        targets.addWidget(self.frr_radio, 0, 0)
        targets.addWidget(self.frr_spin, 0, 1)
        targets.addWidget(self.catch_radio, 1, 0)
        targets.addWidget(self.catch_spin, 1, 1)
        # the button on its own row: beside the targets the column is wider than a 1024 px panel leaves it
        targets.addWidget(self.set_button, 2, 0, 1, 2, Qt.AlignmentFlag.AlignLeft)
        targets.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addLayout(targets)
        layout.addWidget(self.text)
        layout.addWidget(self.warning)
        self.set_tradeoff(None)

    # ---- display -------------------------------------------------------------------------------------------
    def set_tradeoff(self, tradeoff: TradeOff | None) -> None:
        """Draw ``tradeoff`` (``None``: nothing to show)."""
        self.tradeoff = tradeoff
        for item in self.curve_items + self.point_items:
            self.plot.removeItem(item)
        self.legend.clear()
        self.curve_items, self.point_items = [], []
        colours = palette()["curves"]
        if tradeoff is not None:
            for c in tradeoff.curves():
                colour = colours.get(c.name, colours["other"])
                style = Qt.PenStyle.DashLine if c.name == "test set" else Qt.PenStyle.SolidLine
                width = 3 if c.name == "all lighting" or len(tradeoff.sets) == 1 else 2
                item = self.plot.plot(
                    c.false_reject * 100, c.catch * 100, pen=pg.mkPen(colour, width=width, style=style), name=c.name
                )
                self.curve_items.append(item)
                point = pg.ScatterPlotItem(size=12, pen=pg.mkPen("w", width=1), brush=pg.mkBrush(colour))
                point.setZValue(5)
                self.plot.addItem(point)
                self.point_items.append(point)
        self._refresh()

    def set_thresholds(self, thresholds: Thresholds) -> None:
        """Move the operating points and the words to ``thresholds``."""
        self.thresholds = thresholds
        self._refresh()

    def _refresh(self) -> None:
        usable = self.tradeoff is not None and self.tradeoff.usable
        for widget in (self.frr_radio, self.catch_radio, self.frr_spin, self.catch_spin):
            widget.setEnabled(usable)
        if self.tradeoff is None:
            self.text.setText("Train a model to see how a threshold trades false rejects against caught defects.")
            self.warning.hide()
            self._refresh_target()
            return
        for item, p in zip(self.point_items, self.tradeoff.points(self.thresholds)):
            item.setData([p.false_reject_rate * 100], [p.catch_rate * 100])
        advice = self.tradeoff.advice(self.thresholds)
        self.text.setText(advice.text)
        self.warning.setText(advice.warning)
        self.warning.setVisible(bool(advice.warning))
        self._refresh_target()

    def _refresh_target(self) -> None:
        target = self.target_threshold()
        self.set_button.setEnabled(target is not None and abs(target - self.thresholds.image) > 1e-9)
        if target is None:
            self.target_item.setData([], [])
            self.set_button.setText("Set threshold")
            return
        p = self.tradeoff.point(Thresholds(target, self.thresholds.pixel, self.thresholds.uncertain_band))
        self.target_item.setData([p.false_reject_rate * 100], [p.catch_rate * 100])
        self.set_button.setText(f"Set threshold to {target:.3f}")

    # ---- choosing ------------------------------------------------------------------------------------------
    def target_threshold(self) -> float | None:
        """The image threshold that meets the chosen target on the pooled sets, or None without a trade-off."""
        if self.tradeoff is None or not self.tradeoff.usable:
            return None
        band = self.thresholds.uncertain_band
        if self.frr_radio.isChecked():
            return self.tradeoff.threshold_for_false_reject(self.frr_spin.value() / 100.0, band)
        return self.tradeoff.threshold_for_catch(self.catch_spin.value() / 100.0, band)

    def choose(self) -> None:
        target = self.target_threshold()
        if target is not None:
            self.thresholdChosen.emit(target)


def _percent_spin(low: float, high: float, value: float, suffix: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(1)
    spin.setSingleStep(0.5 if high <= 50 else 5.0)
    spin.setValue(value)
    spin.setSuffix(suffix)
    return spin


class ThresholdAssistantDialog(QDialog):
    """The assistant in its own window, for pages without room for a plot (the Train page's new-model box)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Threshold assistant")
        self.assistant = ThresholdAssistant()
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.assistant, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        self.resize(620, 560)
