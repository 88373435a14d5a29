"""The Train page's good samples: import a folder or files (copied off the GUI thread), add a frame from the
Inspect page, and the gallery of what a category has.

One part of :class:`~llad_gui.pages.train_page.TrainPage`; it knows which category to show through
``show_recipe`` and tells the application through the state's ``samplesChanged`` signal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QGroupBox, QLabel, QMessageBox, QPushButton, QVBoxLayout

from core.data.datasets import read_paired
from core.data.io import list_images
from core.data.sample_quality import sample_problem
from core.errors import LladError
from core.training import MIN_GOOD_SAMPLES
from core.types import Frame
from llad_gui.widgets.gallery import SampleGallery
from llad_gui.widgets.layouts import row
from llad_gui.workers.tasks import run_in_pool

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff)"


class SamplesPanel(QGroupBox):
    """ "2. Good samples" of the category the page shows. ``sampleAdded(category, path)`` when one is stored."""

    sampleAdded = Signal(str, str)  # noqa: N815 - Qt signal naming

    def __init__(self, state, parent=None) -> None:
        super().__init__("2. Good samples", parent)
        self.state = state
        self.recipe = None  # the shown category's
        self.setToolTip("Images of defect-free parts only, lit as on the line")
        self.import_button = QPushButton("Import folder…")
        self.import_button.setToolTip("Copy a folder of good images in (optionally with their low-light partners)")
        self.add_files_button = QPushButton("Add image files…")
        self.import_button.clicked.connect(self.choose_import_folder)
        self.add_files_button.clicked.connect(self.choose_files)
        hint = QLabel("Or, on the Inspect page, press <b>Ctrl+G</b> to add the frame on screen as a good sample.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        self.gallery = SampleGallery()
        top = row(self.import_button, self.add_files_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hint)
        layout.addWidget(self.gallery, 1)

    def show_recipe(self, recipe) -> None:
        """Show ``recipe``'s samples (None: no category)."""
        self.recipe = recipe
        self.gallery.set_recipe(recipe)
        self.set_enabled(recipe is not None)

    def set_enabled(self, enabled: bool) -> None:
        self.import_button.setEnabled(enabled)
        self.add_files_button.setEnabled(enabled)

    def in_use(self) -> int:
        """Good samples of the shown category that training would use."""
        return self.gallery.counts()[0]

    # ---- adding one image ----------------------------------------------------------------------------
    def add_good_sample(self, image_rgb: np.ndarray, lowlight_rgb: np.ndarray | None = None) -> Path | None:
        """Store an image (RGB uint8) as a good sample of the toolbar's category; returns its path or None."""
        recipe = self.state.recipe()
        if recipe is None:
            self.state.message.emit("Choose or create a category on the Train page before adding samples")
            return None
        problem = sample_problem(image_rgb)
        if problem:
            self.state.message.emit(f"not added to {recipe.name}: the image is {problem}")
            return None
        shown = self.recipe is not None and recipe.name == self.recipe.name
        repeat = self.gallery.duplicate_of(image_rgb) if shown else None
        try:
            path = recipe.add_sample(image_rgb, lowlight_rgb)
        except (LladError, OSError) as exc:
            self.state.message.emit(f"could not add the sample: {exc}")
            return None
        used = len(recipe.samples())
        note = f" — looks like a repeat of {repeat}" if repeat else ""
        self.state.message.emit(f"good sample added to {recipe.name} ({used}/{MIN_GOOD_SAMPLES}+){note}")
        if shown:
            self.gallery.reload()
        self.state.samplesChanged.emit(recipe.name)
        self.sampleAdded.emit(recipe.name, str(path))
        return path

    def add_frame(self, frame: Frame) -> Path | None:
        """Add an inspected frame: a paired frame gives its well-lit image with the low-light one as partner."""
        if frame.partner is not None:
            return self.add_good_sample(frame.partner, frame.image)
        return self.add_good_sample(frame.image)

    # ---- importing many ------------------------------------------------------------------------------
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
        paths, _ = QFileDialog.getOpenFileNames(self, "Good images", "", IMAGE_FILTER)
        if paths:
            self.import_files(paths, [])

    def import_folder(self, good_dir, lowlight_dir=None) -> None:
        """Copy the images of ``good_dir`` (and the same-named ones of ``lowlight_dir``) in, off the GUI thread."""
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
        self.import_files(goods, lows)

    def import_files(self, goods, lows) -> None:
        """Copy ``goods`` (with their low-light partners ``lows``, or none) into the shown category."""
        recipe = self.recipe
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
