"""Display settings of the image view: what to show, heatmap on/off, contours, opacity and colormap."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QWidget

from core.visualize import COLORMAPS
from llad_gui.widgets.result_view import VIEW_LABELS, ViewMode


class ViewControls(QWidget):
    """A row of controls; emits ``changed()`` after any edit (read the attributes for the values)."""

    changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.mode = QComboBox()
        for mode, label in VIEW_LABELS.items():
            self.mode.addItem(label, mode.value)
        self.mode.setToolTip("What the image shows (View menu)")
        for combo, chars in ((self.mode, 15),):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(chars)
        self.overlay = QCheckBox("Heatmap")
        self.overlay.setChecked(True)
        self.overlay.setToolTip("Show the anomaly heatmap over the image (O)")
        self.contours = QCheckBox("Outlines")
        self.contours.setChecked(True)
        self.contours.setToolTip("Outline regions above the pixel threshold")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.opacity.setMinimumWidth(60)
        self.opacity.setMaximumWidth(110)
        self.opacity.setToolTip("Heatmap opacity")
        self.cmap = QComboBox()
        self.cmap.addItems(list(COLORMAPS))
        self.cmap.setToolTip("Heatmap colours")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Show:"))
        row.addWidget(self.mode)
        row.addSpacing(6)
        row.addWidget(self.overlay)
        row.addWidget(self.contours)
        self.opacity_label = QLabel("Opacity")
        row.addWidget(self.opacity_label)
        row.addWidget(self.opacity)
        row.addWidget(self.cmap)
        row.addStretch(1)
        self.mode.currentIndexChanged.connect(self.changed)
        self.overlay.toggled.connect(self.changed)
        self.contours.toggled.connect(self.changed)
        self.opacity.valueChanged.connect(self.changed)
        self.cmap.currentTextChanged.connect(self.changed)
        self.changed.connect(self._enable)
        self._enable()

    def _enable(self) -> None:
        """Heatmap settings only matter in the overlay view: hide them elsewhere."""
        overlay = self.view_mode is ViewMode.OVERLAY
        for w in (self.overlay, self.contours, self.opacity_label, self.opacity, self.cmap):
            w.setVisible(overlay)

    @property
    def view_mode(self) -> ViewMode:
        return ViewMode(self.mode.currentData())

    def set_view_mode(self, mode: ViewMode | str) -> None:
        i = self.mode.findData(ViewMode(mode).value)
        if i >= 0:
            self.mode.setCurrentIndex(i)

    def set_colormap(self, name: str) -> None:
        if name in COLORMAPS:
            self.cmap.setCurrentText(name)
