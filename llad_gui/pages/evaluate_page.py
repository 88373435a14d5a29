"""The Evaluate page: run the active model on a labelled folder, read the metrics, look at single images, and
choose the image threshold from evidence.

The folder is an MVTec AD category (``test/<type>/`` with ``ground_truth/`` masks) or any folder with ``good/``
and ``bad/`` sub-folders. Evaluation runs on its own thread with its own copy of the model (see
:mod:`llad_gui.workers.evaluation`). The confusion matrix and the verdicts in the table follow the *current*
thresholds, so applying a suggested threshold shows its effect at once without running the model again.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.threshold_advice import Suggestion, confusion_at, suggest_best_f1, suggest_for_false_reject
from core.types import Frame, Thresholds, Verdict
from llad_gui.widgets.lighting import LightingCombo
from llad_gui.workers.evaluation import EvaluationWorker
from llad_gui.workers.tasks import run_in_pool

COLUMNS = ("File", "Type", "Score", "Verdict")
VERDICT_COLORS = {"OK": QColor(30, 130, 60), "NG": QColor(190, 30, 30), "UNCERTAIN": QColor(200, 120, 0)}


def _fmt(x: float, none: str = "–") -> str:
    return none if x is None or not math.isfinite(x) else f"{x:.3f}"


class EvalRowsModel(QAbstractTableModel):
    """The evaluated images; verdicts are re-decided from the scores whenever the thresholds change."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows = []
        self.thresholds = Thresholds()

    def rowCount(self, parent=None) -> int:  # noqa: N802 - Qt override
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent=None) -> int:  # noqa: N802 - Qt override
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802 - Qt override
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def verdict(self, row) -> str:
        return self.thresholds.decide(row.score).value

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, c = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (Path(r.path).name, r.defect_type, f"{r.score:.3f}", self.verdict(r))[c]
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return (Path(r.path).name, r.defect_type, r.score, self.verdict(r))[c]
        if role == Qt.ItemDataRole.ForegroundRole and c == 3:
            return QBrush(VERDICT_COLORS.get(self.verdict(r), QColor(0, 0, 0)))
        if role == Qt.ItemDataRole.BackgroundRole:
            wrong = (self.verdict(r) != Verdict.OK.value) != bool(r.label)
            return QBrush(QColor(255, 235, 235)) if wrong else None
        if role == Qt.ItemDataRole.ToolTipRole:
            truth = "defective" if r.label else "good"
            return f"{r.path}\nactually {truth}; score {r.score:.3f} (1.0 = calibrated threshold)"
        if role == Qt.ItemDataRole.TextAlignmentRole and c == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def set_rows(self, rows) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def set_thresholds(self, t: Thresholds) -> None:
        self.thresholds = t
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(COLUMNS) - 1))


class OverlayDialog(QDialog):
    """One evaluated image with the anomaly heatmap and defect contours (core.visualize.overlay)."""

    def __init__(self, title: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.image = QLabel("Running the model on this image…")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(420, 420)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.caption)

    def show_array(self, rgb: np.ndarray, caption: str) -> None:
        rgb = np.ascontiguousarray(rgb)
        h, w = rgb.shape[:2]
        qimg = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888).copy()
        pix = QPixmap.fromImage(qimg)
        side = max(self.image.width(), self.image.height(), 420) - 8
        pix = pix.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.image.setPixmap(pix)
        self.caption.setText(caption)


