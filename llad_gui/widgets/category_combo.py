"""The category chooser of the toolbar, bound both ways to :class:`~llad_gui.state.AppState`."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

NONE_TEXT = "(no category)"


class CategoryCombo(QComboBox):
    """Lists the categories; choosing one calls ``state.set_category``; state changes update the choice."""

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.setMinimumContentsLength(16)
        self.setToolTip("The kind of part being inspected (its model and thresholds)")
        self.reload()
        state.categoriesChanged.connect(self.reload)
        state.categoryChanged.connect(self._show)
        self.activated.connect(self._chosen)

    def reload(self) -> None:
        self.blockSignals(True)
        self.clear()
        names = self.state.categories()
        if not names:
            self.addItem(NONE_TEXT, "")
        for name in names:
            self.addItem(name, name)
        self.blockSignals(False)
        self._show(self.state.category)

    def _show(self, name: str) -> None:
        i = self.findData(name)
        self.blockSignals(True)
        self.setCurrentIndex(max(i, 0))
        self.blockSignals(False)

    def _chosen(self, index: int) -> None:
        name = self.itemData(index) or ""
        if name != self.state.category:
            self.state.set_category(name)
