"""The lighting choice: how images are fed to the model (automatic by exposure, low-light, or well-lit)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox

from core.types import InputMode

LIGHTING = (("Automatic", None), ("Low-light", InputMode.LOWLIGHT), ("Well-lit", InputMode.WELLLIT))
"""(label, input mode) in the order offered; None lets each image's exposure decide."""


class LightingCombo(QComboBox):
    """A combo box of :data:`LIGHTING`; ``modeChanged(object)`` carries the chosen mode (None = automatic)."""

    modeChanged = Signal(object)

    def __init__(self, tooltip: str, parent=None) -> None:
        super().__init__(parent)
        for label, _ in LIGHTING:
            self.addItem(label)
        self.setToolTip(tooltip)
        self.currentIndexChanged.connect(lambda _: self.modeChanged.emit(self.mode()))

    def mode(self) -> InputMode | None:
        # from the table, not currentData(): Qt hands a str enum back as a plain str
        return LIGHTING[self.currentIndex()][1] if self.currentIndex() >= 0 else None

    def set_mode(self, mode: InputMode | None) -> None:
        """Show ``mode`` (emits ``modeChanged`` only if the choice changes)."""
        for i, (_, m) in enumerate(LIGHTING):
            if m == mode:
                self.setCurrentIndex(i)
                return