class EvaluatePage(QWidget):
    """Evaluation of the current category's active model on a labelled folder.

    Signals: ``evaluationFinished(object report)``, ``evaluationFailed(str)``, ``evaluationCancelled()``.
    Public: ``run(folder=None)``, ``cancel()``, ``suggest()``, ``apply_suggestion()``, ``open_row(row)``.
    """

    evaluationFinished = Signal(object)  # noqa: N815 - Qt signal naming
    evaluationFailed = Signal(str)  # noqa: N815
    evaluationCancelled = Signal()  # noqa: N815

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.worker: EvaluationWorker | None = None
        self.report = None
        self.suggestion: Suggestion | None = None
        self.dialog: OverlayDialog | None = None
        self._run_text = ""
        self._build()
        state.categoryChanged.connect(lambda _: self._category_changed())
        state.versionsChanged.connect(lambda _: self._update_buttons())
        state.modelChanged.connect(self._update_buttons)
        state.thresholdsChanged.connect(self._thresholds_changed)
        self.rows_model.set_thresholds(state.thresholds)
        self._update_buttons()

    # ---- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.folder_edit = QLineEdit(str(self.state.settings.value("evaluate/folder", "") or ""))
        self.folder_edit.setPlaceholderText("A labelled folder: MVTec layout (test/…, ground_truth/…) or good/ + bad/")
        self.folder_edit.textChanged.connect(lambda _: self._update_buttons())
        browse = QPushButton("Choose folder…")
        browse.clicked.connect(self.choose_folder)
        self.mode_combo = LightingCombo(
            "How images are fed to the model; Automatic decides from each image's brightness"
        )
        self.lowlight_check = QCheckBox("Make test images low-light, strength")
        self.lowlight_check.setToolTip(
            "Darken every test image synthetically (seeded) to see how the model copes with poor light"
        )
        self.strength_spin = QDoubleSpinBox()
        self.strength_spin.setRange(0.1, 1.0)
        self.strength_spin.setSingleStep(0.1)
        self.strength_spin.setValue(0.7)
        self.strength_spin.setEnabled(False)
        self.lowlight_check.toggled.connect(self.strength_spin.setEnabled)
        self.run_button = QPushButton("Evaluate")
        self.run_button.setObjectName("primaryButton")
        self.run_button.clicked.connect(lambda: self.run())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.status.setWordWrap(True)

        top = QGridLayout()
        top.addWidget(QLabel("Test folder"), 0, 0)
        top.addWidget(self.folder_edit, 0, 1, 1, 4)
        top.addWidget(browse, 0, 5)
        top.addWidget(QLabel("Input mode"), 1, 0)
        top.addWidget(self.mode_combo, 1, 1)
        lowlight = QHBoxLayout()
        lowlight.addWidget(self.lowlight_check)
        lowlight.addWidget(self.strength_spin)
        lowlight.addStretch(1)
        top.addLayout(lowlight, 1, 2, 1, 2)
        top.addWidget(self.run_button, 1, 4)
        top.addWidget(self.cancel_button, 1, 5)
        top.addWidget(self.progress, 2, 0, 1, 6)
        top.addWidget(self.status, 3, 0, 1, 6)
        top.setColumnStretch(2, 1)
        run_box = QGroupBox("Labelled test set")
        run_box.setLayout(top)

        self.metric_labels: dict[str, QLabel] = {}
        metrics = QFormLayout()
        for key, label, tip in (
            ("image_auroc", "Image AUROC", "How well scores separate good from defective parts (1.0 = perfectly)"),
            ("pixel_auroc", "Pixel AUROC", "How well the heatmap finds defect pixels (needs ground-truth masks)"),
            ("aupro", "AUPRO", "Share of each defect region found, averaged over regions (needs masks)"),
            ("f1", "F1 at threshold", "Balance of caught defects and false alarms at the current threshold"),
            ("counts", "Images", ""),
            ("speed", "Speed", ""),
        ):
            value = QLabel("–")
            value.setObjectName("metricValue")
            value.setToolTip(tip)
            name = QLabel(label)
            name.setToolTip(tip)
            metrics.addRow(name, value)
            self.metric_labels[key] = value
        self.confusion_caption = QLabel("Confusion at the current threshold")
        self.confusion_cells: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.addWidget(QLabel(""), 0, 0)
        grid.addWidget(QLabel("<b>passed (OK)</b>"), 0, 1)
        grid.addWidget(QLabel("<b>rejected (NG / uncertain)</b>"), 0, 2)
        for r, (truth, keys) in enumerate(((" good parts", ("tn", "fp")), (" defective parts", ("fn", "tp"))), 1):
            grid.addWidget(QLabel(f"<b>{truth}</b>"), r, 0)
            for c, key in enumerate(keys, 1):
                cell = QLabel("–")
                cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
                cell.setMinimumWidth(70)
                good_cell = key in ("tn", "tp")
                cell.setStyleSheet(
                    f"background: {'#e3f3e6' if good_cell else '#fbe3e3'}; padding: 6px; font-size: 15px;"
                )
                cell.setToolTip(
                    {
                        "tn": "good parts passed (right)",
                        "fp": "good parts rejected (false rejects)",
                        "fn": "defective parts passed (escapes!)",
                        "tp": "defective parts rejected (right)",
                    }[key]
                )
                grid.addWidget(cell, r, c)
                self.confusion_cells[key] = cell
        results_box = QGroupBox("Results")
        rl = QVBoxLayout(results_box)
        rl.addLayout(metrics)
        rl.addWidget(self.confusion_caption)
        rl.addLayout(grid)

        self.frr_radio = QRadioButton("Reject at most")
        self.f1_radio = QRadioButton("Best F1 (balance escapes and false rejects)")
        self.frr_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.frr_radio)
        group.addButton(self.f1_radio)
        self.frr_spin = QDoubleSpinBox()
        self.frr_spin.setRange(0.0, 50.0)
        self.frr_spin.setDecimals(1)
        self.frr_spin.setSingleStep(0.5)
        self.frr_spin.setValue(1.0)
        self.frr_spin.setSuffix(" % of good parts")
        self.suggest_button = QPushButton("Suggest threshold")
        self.suggest_button.clicked.connect(self.suggest)
        self.suggestion_label = QLabel("Run an evaluation, then ask for a suggestion.")
        self.suggestion_label.setWordWrap(True)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Use this image threshold for inspection (pixel threshold and band are kept)")
        self.apply_button.clicked.connect(self.apply_suggestion)
        frr_row = QHBoxLayout()
        frr_row.addWidget(self.frr_radio)
        frr_row.addWidget(self.frr_spin)
        frr_row.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.suggest_button)
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        suggest_box = QGroupBox("Choose the threshold")
        sl = QVBoxLayout(suggest_box)
        sl.addLayout(frr_row)
        sl.addWidget(self.f1_radio)
        sl.addLayout(buttons)
        sl.addWidget(self.suggestion_label)

        self.rows_model = EvalRowsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.rows_model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by file, type or verdict…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda idx: self.open_row(idx.row()))
        table_hint = QLabel(
            "Score: 0 ≈ a typical good part, 1.0 = the calibrated threshold. Red rows are wrong at the current "
            "threshold. Double-click an image to see where the model found something."
        )
        table_hint.setWordWrap(True)
        table_hint.setObjectName("hint")
        table_box = QGroupBox("Images")
        tl = QVBoxLayout(table_box)
        tl.addWidget(self.filter_edit)
        tl.addWidget(self.table, 1)
        tl.addWidget(table_hint)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(results_box)
        ll.addWidget(suggest_box)
        ll.addStretch(1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(table_box)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([480, 800])
        layout = QVBoxLayout(self)
        self.setStyleSheet(
            "QPushButton#primaryButton:disabled { background: #b0bec5; color: #eceff1; border-color: #90a4ae; }"
        )
        layout.addWidget(run_box)
        layout.addWidget(splitter, 1)

    # ---- running -------------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Labelled test folder", self.folder_edit.text())
        if path:
            self.folder_edit.setText(path)

    def settings(self) -> dict:
        return {
            "mode": self.mode_combo.mode(),
            "lowlight_strength": self.strength_spin.value() if self.lowlight_check.isChecked() else None,
        }

    def run(self, folder: str | Path | None = None) -> bool:
        """Start evaluating ``folder`` (default: the folder field); False if it cannot start."""
        if folder is not None:
            self.folder_edit.setText(str(folder))
        folder = self.folder_edit.text().strip()
        recipe = self.state.recipe()
        if self.worker is not None or recipe is None or not folder:
            return False
        if recipe.active_version is None:
            self.status.setText("This category has no active model: train and activate one on the Train page.")
            return False
        self.state.settings.setValue("evaluate/folder", folder)
        opts = self.settings()
        self._run_text = f" Mode: {self.mode_combo.currentText().lower()}" + (
            f", test images darkened (strength {opts['lowlight_strength']:.1f})." if opts["lowlight_strength"] else "."
        )
        self.worker = EvaluationWorker(recipe, folder, self.state.thresholds, **self.settings())
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)
        self.progress.setRange(0, 0)  # busy until the first count arrives (model loading)
        self.status.setText(f"Loading the model of {recipe.name} ({recipe.active_version})…")
        self.worker.start()
        self._update_buttons()
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Cancelling…")

    def _progress(self, value) -> None:
        done, total = value
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status.setText(f"Evaluating: {done} of {total} images")

    def _end(self) -> None:
        self.worker = None
        self.progress.setRange(0, 100)
        self._update_buttons()

    def _finished(self, report) -> None:
        settings = self._run_text
        self._end()
        self.progress.setValue(100)
        self.report = report
        self.suggestion = None
        self.rows_model.set_rows(report.rows)
        self.table.sortByColumn(
            self.table.horizontalHeader().sortIndicatorSection(), self.table.horizontalHeader().sortIndicatorOrder()
        )
        c = report.counts
        m = self.metric_labels
        m["image_auroc"].setText(_fmt(report.image_auroc))
        masks = math.isfinite(report.pixel_auroc)
        m["pixel_auroc"].setText(_fmt(report.pixel_auroc) if masks else "– (no masks)")
        m["aupro"].setText(_fmt(report.aupro) if masks else "– (no masks)")
        m["counts"].setText(
            f"{c['good']} good, {c['defective']} defective"
            + (f", {c['unreadable']} unreadable" if c["unreadable"] else "")
        )
        m["speed"].setText(f"{report.ms_per_image:.0f} ms per image")
        self._update_confusion()
        self.suggestion_label.setText("Choose a target and press Suggest threshold.")
        errors = f" {len(report.errors)} file(s) could not be read: {report.errors[0]}" if report.errors else ""
        self.status.setText(f"Done: {len(report.rows)} images evaluated.{settings}{errors}")
        self.evaluationFinished.emit(report)

    def _failed(self, message: str) -> None:
        self._end()
        self.status.setText(f"Evaluation failed: {message}")
        self.evaluationFailed.emit(message)

    def _cancelled(self) -> None:
        self._end()
        self.status.setText("Evaluation cancelled.")
        self.evaluationCancelled.emit()

    # ---- thresholds ----------------------------------------------------------------------------------
    def _scores_labels(self):
        rows = self.rows_model.rows
        return np.array([r.score for r in rows], float), np.array([r.label for r in rows], bool)

    def _update_confusion(self) -> None:
        if not self.rows_model.rows:
            return
        scores, labels = self._scores_labels()
        t = self.state.thresholds
        conf = confusion_at(scores, labels, t)
        for key, cell in self.confusion_cells.items():
            cell.setText(str(conf[key]))
        p = conf["tp"] / max(conf["tp"] + conf["fp"], 1)
        r = conf["tp"] / max(conf["tp"] + conf["fn"], 1)
        self.metric_labels["f1"].setText(f"{2 * p * r / max(p + r, 1e-12):.3f}")
        self.confusion_caption.setText(f"<b>Confusion at image threshold {t.image:.3f}</b> (1.0 = calibrated)")

    def _thresholds_changed(self, t: Thresholds) -> None:
        self.rows_model.set_thresholds(t)
        self._update_confusion()

    def suggest(self) -> Suggestion | None:
        """Suggest an image threshold for the chosen target from the last evaluation."""
        if not self.rows_model.rows:
            return None
        scores, labels = self._scores_labels()
        band = self.state.thresholds.uncertain_band
        try:
            if self.f1_radio.isChecked():
                s = suggest_best_f1(scores, labels, band)
            else:
                s = suggest_for_false_reject(scores, labels, self.frr_spin.value() / 100.0, band)
        except ValueError as exc:
            self.suggestion = None
            self.suggestion_label.setText(str(exc))
            self._update_buttons()
            return None
        self.suggestion = s
        self.suggestion_label.setText(
            f"Suggested image threshold <b>{s.threshold:.3f}</b> ({s.reason}). On this set it rejects "
            f"{s.false_reject_rate:.1%} of good parts and lets {s.miss_rate:.1%} of defective parts pass; "
            f"F1 {s.f1:.3f}. Now: {self.state.thresholds.image:.3f}."
        )
        self._update_buttons()
        return s

    def apply_suggestion(self) -> None:
        if self.suggestion is None:
            return
        t = self.state.thresholds
        self.state.set_thresholds(Thresholds(self.suggestion.threshold, t.pixel, t.uncertain_band))
        self.state.message.emit(f"image threshold set to {self.suggestion.threshold:.3f}")
        self._update_buttons()

    # ---- single image --------------------------------------------------------------------------------
    def open_row(self, proxy_row: int) -> OverlayDialog | None:
        """Show the image of a table row (a row of the sorted view) with its heatmap overlay."""
        report = self.report
        predictor = getattr(report, "predictor", None)
        if report is None or predictor is None:
            return None
        src = self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row()
        row = self.rows_model.rows[src]
        paths = [str(s.path) for s in getattr(report, "samples", [])]
        index = paths.index(row.path) if row.path in paths else 0
        settings = self.settings()
        thresholds = self.state.thresholds
        self.dialog = OverlayDialog(Path(row.path).name, self)
        self.dialog.resize(720, 720)
        self.dialog.show()

        def work():
            from core.data.io import load_image
            from core.data.lowlight import synthesize_lowlight
            from core.visualize import overlay

            img = load_image(row.path)
            if settings["lowlight_strength"] is not None:  # the same seeded darkening as the evaluation
                img, _ = synthesize_lowlight(img, settings["lowlight_strength"], 1234 + index)
            result = predictor.predict(Frame(img, source="eval", ref=row.path), settings["mode"])
            return overlay(img, result.anomaly_map, pixel_threshold=thresholds.pixel), result

        dialog = self.dialog

        def done(out):
            rgb, result = out
            truth = f"defective ({row.defect_type})" if row.label else "good"
            dialog.show_array(
                rgb,
                f"<b>Actually {truth}</b> · score {result.score:.3f} → "
                f"<b>{thresholds.decide(result.score).value}</b> at image threshold {thresholds.image:.3f}.<br>"
                "Colours: blue = like the good samples, red = unlike them; outlined: regions over the pixel "
                "threshold.",
            )

        run_in_pool(work, done, lambda msg: dialog.caption.setText(f"could not show the image: {msg}"))
        return self.dialog

    # ---- state ---------------------------------------------------------------------------------------
    def _category_changed(self) -> None:
        self.report = None
        self.suggestion = None
        self.rows_model.set_rows([])
        for label in self.metric_labels.values():
            label.setText("–")
        for cell in self.confusion_cells.values():
            cell.setText("–")
        self.suggestion_label.setText("Run an evaluation, then ask for a suggestion.")
        self._update_buttons()

    def _update_buttons(self) -> None:
        recipe = self.state.recipe()
        running = self.worker is not None
        has_model = recipe is not None and recipe.active_version is not None
        self.run_button.setEnabled(not running and has_model and bool(self.folder_edit.text().strip()))
        self.cancel_button.setEnabled(running)
        self.suggest_button.setEnabled(bool(self.rows_model.rows) and not running)
        self.apply_button.setEnabled(
            self.suggestion is not None and self.suggestion.threshold != self.state.thresholds.image
        )
        if not running and not has_model:
            self.status.setText(
                "Choose a category with an active model (Train page) to evaluate it."
                if recipe is None
                else f"{recipe.name} has no active model yet: train and activate one on the Train page."
            )
        elif not running and not self.report and not self.folder_edit.text().strip():
            self.status.setText("Choose a labelled folder: MVTec layout, or a folder with good/ and bad/ inside.")

    def shutdown(self) -> None:
        if self.worker is not None:
            self.worker.shutdown()
