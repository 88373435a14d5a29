"""What the quality engineer tunes: image-score and pixel thresholds (slider + number, kept in sync), the
uncertain band, and a button back to the calibrated values. Emits the new :class:`Thresholds`; the page
re-decides cached results, no model run."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QHBoxLayout, QPushButton, QSlider, QWidget

from core.types import Thresholds

SCALE = 100  # slider steps per unit of normalised score
SLIDER_MAX = 4.0  # the slider's useful range; the number box takes more
MAX_THRESHOLD = 100.0


class _SliderBox(QWidget):
    """A horizontal slider and a spin box showing the same value. The slider covers 0.01 to 4 (where thresholds
    are tuned); a larger value typed into the box is kept, and the slider then rests at its end."""

    valueChanged = Signal(float)

    def __init__(self, tip: str, parent=None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(1, int(SLIDER_MAX * SCALE))
        self.slider.setMinimumWidth(60)
        self.box = QDoubleSpinBox()
        self.box.setRange(0.01, MAX_THRESHOLD)
        self.box.setSingleStep(0.05)
        self.box.setDecimals(2)
        self.setToolTip(tip)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.box)
        self.slider.valueChanged.connect(self._slid)
        self.box.valueChanged.connect(lambda v: self._set(v, emit=True))
        self._value = 1.0
        self._set(1.0, emit=False)

    def _slid(self, v: int) -> None:
        if v == self.slider.maximum() and self._value > SLIDER_MAX:
            return  # resting at the end for a larger typed value
        self._set(v / SCALE, emit=True)

    def value(self) -> float:
        return self._value

    def _set(self, value: float, emit: bool) -> None:
        value = round(float(value), 2)
        changed = value != self._value
        self._value = value
        for w, v in ((self.slider, min(round(value * SCALE), self.slider.maximum())), (self.box, value)):
            if w.value() != v:
                w.blockSignals(True)
                w.setValue(v)
                w.blockSignals(False)
        if emit and changed:
            self.valueChanged.emit(value)

    def set_value(self, value: float) -> None:
        self._set(value, emit=False)


class ThresholdPanel(QWidget):
    """Sliders for the image and pixel thresholds, the uncertain band and "Reset to calibrated"."""

    thresholdsEdited = Signal(object)
    resetRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.image = _SliderBox("A part is NG when its score is at or above this (1.00 = calibrated)")
        self.pixel = _SliderBox("Pixels above this are outlined as a defect region (1.00 = calibrated)")
        self.band = QDoubleSpinBox()
        self.band.setRange(0.0, 2.0)
        self.band.setSingleStep(0.05)
        self.band.setDecimals(2)
        self.band.setSpecialValueText("off")
        self.band.setToolTip("Scores this far below the NG threshold are shown as CHECK (needs a human look)")
        self.reset = QPushButton("Reset to calibrated")
        self.reset.setToolTip("Image and pixel thresholds back to 1.00, the values found when training")
        form = QFormLayout(self)
        form.addRow("NG threshold", self.image)
        form.addRow("Pixel threshold", self.pixel)
        form.addRow("Uncertain band", self.band)
        form.addRow(self.reset)  # the whole row: its text is never cut on a narrow side panel
        self.image.valueChanged.connect(self._edited)
        self.pixel.valueChanged.connect(self._edited)
        self.band.valueChanged.connect(self._edited)
        self.reset.clicked.connect(self.resetRequested)

    def thresholds(self) -> Thresholds:
        return Thresholds(self.image.value(), self.pixel.value(), round(self.band.value(), 2))

    def set_thresholds(self, t: Thresholds) -> None:
        """Show ``t`` without emitting ``thresholdsEdited``."""
        self.image.set_value(t.image)
        self.pixel.set_value(t.pixel)
        self.band.blockSignals(True)
        self.band.setValue(t.uncertain_band)
        self.band.blockSignals(False)

    def _edited(self, *_) -> None:
        self.thresholdsEdited.emit(self.thresholds())
