"""The Log page: the inspection log in a table, newest first, with filters, CSV export and operator overrides.

The table pages through :meth:`core.log.InspectionLog.query` (``limit``/``offset``) as the operator scrolls, so
a log of a million rows opens as fast as one of ten. New rows are noticed by polling ``count()`` every two
seconds (cheap on SQLite with its indexes) rather than by a signal, because the rows may be written by another
thread or another program. An override keeps the model's verdict and adds the operator's with a note.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

from PySide6.QtCore import QDate, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.errors import LladError
from core.types import Verdict
from llad_gui.resources import palette
from llad_gui.widgets.rows_model import RowsTableModel
from llad_gui.widgets.verdict_panel import verdict_word

PAGE = 200
POLL_MS = 2000
COLUMNS = ("Time", "Category", "Model", "Score", "Verdict", "Operator note", "Mode", "Source", "Image")
MODE_NAMES = {"lowlight": "low-light", "welllit": "well-lit", "paired": "paired"}
OPPOSITE = {Verdict.OK: Verdict.NG, Verdict.NG: Verdict.OK, Verdict.UNCERTAIN: Verdict.OK}


class LogTableModel(RowsTableModel):
    """Rows of the log matching ``filters``, newest first, fetched ``PAGE`` at a time."""

    columns = COLUMNS

    def __init__(self, log, parent=None) -> None:
        super().__init__(parent)
        self.log = log
        self._verdict_brushes = {k: QBrush(QColor(v)) for k, v in palette()["verdict"].items()}
        self.filters: dict = {}
        self.total = 0

    def canFetchMore(self, parent=QModelIndex()) -> bool:  # noqa: N802, B008 - Qt override
        return len(self.rows) < self.total

    def fetchMore(self, parent=QModelIndex()) -> None:  # noqa: N802, B008 - Qt override
        more = self.log.query(**self.filters, limit=PAGE, offset=len(self.rows))
        if not more:
            self.total = len(self.rows)
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(more) - 1)
        self.rows.extend(more)
        self.endInsertRows()

    def reload(self, filters: dict | None = None) -> None:
        if filters is not None:
            self.filters = filters
        self.beginResetModel()
        self.total = self.log.count(**self.filters)
        self.rows = self.log.query(**self.filters, limit=PAGE, offset=0)
        self.endResetModel()

    @staticmethod
    def verdict_text(row) -> str:
        if row.override_verdict is None:
            return verdict_word(row.verdict)
        return f"{verdict_word(row.override_verdict)} (operator; model said {verdict_word(row.verdict)})"

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, c = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            score = "" if r.score != r.score else f"{r.score:.3f}"
            return (
                datetime.fromtimestamp(r.unix_time).strftime("%Y-%m-%d %H:%M:%S"),
                r.category,
                r.model_version,
                score,
                self.verdict_text(r),
                r.override_note,
                MODE_NAMES.get(r.mode.value, r.mode.value) if r.mode else "",
                r.source,
                Path(r.image_ref).name if r.image_ref else "",
            )[c]
        if role == Qt.ItemDataRole.ForegroundRole and c == 4:
            return self._verdict_brushes.get(r.final_verdict.value)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = [r.image_ref or "(no image reference)"]
            if r.saved_image:
                tip.append(f"saved image: {r.saved_image}")
            if r.error:
                tip.append(f"error: {r.error}")
            return "\n".join(tip)
        if role == Qt.ItemDataRole.TextAlignmentRole and c == 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class LogPage(QWidget):
    """The inspection log with filters, Refresh, Export CSV and "Mark verdict wrong".

    Signals: ``overrideSaved(int row_id, str verdict)``, ``exported(str path, int rows)``.
    Public: ``reload()``, ``filters()``, ``export_csv(path)``, ``mark_wrong(row_id, note)``, ``selected_row()``.
    """

    overrideSaved = Signal(int, str)  # noqa: N815 - Qt signal naming
    exported = Signal(str, int)

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.model = LogTableModel(state.log, self)
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        self.reload()

    def _build(self) -> None:
        self.category_combo = QComboBox()
        self.category_combo.setMinimumContentsLength(14)
        self.verdict_combo = QComboBox()
        self.verdict_combo.addItem("All verdicts", None)
        for v in (Verdict.OK, Verdict.NG, Verdict.UNCERTAIN, Verdict.ERROR):
            self.verdict_combo.addItem(verdict_word(v), v.value)
        today = QDate.currentDate()
        self.from_check = QCheckBox("From")
        self.from_date = QDateEdit(today.addDays(-7))
        self.to_check = QCheckBox("to")
        self.to_date = QDateEdit(today)
        for edit in (self.from_date, self.to_date):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
        self.from_check.toggled.connect(self.from_date.setEnabled)
        self.to_check.toggled.connect(self.to_date.setEnabled)
        for w in (self.from_check, self.to_check):
            w.toggled.connect(lambda _: self.reload())
        for w in (self.from_date, self.to_date):
            w.dateChanged.connect(lambda _: self.reload())
        self.category_combo.activated.connect(lambda _: self.reload())
        self.verdict_combo.activated.connect(lambda _: self.reload())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.reload)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save the rows matching the filters as a CSV file (oldest first)")
        self.export_button.clicked.connect(self.choose_export)
        self.wrong_button = QPushButton("Mark verdict wrong…")
        self.wrong_button.setToolTip("The operator disagrees: record the opposite verdict with a note")
        self.wrong_button.clicked.connect(self.mark_selected_wrong)
        self.count_label = QLabel()

        filters = QHBoxLayout()
        filters.addWidget(QLabel("Category"))
        filters.addWidget(self.category_combo)
        filters.addWidget(QLabel("Verdict"))
        filters.addWidget(self.verdict_combo)
        filters.addSpacing(12)
        filters.addWidget(self.from_check)
        filters.addWidget(self.from_date)
        filters.addWidget(self.to_check)
        filters.addWidget(self.to_date)
        filters.addStretch(1)
        filters.addWidget(self.refresh_button)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(self.export_button)
        bottom.addWidget(self.wrong_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

    # ---- filters and loading -------------------------------------------------------------------------
    def filters(self) -> dict:
        f: dict = {}
        if self.category_combo.currentData():
            f["category"] = self.category_combo.currentData()
        if self.verdict_combo.currentData():
            f["verdict"] = self.verdict_combo.currentData()
        if self.from_check.isChecked():
            f["since"] = datetime.combine(self.from_date.date().toPython(), time.min)
        if self.to_check.isChecked():  # the "to" day is included: until the next midnight
            f["until"] = datetime.combine(self.to_date.date().toPython() + timedelta(days=1), time.min)
        return f

    def _reload_categories(self) -> None:
        current = self.category_combo.currentData()
        self.category_combo.blockSignals(True)
        self.category_combo.clear()
        self.category_combo.addItem("All categories", None)
        try:
            names = self.state.log.categories()
        except LladError:
            names = []
        for name in names:
            self.category_combo.addItem(name, name)
        i = self.category_combo.findData(current) if current else 0
        self.category_combo.setCurrentIndex(max(i, 0))
        self.category_combo.blockSignals(False)

    def reload(self) -> None:
        """Re-read the log with the current filters, keeping the selected row selected."""
        keep = self.selected_row()
        self._reload_categories()
        try:
            self.model.reload(self.filters())
        except LladError as exc:
            self.count_label.setText(f"Cannot read the log: {exc}")
            return
        if keep is not None:
            for i, r in enumerate(self.model.rows):
                if r.id == keep.id:
                    self.table.selectRow(i)
                    break
        n, total = self.model.total, self._total()
        self.count_label.setText(
            f"{n} inspection(s) match the filters" + (f" (of {total} in the log)" if total != n else "")
        )
        self._update_buttons()

    def _total(self) -> int:
        try:
            return self.state.log.count()
        except LladError:
            return 0

    def poll(self) -> None:
        """Reload when rows were added (or removed) since the last look."""
        try:
            n = self.state.log.count(**self.filters())
        except LladError:
            return
        if n != self.model.total:
            self.reload()

    # ---- actions -------------------------------------------------------------------------------------
    def selected_row(self):
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.model.rows[rows[0].row()] if rows and rows[0].row() < len(self.model.rows) else None

    def choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the inspection log", str(Path.home() / "inspections.csv"), "CSV files (*.csv)"
        )
        if path:
            self.export_csv(path)

    def export_csv(self, path: str | Path) -> int:
        """Write the rows matching the filters to ``path``; returns how many (or -1 on an error)."""
        try:
            n = self.state.log.export_csv(path, **self.filters())
        except LladError as exc:
            self.state.message.emit(str(exc))
            self.count_label.setText(f"Export failed: {exc}")
            return -1
        self.state.message.emit(f"{n} inspection(s) exported to {path}")
        self.exported.emit(str(path), n)
        return n

    def mark_selected_wrong(self) -> None:
        row = self.selected_row()
        if row is None or row.final_verdict not in OPPOSITE:
            return
        new = OPPOSITE[row.final_verdict]
        note, ok = QInputDialog.getText(
            self,
            "Mark verdict wrong",
            f"The verdict becomes {verdict_word(new)} (the model's {verdict_word(row.verdict)} is kept).\n"
            "Why? (optional note)",
        )
        if ok:
            self.mark_wrong(row.id, note)

    def mark_wrong(self, row_id: int, note: str = "") -> Verdict | None:
        """Record the opposite of the row's current verdict; back to the model's verdict withdraws the override."""
        row = self.state.log.get(row_id)
        if row is None or row.final_verdict not in OPPOSITE:
            return None
        new = OPPOSITE[row.final_verdict]
        try:
            self.state.log.set_override(row_id, None if new == row.verdict else new, note)
        except LladError as exc:
            self.state.message.emit(str(exc))
            return None
        self.reload()
        self.overrideSaved.emit(row_id, new.value)
        return new

    def _update_buttons(self) -> None:
        row = self.selected_row()
        self.wrong_button.setEnabled(row is not None and row.final_verdict in OPPOSITE)

    def shutdown(self) -> None:
        self.timer.stop()
