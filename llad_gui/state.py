"""Application state as Qt objects that emit signals; widgets subscribe and never talk to each other directly.

:class:`AppState` owns the recipe store, the current category, the loaded predictor, the thresholds, the
inspection log and the image store. It is created once in ``app.py`` and handed to every page and widget.
Loading a model takes a second or more, so :meth:`AppState.load_model` runs it on a worker thread and announces
the result with ``modelChanged``; nothing here blocks the GUI thread for long.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QThreadPool, Signal

from core.errors import LladError
from core.imagestore import ImageStore
from core.log import InspectionLog
from core.paths import data_home, images_dir, log_path, recipes_dir
from core.recipes import Recipe, RecipeStore
from core.types import InputMode, Thresholds
from llad_gui.workers.tasks import run_in_pool

DEFAULT_NG_MAX_GB = 5.0
"""Disk kept for saved NG images before the oldest are deleted (setting ``ng_max_gb``)."""

INPUT_MODE_KEY = "inspect/lighting"
"""Setting: the lighting live inspection assumes ("auto", "lowlight" or "welllit")."""


def parse_input_mode(value) -> InputMode | None:
    """A stored lighting setting as an input mode; None (automatic) for "auto", empty or unknown values.
    Paired is not a setting: a source with a well-lit partner is paired whatever this says."""
    try:
        mode = InputMode(getattr(value, "value", value) or "")
    except ValueError:
        return None
    return None if mode is InputMode.PAIRED else mode


class AppState(QObject):
    """Shared, observable application state.

    Signals:
        categoriesChanged(): a category was created, renamed, duplicated or deleted.
        categoryChanged(str): the current category changed ('' = none).
        modelLoading(str): a model is being loaded for the named category.
        modelChanged(): ``predictor`` changed (``None`` when the category has no trained model).
        modelError(str): loading failed; the message is for the operator.
        thresholdsChanged(object): the current :class:`~core.types.Thresholds` changed.
        inputModeChanged(object): the lighting live inspection assumes changed (an
            :class:`~core.types.InputMode`, or None for automatic).
        samplesChanged(str): the good samples of the named category changed.
        versionsChanged(str): a version was added or activated in the named category.
        message(str): a short status-bar message.
    """

    categoriesChanged = Signal()
    categoryChanged = Signal(str)
    modelLoading = Signal(str)
    modelChanged = Signal()
    modelError = Signal(str)
    thresholdsChanged = Signal(object)
    inputModeChanged = Signal(object)
    samplesChanged = Signal(str)
    versionsChanged = Signal(str)
    message = Signal(str)

    def __init__(self, home: Path | None = None, settings: QSettings | None = None, parent=None) -> None:
        super().__init__(parent)
        self.home = Path(home) if home else data_home()
        self.settings = settings or QSettings()
        self.store = RecipeStore(recipes_dir(self.home / "recipes") if home else recipes_dir())
        self.store.root.mkdir(parents=True, exist_ok=True)
        self.log = InspectionLog(log_path(self.home / "inspections.sqlite") if home else log_path())
        self.image_store = self._make_image_store(Path(self.settings.value("ng_folder", str(self._default_images()))))
        self.category: str = ""
        self.predictor = None
        self.thresholds = Thresholds()
        self.input_mode: InputMode | None = parse_input_mode(self.settings.value(INPUT_MODE_KEY, ""))
        self.pool = QThreadPool.globalInstance()
        self._load_token = 0

    def _make_image_store(self, folder: Path) -> ImageStore:
        """NG images go to ``folder``; the oldest are deleted past the ``ng_max_gb`` setting."""
        return ImageStore(folder, max_bytes=int(float(self.settings.value("ng_max_gb", DEFAULT_NG_MAX_GB)) * 1e9))

    def set_image_folder(self, folder: str | Path) -> None:
        """Keep NG images in ``folder`` from now on (raises OSError if it cannot be used) and remember it."""
        self.image_store = self._make_image_store(Path(folder))
        self.settings.setValue("ng_folder", str(folder))

    def _default_images(self) -> Path:
        return images_dir(self.home / "images") if self.home else images_dir()

    # ---- categories --------------------------------------------------------------------------------------
    def categories(self) -> list[str]:
        return self.store.names()

    def recipe(self, name: str | None = None) -> Recipe | None:
        name = self.category if name is None else name
        if not name:
            return None
        try:
            return self.store.get(name)
        except LladError:
            return None

    def set_category(self, name: str) -> None:
        """Make ``name`` current and load its active model in the background."""
        if name == self.category and self.predictor is not None:
            return
        self.category = name
        self.settings.setValue("last_category", name)
        self.predictor = None
        recipe = self.recipe(name)
        self.thresholds = recipe.thresholds() if recipe else Thresholds()
        self.categoryChanged.emit(name)
        self.thresholdsChanged.emit(self.thresholds)
        self.load_model()

    def load_model(self) -> None:
        """(Re)load the current category's active model on a worker thread."""
        recipe = self.recipe()
        self._load_token += 1
        token = self._load_token
        if recipe is None or recipe.active_version is None:
            self.predictor = None
            self.modelChanged.emit()
            return
        self.modelLoading.emit(recipe.name)

        def load():
            from core.predictor import Predictor

            predictor = Predictor.from_recipe(recipe)
            predictor.warm_up()  # here, off the GUI thread, rather than on the first frame inspected
            return predictor

        def done(predictor):
            if token != self._load_token:
                return  # a newer request superseded this one
            predictor.thresholds = self.thresholds
            self.predictor = predictor
            self.modelChanged.emit()

        def failed(msg: str):
            if token != self._load_token:
                return
            self.predictor = None
            self.modelError.emit(msg)
            self.modelChanged.emit()

        run_in_pool(load, done, failed, pool=self.pool)

    # ---- lighting ---------------------------------------------------------------------------------------
    def set_input_mode(self, mode: InputMode | None) -> None:
        """Inspect from now on as low-light, well-lit, or (None) automatically by each image's exposure; the
        choice is remembered for the next start. It applies to the next frame inspected."""
        mode = parse_input_mode(mode)
        if mode == self.input_mode:
            return
        self.input_mode = mode
        self.settings.setValue(INPUT_MODE_KEY, mode.value if mode is not None else "auto")
        self.inputModeChanged.emit(mode)

    # ---- thresholds -------------------------------------------------------------------------------------
    def set_thresholds(self, thresholds: Thresholds, persist: bool = True) -> None:
        """Apply new thresholds at once (re-deciding cached results is up to the subscribers) and save them."""
        if thresholds == self.thresholds:
            return
        self.thresholds = thresholds
        if self.predictor is not None:
            self.predictor.thresholds = thresholds
        if persist:
            recipe = self.recipe()
            if recipe is not None:
                try:
                    recipe.set_thresholds(thresholds)
                except (LladError, OSError) as exc:
                    self.message.emit(f"could not save thresholds: {exc}")
        self.thresholdsChanged.emit(thresholds)

    def save_thresholds(self) -> None:
        """Save the current thresholds in the category's recipe (after edits applied with ``persist=False``)."""
        recipe = self.recipe()
        if recipe is None:
            return
        try:
            if recipe.thresholds() != self.thresholds:
                recipe.set_thresholds(self.thresholds)
        except (LladError, OSError) as exc:
            self.message.emit(f"could not save thresholds: {exc}")

    def reset_thresholds(self) -> None:
        """Back to the calibrated defaults."""
        self.set_thresholds(Thresholds(1.0, 1.0, self.thresholds.uncertain_band))

    def close(self) -> None:
        self.pool.waitForDone(5000)
        self.log.close()
