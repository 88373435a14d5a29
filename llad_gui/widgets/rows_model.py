"""A read-only table model over a list of rows with fixed, named columns: what the Log and Evaluate tables share.
Subclasses set ``columns`` and implement ``data``."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, Qt


class RowsTableModel(QAbstractTableModel):
    """``rows`` shown under the headers ``columns``, one row an item of the list."""

    columns: tuple[str, ...] = ()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list = []

    def rowCount(self, parent=None) -> int:  # noqa: N802 - Qt override
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent=None) -> int:  # noqa: N802 - Qt override
        return len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802 - Qt override
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        return None
