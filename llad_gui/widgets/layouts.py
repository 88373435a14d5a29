"""Layout helpers the pages share: a left-aligned row of widgets, a splitter built in one call, and splitter
proportions kept in the settings (so a panel arranged once stays arranged after a restart)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QWidget


def row(*widgets: QWidget, margins: int | None = None) -> QHBoxLayout:
    """A horizontal layout of ``widgets`` from the left, the spare width after them."""
    layout = QHBoxLayout()
    if margins is not None:
        layout.setContentsMargins(margins, margins, margins, margins)
    for w in widgets:
        layout.addWidget(w)
    layout.addStretch(1)
    return layout


def splitter(
    widgets: Sequence[QWidget],
    stretch: Sequence[int],
    sizes: Sequence[int],
    orientation: Qt.Orientation = Qt.Orientation.Horizontal,
) -> QSplitter:
    """A splitter of ``widgets`` with their stretch factors and first sizes; no part can be collapsed to nothing
    (an error text or a long table must never take another part's place)."""
    split = QSplitter(orientation)
    for i, (w, s) in enumerate(zip(widgets, stretch, strict=True)):
        split.addWidget(w)
        split.setStretchFactor(i, s)
    split.setSizes(list(sizes))
    split.setChildrenCollapsible(False)
    return split


def remember_proportions(split: QSplitter, settings, key: str) -> None:
    """Restore ``split``'s proportions saved under ``key`` in ``settings`` and save them whenever it moves."""
    saved = settings.value(key)
    if saved is not None:
        split.restoreState(saved)
    split.splitterMoved.connect(lambda *_: settings.setValue(key, split.saveState()))
