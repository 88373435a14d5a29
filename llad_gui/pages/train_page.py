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

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QLabel, QMessageBox, QVBoxLayout, QWidget

from core.errors import LladError
from core.training import MIN_GOOD_SAMPLES, TrainConfig, preset
from core.training_words import duration_text
from llad_gui.pages.train_samples import SamplesPanel
from llad_gui.widgets.categories import CategoryPanel
from llad_gui.widgets.layouts import remember_proportions, splitter
from llad_gui.widgets.new_model_box import NewModelBox
from llad_gui.widgets.training_panel import TrainingPanel
from llad_gui.widgets.versions_table import VersionsBox
from llad_gui.workers.training import TopUpWorker, TrainingWorker


class TrainPage(QWidget):
    """Categories, good samples, training and versions of the current category: it wires
    :class:`~llad_gui.pages.train_samples.SamplesPanel`, :class:`~llad_gui.widgets.training_panel.TrainingPanel`,
    :class:`~llad_gui.widgets.new_model_box.NewModelBox` and :class:`~llad_gui.widgets.versions_table.VersionsBox`
    to the training worker and the recipes.

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
        self.category: str = ""  # the category the page shows: the toolbar's, or the one training
        self._build()
        state.categoryChanged.connect(self._category_changed)
        state.samplesChanged.connect(lambda name: name == self.category and self.gallery.reload())
        state.versionsChanged.connect(lambda name: name == self.category and self.reload_versions())
        self._category_changed(state.category)

    def recipe(self):
        """The recipe of the category the page shows (None when there is none)."""
        return self.state.recipe(self.category) if self.category else None

    # the new version's category and name (the one "Activate <category> <version>" activates)
    last_category = property(lambda self: self.new_model.category or "")
    last_version = property(lambda self: self.new_model.version)

    # ---- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.categories = CategoryPanel(self.state)
        cat_box = QGroupBox("1. Category")
        cat_box.setMaximumWidth(300)
        QVBoxLayout(cat_box).addWidget(self.categories)
        self.samples_box = SamplesPanel(self.state)
        self.samples_box.sampleAdded.connect(self.sampleAdded)
        self.train_box = TrainingPanel()
        self.new_model = NewModelBox(self.state)
        self.versions_box = VersionsBox()
        # the parts tests and the main window reach for
        self.gallery, self.import_button = self.samples_box.gallery, self.samples_box.import_button
        self.add_good_sample, self.add_frame = self.samples_box.add_good_sample, self.samples_box.add_frame
        self.import_folder = self.samples_box.import_folder
        t = self.train_box
        self.preset_combo, self.train_button, self.cancel_button = t.preset_combo, t.train_button, t.cancel_button
        self.topup_button, self.mask_button = t.topup_button, t.mask_button
        self.progress, self.status, self.loss_plot = t.progress, t.status, t.loss_plot
        n = self.new_model
        self.summary_box, self.summary, self.activate_new_button = n, n.summary, n.activate_button
        self.assistant_dialog, self.assistant, self.assistant_button = (
            n.assistant_dialog,
            n.assistant,
            n.assistant_button,
        )
        self.assistant_warning = n.warning
        self.versions, self.activate_button = self.versions_box.table, self.versions_box.activate_button

        self.gallery.countsChanged.connect(lambda *_: self._update_buttons())
        t.train_button.clicked.connect(self.start_training)
        t.cancel_button.clicked.connect(self.cancel_training)
        t.topup_button.clicked.connect(lambda: self.start_training(topup=True))
        t.mask_button.clicked.connect(self.open_mask_editor)
        n.activate_button.clicked.connect(self.activate_new)
        self.versions.itemSelectionChanged.connect(self._version_selected)
        self.versions.itemDoubleClicked.connect(lambda _: self.activate_selected())
        self.activate_button.clicked.connect(self.activate_selected)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.train_box, 3)
        rl.addWidget(self.new_model)
        rl.addWidget(self.versions_box, 2)
        self.splitter = splitter([cat_box, self.samples_box, right], (0, 1, 1), (200, 380, 440))
        remember_proportions(self.splitter, self.state.settings, "train/split")
        self.notice = QLabel()
        self.notice.setObjectName("bannerInfo")
        self.notice.setWordWrap(True)
        self.notice.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.splitter, 1)

    # ---- category ------------------------------------------------------------------------------------
    def _category_changed(self, name: str) -> None:
        if self.is_training():
            self._update_notice()  # the page stays with the training's category until it ends
            return
        self.category = name
        self._update_notice()
        self.samples_box.show_recipe(self.recipe())
        self.summary_box.hide()
        self.train_box.reset("Not started" if name else "Create or choose a category first")
        self.reload_versions()

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
        self.train_box.set_category(self.category)
        self.samples_box.setTitle(f"2. Good samples “{self.category}”" if self.category else "2. Good samples")
        self.versions_box.set_category(self.category)

    # ---- training ------------------------------------------------------------------------------------
    def is_training(self) -> bool:
        return self.worker is not None

    def config(self) -> TrainConfig:
        return self.train_config or preset(self.train_box.preset())

    def start_training(self, topup: bool = False) -> bool:
        """Start training the current category (the Train / Retrain button), or with ``topup`` a top-up of its active
        version (:mod:`core.topup`); False if it cannot start."""
        recipe = self.recipe()
        if recipe is None or self.is_training():
            return False
        used = self.samples_box.in_use()
        if used < MIN_GOOD_SAMPLES:
            self.status.setText(f"{used} good samples in use; at least {MIN_GOOD_SAMPLES} are needed to train.")
            return False
        cfg = self.config()
        self.worker = (TopUpWorker if topup else TrainingWorker)(recipe, cfg, **self.fit_options)
        self.worker.progress.connect(self.train_box.show_event)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)
        self.summary_box.hide()
        what = "Topping up the active version" if topup else f"Starting ({cfg.preset} preset, {cfg.steps} steps)"
        self.train_box.reset(f"{what}…")
        self.categories.set_locked(True, recipe.name)
        self._update_notice()
        self._update_buttons()
        self.worker.start()
        self.trainingStarted.emit(recipe.name)
        return True

    def cancel_training(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling… (stops after the current step)")

    def _end(self) -> None:
        self.worker = None
        self.categories.set_locked(False)
        self._update_buttons()

    def _finished(self, trained) -> None:
        recipe, version = self.worker.recipe, self.worker.version
        self._end()
        self.progress.setValue(100)
        seconds = trained.stats.get("total_seconds", float("nan"))
        self.status.setText(f"Finished in {duration_text(seconds)}: {version} saved.")
        self.new_model.show_version(recipe.name, version, trained)
        self.reload_versions()
        self.state.versionsChanged.emit(recipe.name)
        self.state.message.emit(f"{recipe.name}: {version} trained — activate it on the Train page to use it")
        self.trainingFinished.emit(recipe.name, version)

    def _failed(self, message: str) -> None:
        self._end()
        self._follow_toolbar()
        self.train_box.reset(f"Training failed: {message}. The active model is unchanged.")
        self.trainingFailed.emit(message)

    def _cancelled(self) -> None:
        self._end()
        self._follow_toolbar()
        self.train_box.reset("Training cancelled. Nothing was saved; the active model is unchanged.")
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
        used = self.samples_box.in_use()
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
        self.samples_box.set_enabled(recipe is not None)
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
