"""The Train page: manage categories, collect good samples, train a model in the background, and decide which
version is active.

Flow for the operator: 1. choose or create a category; 2. collect good samples (import a folder, or Ctrl+G on
the Inspect page to add the current frame); 3. click Train (the window stays usable; Cancel stops it and leaves
everything as it was); 4. read the summary and Activate the new version, or reactivate an older one.
Nothing is written until training has finished; the new version is saved inactive.

A training belongs to its category: while it runs, and until its new version is activated or the operator
picks another category, the page shows that category (samples, list, versions, "Activate <category> <version>")
even when the toolbar switched to another one; a note says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.data.sample_quality import sample_problem
from core.errors import LladError
from core.threshold_advice import tradeoff_from_calibration
from core.training import MIN_GOOD_SAMPLES, PRESETS, TrainConfig, TrainEvent, preset
from core.types import Frame, Thresholds
from core.version_text import whole_part_check_text
from llad_gui.widgets.categories import CategoryPanel
from llad_gui.widgets.gallery import SampleGallery
from llad_gui.widgets.loss_plot import LossPlot
from llad_gui.widgets.threshold_assistant import ThresholdAssistantDialog
from llad_gui.widgets.versions_table import VersionsTable
from llad_gui.widgets.versions_table import duration_text as _duration
from llad_gui.workers.tasks import run_in_pool
from llad_gui.workers.training import TopUpWorker, TrainingWorker

PRESET_CHOICES = (
    ("fast", f"Fast ({PRESETS['fast'].steps} steps, a few minutes)"),
    ("default", f"Thorough ({PRESETS['default'].steps} steps, best quality)"),
)
STAGES = {"load": "Loading images", "train": "Training", "calibrate": "Calibrating on held-out images", "done": "Done"}


class TrainPage(QWidget):
    """Categories, good samples, training and versions of the current category.

    Signals for the main window and the Inspect page:
        sampleAdded(str category, str path): a good sample was stored (``add_good_sample``, ``add_frame``).
        trainingStarted(str category), trainingFinished(str category, str version), trainingCancelled(),
        trainingFailed(str message), versionActivated(str category, str version).
    ``train_config`` (a :class:`~core.training.TrainConfig`) overrides the preset chosen in the page when set;
    ``fit_options`` are extra keyword arguments for :func:`core.training.fit`.
    """

    sampleAdded = Signal(str, str)  # noqa: N815 - Qt signal naming
    trainingStarted = Signal(str)  # noqa: N815
    trainingFinished = Signal(str, str)  # noqa: N815
    trainingCancelled = Signal()  # noqa: N815
    trainingFailed = Signal(str)  # noqa: N815
    versionActivated = Signal(str, str)  # noqa: N815

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.train_config: TrainConfig | None = None
        self.fit_options: dict = {}
        self.worker: TrainingWorker | None = None
        self.last_version: str | None = None
        self.assistant_category: str | None = None
        self.last_category: str = ""
        self.category: str = ""  # the category the page shows: the toolbar's, or the one training
        self._build()
        state.categoryChanged.connect(self._category_changed)
        state.samplesChanged.connect(lambda name: name == self.category and self.gallery.reload())
        state.versionsChanged.connect(lambda name: name == self.category and self.reload_versions())
        self._category_changed(state.category)

    def recipe(self):
        """The recipe of the category the page shows (None when there is none)."""
        return self.state.recipe(self.category) if self.category else None

    # ---- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.categories = CategoryPanel(self.state)
        cat_box = QGroupBox("1. Category")
        cat_box.setMaximumWidth(300)
        QVBoxLayout(cat_box).addWidget(self.categories)

        self.import_button = QPushButton("Import folder…")
        self.import_button.setToolTip("Copy a folder of good images in (optionally with their low-light partners)")
        self.add_files_button = QPushButton("Add image files…")
        self.import_button.clicked.connect(self.choose_import_folder)
        self.add_files_button.clicked.connect(self.choose_files)
        hint = QLabel("Or, on the Inspect page, press <b>Ctrl+G</b> to add the frame on screen as a good sample.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        self.gallery = SampleGallery()
        self.gallery.countsChanged.connect(lambda *_: self._update_buttons())
        top = QHBoxLayout()
        top.addWidget(self.import_button)
        top.addWidget(self.add_files_button)
        top.addStretch(1)
        samples_box = QGroupBox("2. Good samples")
        samples_box.setToolTip("Images of defect-free parts only, lit as on the line")
        sl = QVBoxLayout(samples_box)
        sl.addLayout(top)
        sl.addWidget(hint)
        sl.addWidget(self.gallery, 1)

        self.preset_combo = QComboBox()
        for key, label in PRESET_CHOICES:
            self.preset_combo.addItem(label, key)
        self.preset_combo.setToolTip("Fast is enough to try things out; Thorough for the model you will use")
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_combo.setMinimumContentsLength(12)
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("primaryButton")
        self.train_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("touchButton")
        self.cancel_button.setEnabled(False)
        self.train_button.clicked.connect(self.start_training)
        self.cancel_button.clicked.connect(self.cancel_training)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat("%p %")
        self.status = QLabel("Not started")
        self.status.setWordWrap(True)
        self.loss_plot = LossPlot()
        row = QHBoxLayout()
        row.addWidget(QLabel("Preset"))
        row.addWidget(self.preset_combo, 1)
        row.addWidget(self.train_button)
        row.addWidget(self.cancel_button)
        self.topup_button = QPushButton("Top up")
        self.topup_button.setToolTip("Fine-tune the active version on old and new good samples and recalibrate")
        self.topup_button.clicked.connect(lambda: self.start_training(topup=True))
        self.mask_button = QPushButton("Inspection mask…")
        self.mask_button.setToolTip("Draw the regions to inspect or ignore (applies from the next training)")
        self.mask_button.clicked.connect(self.open_mask_editor)
        more = QHBoxLayout()  # a second row: one row of five buttons is wider than the column on a 1024 px panel
        more.addWidget(self.topup_button)
        more.addWidget(self.mask_button)
        more.addStretch(1)
        train_box = QGroupBox("3. Train")
        self.train_box = train_box
        tl = QVBoxLayout(train_box)
        tl.addLayout(row)
        tl.addLayout(more)
        tl.addWidget(self.progress)
        tl.addWidget(self.status)
        tl.addWidget(self.loss_plot, 1)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.activate_new_button = QPushButton("Activate")
        self.activate_new_button.setObjectName("primaryButton")
        self.activate_new_button.clicked.connect(self.activate_new)
        self.summary_box = QGroupBox("New model")
        sb = QVBoxLayout(self.summary_box)
        sb.addWidget(self.summary)
        self.assistant_dialog = ThresholdAssistantDialog(self)  # the new version's trade-off, in its own window
        self.assistant = self.assistant_dialog.assistant
        self.assistant.thresholdChosen.connect(self._set_image_threshold)
        self.state.thresholdsChanged.connect(lambda _: self._show_thresholds())
        self.assistant_warning = QLabel()
        self.assistant_warning.setObjectName("assistantWarning")
        self.assistant_warning.setWordWrap(True)
        self.assistant_warning.hide()
        self.assistant_button = QPushButton("Threshold assistant…")
        self.assistant_button.setToolTip("Good parts rejected against synthetic defects caught, for this version")
        self.assistant_button.clicked.connect(self.assistant_dialog.show)
        sb.addWidget(self.assistant_warning)
        summary_buttons = QHBoxLayout()
        summary_buttons.addWidget(self.assistant_button)
        summary_buttons.addStretch(1)
        summary_buttons.addWidget(self.activate_new_button)
        sb.addLayout(summary_buttons)
        self.summary_box.hide()

        self.versions = VersionsTable()
        self.versions.itemSelectionChanged.connect(self._version_selected)
        self.versions.itemDoubleClicked.connect(lambda _: self.activate_selected())
        self.activate_button = QPushButton("Activate selected version")
        self.activate_button.setToolTip("Make the selected version the one the Inspect page uses")
        self.activate_button.clicked.connect(self.activate_selected)
        self.activate_button.setEnabled(False)
        versions_box = QGroupBox("4. Versions")
        versions_box.setToolTip("The active version is the one the Inspect page uses")
        self.samples_box, self.versions_box = samples_box, versions_box
        vl = QVBoxLayout(versions_box)
        vl.addWidget(self.versions, 1)
        vl.addWidget(self.activate_button, 0, Qt.AlignmentFlag.AlignRight)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(train_box, 3)
        rl.addWidget(self.summary_box)
        rl.addWidget(versions_box, 2)

        splitter = QSplitter()
        splitter.addWidget(cat_box)
        splitter.addWidget(samples_box)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 1)
        splitter.setSizes([200, 380, 440])
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        saved = self.state.settings.value("train/split")
        if saved is not None:
            splitter.restoreState(saved)
        splitter.splitterMoved.connect(lambda *_: self.state.settings.setValue("train/split", splitter.saveState()))
        self.notice = QLabel()
        self.notice.setObjectName("bannerInfo")
        self.notice.setWordWrap(True)
        self.notice.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, 1)

    # ---- category ------------------------------------------------------------------------------------
    def _category_changed(self, name: str) -> None:
        if self.is_training():
            self._update_notice()  # the page stays with the training's category until it ends
            return
        self.category = name
        self._update_notice()
        self.gallery.set_recipe(self.recipe())
        self.summary_box.hide()
        self.loss_plot.clear_curve()
        self.progress.setValue(0)
        self.status.setText("Not started" if name else "Create or choose a category first")
        self.reload_versions()

    # ---- samples -------------------------------------------------------------------------------------
    def add_good_sample(self, image_rgb: np.ndarray, lowlight_rgb: np.ndarray | None = None) -> Path | None:
        """Store an image (RGB uint8) as a good sample of the current category; returns its path or None."""
        recipe = self.state.recipe()
        if recipe is None:
            self.state.message.emit("Choose or create a category on the Train page before adding samples")
            return None
        problem = sample_problem(image_rgb)
        if problem:
            self.state.message.emit(f"not added to {recipe.name}: the image is {problem}")
            return None
        repeat = self.gallery.duplicate_of(image_rgb) if recipe.name == self.category else None
        try:
            path = recipe.add_sample(image_rgb, lowlight_rgb)
        except (LladError, OSError) as exc:
            self.state.message.emit(f"could not add the sample: {exc}")
            return None
        used = len(recipe.samples())
        note = f" — looks like a repeat of {repeat}" if repeat else ""
        self.state.message.emit(f"good sample added to {recipe.name} ({used}/{MIN_GOOD_SAMPLES}+){note}")
        if recipe.name == self.category:
            self.gallery.reload()
        self.state.samplesChanged.emit(recipe.name)
        self.sampleAdded.emit(recipe.name, str(path))
        return path

    def add_frame(self, frame: Frame) -> Path | None:
        """Add an inspected frame: a paired frame gives its well-lit image with the low-light one as partner."""
        if frame.partner is not None:
            return self.add_good_sample(frame.partner, frame.image)
        return self.add_good_sample(frame.image)

    def choose_import_folder(self) -> None:
        good = QFileDialog.getExistingDirectory(self, "Folder of good (defect-free) images")
        if not good:
            return
        low = ""
        answer = QMessageBox.question(
            self,
            "Low-light partners",
            "Do you also have low-light images of the same parts, in another folder with the same file names?",
        )
        if answer == QMessageBox.StandardButton.Yes:
            low = QFileDialog.getExistingDirectory(self, "Folder of the matching low-light images")
        self.import_folder(good, low or None)

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Good images", "", "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff)"
        )
        if paths:
            self._import(paths, [])

    def import_folder(self, good_dir, lowlight_dir=None) -> None:
        """Copy the images of ``good_dir`` (and the same-named ones of ``lowlight_dir``) in, off the GUI thread."""
        from core.data.datasets import read_paired
        from core.data.io import list_images

        if lowlight_dir:
            try:
                paired = read_paired(good_dir, lowlight_dir)
            except LladError as exc:
                self.state.message.emit(str(exc))
                return
            goods = [s.path for s in paired.pairs] + paired.only_welllit
            lows = [s.partner for s in paired.pairs]
            if paired.only_lowlight:
                self.state.message.emit(paired.report())
        else:
            goods, lows = list_images(good_dir), []
        if not goods:
            self.state.message.emit(f"{good_dir} holds no images")
            return
        self._import(goods, lows)

    def _import(self, goods, lows) -> None:
        recipe = self.recipe()
        if recipe is None:
            self.state.message.emit("Choose or create a category first")
            return
        self.import_button.setEnabled(False)

        def done(paths):
            self.import_button.setEnabled(True)
            self.gallery.reload()
            self.state.samplesChanged.emit(recipe.name)
            self.state.message.emit(f"{len(paths)} good samples imported into {recipe.name}")

        def failed(msg):
            self.import_button.setEnabled(True)
            self.gallery.reload()
            self.state.message.emit(f"import stopped: {msg}")

        run_in_pool(lambda: recipe.import_samples(goods, lows), done, failed)

    # ---- training ------------------------------------------------------------------------------------
    def is_training(self) -> bool:
        return self.worker is not None

    def config(self) -> TrainConfig:
        return self.train_config or preset(self.preset_combo.currentData())

    def start_training(self, topup: bool = False) -> bool:
        """Start training the current category (the Train / Retrain button), or with ``topup`` a top-up of its active
        version (:mod:`core.topup`); False if it cannot start."""
        recipe = self.recipe()
        if recipe is None or self.is_training():
            return False
        used = self.gallery.counts()[0]
        if used < MIN_GOOD_SAMPLES:
            self.status.setText(f"{used} good samples in use; at least {MIN_GOOD_SAMPLES} are needed to train.")
            return False
        cfg = self.config()
        self.worker = (TopUpWorker if topup else TrainingWorker)(recipe, cfg, **self.fit_options)
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)
        self.loss_plot.clear_curve()
        self.summary_box.hide()
        self.progress.setValue(0)
        self.status.setText(f"Starting ({cfg.preset} preset, {cfg.steps} steps)…")
        self.categories.set_locked(True, recipe.name)
        self._update_boxes()
        self._update_buttons()
        self.worker.start()
        self.trainingStarted.emit(recipe.name)
        return True

    def cancel_training(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling… (stops after the current step)")

    def _progress(self, ev: TrainEvent) -> None:
        if ev.stage == "train":
            # training is ~90 % of the time; loading and calibrating share the rest
            self.progress.setValue(5 + int(85 * ev.fraction))
            self.loss_plot.add_point(ev.step, ev.loss)
            self.status.setText(
                f"Training: step {ev.step} of {ev.total} · loss {ev.loss:.3f} · about {_duration(ev.eta)} left"
            )
        elif ev.stage == "load":
            self.progress.setValue(1)
            self.status.setText(f"Loading images: {ev.message}")
        elif ev.stage == "calibrate":
            self.progress.setValue(90 + int(9 * ev.fraction))
            self.status.setText(f"{STAGES['calibrate']}: {ev.message}")
        elif ev.stage == "done":
            self.progress.setValue(99)
            self.status.setText("Saving the new version…")

    def _end(self) -> None:
        self.worker = None
        self.categories.set_locked(False)
        self._update_buttons()

    def _follow_toolbar(self) -> None:
        """Back to the toolbar's category once nothing ties the page to another one."""
        if not self.is_training() and self.category != self.state.category:
            self._category_changed(self.state.category)

    def _update_notice(self) -> None:
        other = self.state.category
        away = bool(self.category) and other != self.category
        if away and self.is_training():
            text = f"Training “{self.category}”: this page stays with it until it ends. "
        elif away:
            text = f"“{self.category}” has a new version to activate. "
        else:
            text = ""
        if text:
            text += f"The toolbar and the Inspect page use “{other or 'no category'}”."
        self.notice.setText(text)
        self.notice.setVisible(bool(text))
        self._update_boxes()

    def _update_boxes(self) -> None:
        name = f" “{self.category}”" if self.category else ""
        self.train_box.setTitle(f"3. Train{name}")
        self.samples_box.setTitle(f"2. Good samples{name}")
        self.versions_box.setTitle(f"4. Versions{name}")

    def _finished(self, trained) -> None:
        recipe, version = self.worker.recipe, self.worker.version
        self._end()
        self.progress.setValue(100)
        self.last_version, self.last_category = version, recipe.name
        s = trained.stats
        self.status.setText(f"Finished in {_duration(s.get('total_seconds', float('nan')))}: {version} saved.")
        rate = s.get("synthetic_defect_detection_rate")
        rate_text = "–" if rate is None else f"{rate:.0%}"
        self.summary.setText(
            f"<b>{version}</b> is trained and saved, <b>not active yet</b>.<br>"
            f"Trained on {s.get('train_images')} images, threshold calibrated on {s.get('holdout_images')} held-out "
            f"good images; final loss {s.get('final_loss', float('nan')):.3f}; "
            f"{rate_text} of synthetic defects caught at the calibrated threshold.<br>"
            + (f"{check}<br>" if (check := whole_part_check_text(s)) else "")
            + (
                f"Calibrated for {trained.post.lighting.describe()}; frames outside that go to CHECK.<br>"
                if trained.post.lighting
                else ""
            )
            + "Activate it to inspect with it; any earlier version can be reactivated below."
        )
        self.activate_new_button.setText(f"Activate {recipe.name} {version}")
        self.assistant_category = recipe.name
        self.assistant_dialog.setWindowTitle(f"Threshold assistant: {recipe.name} {version}")
        self.assistant.set_tradeoff(tradeoff_from_calibration(trained.post))
        self._show_thresholds()
        self.summary_box.show()
        self.reload_versions()
        self.state.versionsChanged.emit(recipe.name)
        self.state.message.emit(f"{recipe.name}: {version} trained — activate it on the Train page to use it")
        self.trainingFinished.emit(recipe.name, version)

    def _show_thresholds(self) -> None:
        recipe = self.state.recipe(self.assistant_category) if self.assistant_category else None
        if recipe is not None:
            self.assistant.set_thresholds(recipe.thresholds())
        warning = self.assistant.warning.text() if recipe is not None else ""
        self.assistant_warning.setText(warning)
        self.assistant_warning.setVisible(bool(warning))

    def _set_image_threshold(self, image: float) -> None:
        """The threshold assistant's choice, for the category the new version belongs to."""
        recipe = self.state.recipe(self.assistant_category)
        if recipe is None:
            return
        t = recipe.thresholds()
        chosen = Thresholds(image, t.pixel, t.uncertain_band)
        if recipe.name == self.state.category:
            self.state.set_thresholds(chosen)  # saves it and re-decides what the Inspect page shows
        else:
            recipe.set_thresholds(chosen)
            self._show_thresholds()

    def _failed(self, message: str) -> None:
        self._end()
        self._follow_toolbar()
        self.progress.setValue(0)
        self.status.setText(f"Training failed: {message}. The active model is unchanged.")
        self.trainingFailed.emit(message)

    def _cancelled(self) -> None:
        self._end()
        self._follow_toolbar()
        self.progress.setValue(0)
        self.status.setText("Training cancelled. Nothing was saved; the active model is unchanged.")
        self.trainingCancelled.emit()

    # ---- versions ------------------------------------------------------------------------------------
    def reload_versions(self) -> None:
        error = self.versions.show_versions(self.recipe())
        if error:
            self.status.setText(error)
        self._update_buttons()

    def selected_version(self) -> str | None:
        return self.versions.selected_version()

    def _version_selected(self) -> None:
        v = self.selected_version()
        recipe = self.recipe()
        self._update_buttons()
        if v and recipe is not None and not self.is_training():
            try:
                curve = recipe.version_info(v).stats.get("loss_curve") or []
            except LladError:
                curve = []
            self.loss_plot.clear_curve()
            self.loss_plot.set_curve(curve, every=10)

    def activate_selected(self) -> None:
        v = self.selected_version()
        if v:
            self.activate_version(v)

    def activate_new(self) -> bool:
        """Activate the version the last training saved, in the category it was trained for."""
        if not self.last_version:
            return False
        return self.activate_version(self.last_version, self.last_category)

    def activate_version(self, version: str, category: str | None = None) -> bool:
        """Make ``version`` the active model of ``category`` (the page's by default); the Inspect page's model
        is reloaded when that is the toolbar's category."""
        recipe = self.state.recipe(category or self.category)
        if recipe is None:
            return False
        try:
            recipe.activate(version)
        except (LladError, OSError) as exc:
            self.state.message.emit(f"cannot activate {version}: {exc}")
            QMessageBox.warning(self, "Cannot activate", str(exc))
            return False
        if (recipe.name, version) == (self.last_category, self.last_version):
            self.summary_box.hide()
        self.reload_versions()
        if recipe.name == self.state.category:
            self.state.load_model()
        self.state.versionsChanged.emit(recipe.name)
        self.state.message.emit(f"{recipe.name}: {version} is now active")
        self.versionActivated.emit(recipe.name, version)
        self._follow_toolbar()
        return True

    # ---- state of the buttons ------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        recipe = self.recipe()
        training = self.is_training()
        used = self.gallery.counts()[0]
        has_versions = self.versions.rowCount() > 0
        self.train_button.setText("Retrain" if has_versions else "Train")
        ok = recipe is not None and not training and used >= MIN_GOOD_SAMPLES
        self.train_button.setEnabled(ok)
        if recipe is None:
            tip = "Create or choose a category first"
        elif used < MIN_GOOD_SAMPLES:
            tip = f"Needs at least {MIN_GOOD_SAMPLES} good samples in use ({used} now)"
        else:
            tip = f"Train a new version on the {used} good samples (the active model stays until you activate)"
        self.train_button.setToolTip(tip)
        self.cancel_button.setEnabled(training)
        self.topup_button.setEnabled(ok and recipe.active_version is not None)
        self.mask_button.setEnabled(recipe is not None and used > 0)
        self.preset_combo.setEnabled(not training)
        self.import_button.setEnabled(recipe is not None)
        self.add_files_button.setEnabled(recipe is not None)
        self.activate_button.setEnabled(self.selected_version() is not None and not training)

    def open_mask_editor(self):
        """Open the inspection-mask editor over the category's first good sample; returns the dialog or None."""
        from core.data.io import load_image
        from llad_gui.widgets.roi_editor import RoiEditorDialog

        recipe = self.recipe()
        samples = recipe.samples() if recipe is not None else []
        if not samples:
            return None
        self.mask_dialog = RoiEditorDialog(recipe, load_image(samples[0].path), self)
        self.mask_dialog.saved.connect(
            lambda m: self.status.setText("Inspection mask saved: it applies from the next training or top-up.")
        )
        self.mask_dialog.open()
        return self.mask_dialog

    def shutdown(self) -> None:
        """Stop a running training (nothing is saved) before the window closes."""
        if self.worker is not None:
            self.worker.shutdown()
