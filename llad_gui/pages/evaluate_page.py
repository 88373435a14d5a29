"""The Evaluate page: run the active model on a labelled folder, read the metrics, look at single images, and
choose the image threshold from evidence: the calibration's trade-off (threshold assistant) or the test set.

The folder is an MVTec AD category (``test/<type>/`` with ``ground_truth/`` masks) or any folder with ``good/``
and ``bad/`` sub-folders. Evaluation runs on its own thread (:mod:`llad_gui.workers.evaluation`) and returns a
:class:`core.evaluation_run.EvaluationRun`, which does the maths; this page only lays it out. The confusion grid,
the verdicts in the table and the assistant's operating point follow the *current* thresholds, so applying a
threshold shows its effect at once without running the model again.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import LladError
from core.evaluation_run import EvaluationRun, EvaluationSettings
from core.threshold_advice import Suggestion, TradeOff, tradeoff_from_version
from core.types import Thresholds
from llad_gui.widgets.eval_results import ConfusionGrid, EvalRowsModel, OverlayDialog, SuggestPanel
from llad_gui.widgets.layouts import row, splitter
from llad_gui.widgets.lighting import LightingCombo
from llad_gui.widgets.threshold_assistant import ThresholdAssistant
from llad_gui.workers.evaluation import EvaluationWorker
from llad_gui.workers.tasks import run_in_pool

NO_RUN_HINT = "Run an evaluation, then ask for a suggestion."
METRICS = (
    ("image_auroc", "Image AUROC", "How well scores separate good from defective parts (1.0 = perfectly)"),
    ("pixel_auroc", "Pixel AUROC", "How well the heatmap finds defect pixels (needs ground-truth masks)"),
    ("aupro", "AUPRO", "Share of each defect region found, averaged over regions (needs masks)"),
    ("f1", "F1 at threshold", "Balance of caught defects and false alarms at the current threshold"),
    ("counts", "Images", ""),
    ("speed", "Speed", ""),
)


def _fmt(x: float | None, none: str = "–") -> str:
    return none if x is None or not math.isfinite(x) else f"{x:.3f}"


class EvaluatePage(QWidget):
    """Evaluation of the current category's active model on a labelled folder.

    Signals: ``evaluationFinished(EvaluationRun)``, ``evaluationFailed(str)``, ``evaluationCancelled()``.
    Public: ``run(folder=None)``, ``cancel()``, ``suggest()``, ``apply_suggestion()``, ``open_row(row)``.
    """

    evaluationFinished = Signal(object)  # noqa: N815 - Qt signal naming
    evaluationFailed = Signal(str)  # noqa: N815
    evaluationCancelled = Signal()  # noqa: N815

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.worker: EvaluationWorker | None = None
        self.evaluation: EvaluationRun | None = None
        self.calibration: TradeOff | None = None
        self.suggestion: Suggestion | None = None
        self.dialog: OverlayDialog | None = None
        self._build()
        state.categoryChanged.connect(lambda _: self._category_changed())
        state.versionsChanged.connect(lambda _: self._model_changed())
        state.modelChanged.connect(self._model_changed)
        state.thresholdsChanged.connect(self._thresholds_changed)
        self.rows_model.set_thresholds(state.thresholds)
        self._model_changed()

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
        lowlight = row(self.lowlight_check, self.strength_spin)
        top.addLayout(lowlight, 1, 2, 1, 2)
        top.addWidget(self.run_button, 1, 4)
        top.addWidget(self.cancel_button, 1, 5)
        top.addWidget(self.status, 2, 0, 1, 4)  # one row for both: height a 768 px panel needs for the assistant
        top.addWidget(self.progress, 2, 4, 1, 2)
        top.setColumnStretch(2, 1)
        run_box = QGroupBox("Labelled test set")
        run_box.setLayout(top)

        self.metric_labels: dict[str, QLabel] = {}
        metrics = QGridLayout()  # two columns of metrics: half the height of one
        for i, (key, label, tip) in enumerate(METRICS):
            value = QLabel("–")
            value.setObjectName("metricValue")
            value.setToolTip(tip)
            name = QLabel(label)
            name.setToolTip(tip)
            r, col = i % ((len(METRICS) + 1) // 2), 2 * (i // ((len(METRICS) + 1) // 2))
            metrics.addWidget(name, r, col)
            metrics.addWidget(value, r, col + 1)
            self.metric_labels[key] = value
        metrics.setColumnStretch(1, 1)
        metrics.setColumnStretch(3, 1)
        self.confusion_caption = QLabel("Confusion at the current threshold")
        self.confusion = ConfusionGrid()
        self.confusion_cells = self.confusion.cells
        results_box = QGroupBox("Results")
        rl = QVBoxLayout(results_box)
        rl.addLayout(metrics)
        rl.addWidget(self.confusion_caption)
        rl.addWidget(self.confusion)

        self.assistant = ThresholdAssistant()
        self.assistant.thresholdChosen.connect(self._set_image_threshold)
        self.threshold_tabs = QTabWidget()
        self.threshold_tabs.addTab(self.assistant, "Assistant (calibration)")
        panel = SuggestPanel(NO_RUN_HINT)
        self.frr_radio, self.f1_radio, self.frr_spin = panel.frr_radio, panel.f1_radio, panel.frr_spin
        self.suggest_button, self.apply_button = panel.suggest_button, panel.apply_button
        self.suggestion_label = panel.suggestion_label
        self.suggest_button.clicked.connect(self.suggest)
        self.apply_button.clicked.connect(self.apply_suggestion)
        self.threshold_tabs.addTab(panel, "From this test set")
        threshold_box = QGroupBox("Choose the threshold")
        QVBoxLayout(threshold_box).addWidget(self.threshold_tabs)

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
        self.table.setMinimumHeight(60)  # the results sit above it: on a 768 px panel the table takes what is left
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

        right = QWidget()  # the results above the images they count: the left column keeps its height for the plot
        rl2 = QVBoxLayout(right)
        rl2.setContentsMargins(0, 0, 0, 0)
        rl2.addWidget(results_box)
        rl2.addWidget(table_box, 1)
        split = splitter([threshold_box, right], (0, 1), (480, 800))
        layout = QVBoxLayout(self)
        layout.addWidget(run_box)
        layout.addWidget(split, 1)

    # ---- running -------------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Labelled test folder", self.folder_edit.text())
        if path:
            self.folder_edit.setText(path)

    def settings(self) -> EvaluationSettings:
        strength = self.strength_spin.value() if self.lowlight_check.isChecked() else None
        return EvaluationSettings(self.mode_combo.mode(), strength)

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
        self.worker = EvaluationWorker(recipe, folder, self.state.thresholds, self.settings())
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

    def _finished(self, evaluation: EvaluationRun) -> None:
        self.evaluation = evaluation  # first: the buttons below are refreshed from it
        self.suggestion = None
        self.rows_model.set_rows(evaluation.rows)
        self._end()
        self.progress.setValue(100)
        header = self.table.horizontalHeader()
        self.table.sortByColumn(header.sortIndicatorSection(), header.sortIndicatorOrder())
        report, m = evaluation.report, self.metric_labels
        m["image_auroc"].setText(_fmt(report.image_auroc))
        m["pixel_auroc"].setText(_fmt(report.pixel_auroc) if evaluation.has_masks else "– (no masks)")
        m["aupro"].setText(_fmt(report.aupro) if evaluation.has_masks else "– (no masks)")
        m["counts"].setText(evaluation.counts_text())
        m["speed"].setText(f"{report.ms_per_image:.0f} ms per image")
        self._thresholds_changed(self.state.thresholds)
        self._show_tradeoff()
        self.suggestion_label.setText("Choose a target and press Suggest threshold.")
        self.status.setText(evaluation.summary())
        self.evaluationFinished.emit(evaluation)

    def _failed(self, message: str) -> None:
        self._end()
        self.status.setText(f"Evaluation failed: {message}")
        self.evaluationFailed.emit(message)

    def _cancelled(self) -> None:
        self._end()
        self.status.setText("Evaluation cancelled.")
        self.evaluationCancelled.emit()

    # ---- thresholds ----------------------------------------------------------------------------------
    def _thresholds_changed(self, t: Thresholds) -> None:
        self.rows_model.set_thresholds(t)
        self.assistant.set_thresholds(t)
        if self.evaluation is not None:
            self.confusion.set_counts(self.evaluation.confusion(t))
            self.metric_labels["f1"].setText(_fmt(self.evaluation.f1(t)))
            self.confusion_caption.setText(f"<b>Confusion at image threshold {t.image:.3f}</b> (1.0 = calibrated)")
        if self.suggestion is not None:
            self.suggestion_label.setText(self._suggestion_text(self.suggestion))
        self._update_buttons()

    def _suggestion_text(self, s: Suggestion) -> str:
        return (
            f"Suggested image threshold <b>{s.threshold:.3f}</b> ({s.reason}). On this set it rejects "
            f"{s.false_reject_rate:.1%} of good parts and lets {s.miss_rate:.1%} of defective parts pass; "
            f"F1 {s.f1:.3f}. Now: {self.state.thresholds.image:.3f}."
        )

    def suggest(self) -> Suggestion | None:
        """Suggest an image threshold for the chosen target from the last evaluation."""
        if self.evaluation is None:
            return None
        rate = None if self.f1_radio.isChecked() else self.frr_spin.value() / 100.0
        try:
            self.suggestion = self.evaluation.suggest(self.state.thresholds.uncertain_band, rate)
        except ValueError as exc:
            self.suggestion = None
            self.suggestion_label.setText(str(exc))
        else:
            self.suggestion_label.setText(self._suggestion_text(self.suggestion))
        self._update_buttons()
        return self.suggestion

    def apply_suggestion(self) -> None:
        if self.suggestion is not None:
            self._set_image_threshold(self.suggestion.threshold)

    def _set_image_threshold(self, image: float) -> None:
        t = self.state.thresholds
        self.state.set_thresholds(Thresholds(image, t.pixel, t.uncertain_band))
        self.state.message.emit(f"image threshold set to {image:.3f}")

    def _show_tradeoff(self) -> None:
        """The active version's calibration trade-off, with the last evaluation's test set beside it."""
        if self.calibration is None:
            self.assistant.set_tradeoff(None)
            return
        reference = self.evaluation.reference_set() if self.evaluation is not None else None
        self.assistant.set_tradeoff(TradeOff(self.calibration.sets, reference))

    # ---- single image --------------------------------------------------------------------------------
    def open_row(self, proxy_row: int) -> OverlayDialog | None:
        """Show the image of a table row (a row of the sorted view) with its heatmap overlay."""
        evaluation = self.evaluation
        if evaluation is None:
            return None
        row = self.rows_model.rows[self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row()]
        thresholds = self.state.thresholds
        dialog = self.dialog = OverlayDialog(Path(row.path).name, self)
        dialog.resize(720, 720)
        dialog.show()
        run_in_pool(
            lambda: evaluation.show_row(row, thresholds),
            lambda view: dialog.show_array(view.image, view.caption),
            lambda msg: dialog.caption.setText(f"could not show the image: {msg}"),
        )
        return dialog

    # ---- state ---------------------------------------------------------------------------------------
    def _category_changed(self) -> None:
        self.evaluation = None
        self.suggestion = None
        self.rows_model.set_rows([])
        for label in self.metric_labels.values():
            label.setText("–")
        self.confusion.set_counts(None)
        self.suggestion_label.setText(NO_RUN_HINT)
        self._model_changed()

    def _model_changed(self) -> None:
        """Read the active version's calibration scores (model.json only, no weights) for the assistant."""
        recipe = self.state.recipe()
        self.calibration = None
        if recipe is not None and recipe.active_version is not None:
            try:
                self.calibration = tradeoff_from_version(recipe.versions_dir / recipe.active_version)
            except (LladError, OSError, KeyError, ValueError) as exc:
                self.state.message.emit(f"threshold assistant: could not read the calibration: {exc}")
        self._show_tradeoff()
        self._update_buttons()

    def _update_buttons(self) -> None:
        recipe = self.state.recipe()
        running = self.worker is not None
        has_model = recipe is not None and recipe.active_version is not None
        self.run_button.setEnabled(not running and has_model and bool(self.folder_edit.text().strip()))
        self.cancel_button.setEnabled(running)
        self.suggest_button.setEnabled(self.evaluation is not None and not running)
        self.apply_button.setEnabled(
            self.suggestion is not None and self.suggestion.threshold != self.state.thresholds.image
        )
        if not running and not has_model:
            self.status.setText(
                "Choose a category with an active model (Train page) to evaluate it."
                if recipe is None
                else f"{recipe.name} has no active model yet: train and activate one on the Train page."
            )
        elif not running and self.evaluation is None and not self.folder_edit.text().strip():
            self.status.setText("Choose a labelled folder: MVTec layout, or a folder with good/ and bad/ inside.")

    def shutdown(self) -> None:
        if self.worker is not None:
            self.worker.shutdown()
