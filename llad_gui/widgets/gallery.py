"""The good-samples gallery: thumbnails of a category's samples to review, exclude or delete, with the count
against the minimum needed; near-duplicate frames, blank images and images too small to learn from flagged
(:func:`core.data.sample_quality.sample_problem`).

Thumbnails and duplicate signatures are computed on Qt's thread pool (a folder of hundreds of images would
otherwise freeze the window) and cached by file name and modification time. Exclusion is persisted with
:meth:`core.recipes.Recipe.set_excluded`; duplicates are found by :mod:`core.data.duplicates`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.data.duplicates import find_duplicates, nearest_duplicate, signature
from core.data.io import ImageLoadError, list_images, load_image
from core.data.sample_quality import sample_problem
from core.training import MIN_GOOD_SAMPLES
from llad_gui.workers.tasks import run_in_pool

THUMB = 112
CHUNK = 24  # thumbnails per pool task: the first ones appear quickly
WHY_MINIMUM = (
    f"At least {MIN_GOOD_SAMPLES} are needed: a few are held back, never trained on, to calibrate the threshold "
    "on images the model has not seen."
)


@dataclass
class SampleEntry:
    """One good sample as shown in the gallery."""

    name: str
    path: Path
    excluded: bool = False
    duplicate_of: str | None = None
    thumb: QImage | None = None
    signature: np.ndarray | None = None
    error: str = ""
    problem: str = ""  # blank or too small: flagged, still the operator's decision


def load_thumbnail(path: Path) -> tuple[QImage | None, np.ndarray | None, str, str]:
    """(thumbnail, duplicate signature, error, problem) for one file; runs on a worker thread (QImage is
    thread-safe)."""
    try:
        img = load_image(path)
    except ImageLoadError as exc:
        return None, None, str(exc), ""
    h, w = img.shape[:2]
    scale = THUMB / max(h, w)
    small = np.ascontiguousarray(cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), cv2.INTER_AREA))
    qimg = QImage(small.data, small.shape[1], small.shape[0], small.strides[0], QImage.Format.Format_RGB888).copy()
    return qimg, signature(img), "", sample_problem(img)


class SampleModel(QAbstractListModel):
    """The samples of one category; thumbnails arrive later through :meth:`set_thumbnail`."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[SampleEntry] = []
        self._placeholder = QPixmap(THUMB, THUMB)
        self._placeholder.fill(QColor(225, 225, 225))

    def rowCount(self, parent=None) -> int:  # noqa: N802 - Qt override
        return 0 if parent is not None and parent.isValid() else len(self.entries)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        e = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            tag = "excluded" if e.excluded else ("unreadable" if e.error else "")
            tag = tag or (e.problem.split(" (")[0] if e.problem else ("repeat?" if e.duplicate_of else ""))
            return f"{e.name}\n{tag}" if tag else e.name
        if role == Qt.ItemDataRole.DecorationRole:
            if e.thumb is None:
                return self._placeholder
            pix = QPixmap.fromImage(e.thumb)
            return _faded(pix) if e.excluded else pix
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [str(e.path)]
            if e.excluded:
                lines.append("Excluded: kept on disk but not used for training")
            if e.duplicate_of:
                lines.append(f"Looks like a repeat of {e.duplicate_of} (camera saw the same view twice?)")
            if e.error:
                lines.append(f"Cannot be read: {e.error}")
            if e.problem:
                lines.append(f"Not a useful good sample: {e.problem}")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.BackgroundRole:
            if e.error:
                return QBrush(QColor(250, 215, 215))
            if (e.duplicate_of or e.problem) and not e.excluded:
                return QBrush(QColor(255, 236, 190))
        if role == Qt.ItemDataRole.ForegroundRole and e.excluded:
            return QBrush(QColor(130, 130, 130))
        if role == Qt.ItemDataRole.UserRole:
            return e.name
        return None

    def set_entries(self, entries: list[SampleEntry]) -> None:
        self.beginResetModel()
        self.entries = entries
        self.endResetModel()

    def row_of(self, name: str) -> int:
        for i, e in enumerate(self.entries):
            if e.name == name:
                return i
        return -1

    def changed(self, row: int) -> None:
        idx = self.index(row)
        self.dataChanged.emit(idx, idx)

    def refresh_all(self) -> None:
        if self.entries:
            self.dataChanged.emit(self.index(0), self.index(len(self.entries) - 1))


def _faded(pix: QPixmap) -> QPixmap:
    img = pix.toImage().convertToFormat(QImage.Format.Format_Grayscale8).convertToFormat(QImage.Format.Format_RGB32)
    out = QPixmap.fromImage(img)
    return out


class SampleGallery(QWidget):
    """Thumbnails of the good samples of one category, with Exclude/Include and Delete.

    Signals: ``countsChanged(int used, int total)``; ``thumbnailsLoaded()`` when every thumbnail is in.
    """

    countsChanged = Signal(int, int)  # noqa: N815 - Qt signal naming
    thumbnailsLoaded = Signal()  # noqa: N815 - Qt signal naming

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.recipe = None
        self._cache: dict[tuple[str, float], tuple[QImage | None, np.ndarray | None, str, str]] = {}
        self._generation = 0
        self._pending = 0
        self.model = SampleModel(self)
        self.view = QListView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setGridSize(QSize(THUMB + 28, THUMB + 44))
        self.view.setWordWrap(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setModel(self.model)
        self.view.doubleClicked.connect(lambda idx: self.toggle_excluded([self.model.entries[idx.row()].name]))
        self.count_label = QLabel()
        self.count_label.setObjectName("sampleCount")
        self.why_label = QLabel(WHY_MINIMUM)
        self.why_label.setWordWrap(True)
        self.why_label.setObjectName("hint")
        self.dup_label = QLabel()
        self.dup_label.setWordWrap(True)
        self.dup_label.setObjectName("hint")
        self.exclude_button = QPushButton("Exclude / include")
        self.exclude_button.setToolTip("Leave the selected samples out of training without deleting them")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected samples from disk")
        self.exclude_button.clicked.connect(lambda: self.toggle_excluded(self.selected_names()))
        self.delete_button.clicked.connect(self._delete_selected)
        self.actions_row = QHBoxLayout()
        self.actions_row.addStretch(1)
        self.actions_row.addWidget(self.exclude_button)
        self.actions_row.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.count_label)
        layout.addWidget(self.why_label)
        layout.addWidget(self.dup_label)
        layout.addWidget(self.view, 1)
        layout.addLayout(self.actions_row)
        self._update_counts()

    # ---- contents --------------------------------------------------------------------------------------
    def set_recipe(self, recipe) -> None:
        self.recipe = recipe
        self.reload()

    def reload(self) -> None:
        """Re-list the samples; thumbnails already made are reused, new ones load in the background."""
        self._generation += 1
        gen = self._generation
        if self.recipe is None:
            self.model.set_entries([])
            self._update_counts()
            return
        try:
            excluded = self.recipe.excluded()
        except Exception:  # a damaged excluded.json must not hide the samples
            excluded = set()
        entries, todo = [], []
        for p in list_images(self.recipe.good_dir):
            e = SampleEntry(p.name, p, p.name in excluded)
            key = _key(p)
            if key in self._cache:
                e.thumb, e.signature, e.error, e.problem = self._cache[key]
            else:
                todo.append(p)
            entries.append(e)
        self.model.set_entries(entries)
        self._pending = 0
        for i in range(0, len(todo), CHUNK):
            self._pending += 1
            chunk = todo[i : i + CHUNK]
            run_in_pool(
                lambda chunk=chunk: [(p, _key(p), *load_thumbnail(p)) for p in chunk],
                lambda out, gen=gen: self._thumbnails(gen, out),
                lambda msg, gen=gen: self._thumbnails(gen, []),
            )
        self._flag_duplicates()
        self._update_counts()
        if not todo:
            self.thumbnailsLoaded.emit()

    def _thumbnails(self, gen: int, out) -> None:
        if gen != self._generation:
            return  # a newer reload superseded this one
        for path, key, *loaded in out:
            self._cache[key] = tuple(loaded)
            row = self.model.row_of(path.name)
            if row >= 0:
                e = self.model.entries[row]
                e.thumb, e.signature, e.error, e.problem = loaded
                self.model.changed(row)
        self._pending -= 1
        if self._pending <= 0:
            self._flag_duplicates()
            self._update_counts()
            self.thumbnailsLoaded.emit()

    def _flag_duplicates(self) -> None:
        known = [e for e in self.model.entries if e.signature is not None]
        for e in self.model.entries:
            e.duplicate_of = None
        for e, dup in zip(known, find_duplicates([e.signature for e in known])):
            e.duplicate_of = None if dup is None else known[dup].name
        self.model.refresh_all()

    def duplicate_of(self, image: np.ndarray) -> str | None:
        """Name of an existing sample that ``image`` nearly repeats, or None (for a frame about to be added)."""
        known = [e for e in self.model.entries if e.signature is not None]
        i = nearest_duplicate(signature(image), [e.signature for e in known])
        return None if i is None else known[i].name

    # ---- counts ----------------------------------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        total = len(self.model.entries)
        used = sum(1 for e in self.model.entries if not e.excluded and not e.error)
        return used, total

    def duplicates(self) -> list[str]:
        return [e.name for e in self.model.entries if e.duplicate_of and not e.excluded]

    def flagged(self) -> dict[str, str]:
        """Samples in use that are blank or too small, with why."""
        return {e.name: e.problem for e in self.model.entries if e.problem and not e.excluded}

    def _update_counts(self) -> None:
        used, total = self.counts()
        short = MIN_GOOD_SAMPLES - used
        if self.recipe is None:
            text = "No category chosen"
        elif short > 0:
            text = f"<b>{used}</b> good samples in use — <b>{short} more</b> needed (minimum {MIN_GOOD_SAMPLES})"
        else:
            text = f"<b>{used}</b> good samples in use (minimum {MIN_GOOD_SAMPLES}) ✓"
        if total != used:
            text += f" · {total - used} excluded or unreadable"
        self.count_label.setText(text)
        dups, flagged = self.duplicates(), self.flagged()
        warnings = []
        if dups:
            warnings.append(
                f"⚠ {len(dups)} sample(s) look like repeats of an earlier frame (highlighted): a still camera saw "
                "the same view twice. Exclude them unless the part really was different."
            )
        if flagged:
            warnings.append(
                f"⚠ {len(flagged)} sample(s) are blank or too small to learn from (highlighted): "
                "exclude or delete them."
            )
        self.dup_label.setText("<br>".join(warnings))
        self.dup_label.setVisible(bool(warnings))
        self.exclude_button.setEnabled(total > 0)
        self.delete_button.setEnabled(total > 0)
        self.countsChanged.emit(used, total)

    # ---- operations ------------------------------------------------------------------------------------
    def selected_names(self) -> list[str]:
        return [self.model.entries[i.row()].name for i in self.view.selectionModel().selectedIndexes()]

    def select(self, names) -> None:
        sel = self.view.selectionModel()
        sel.clearSelection()
        for name in names:
            row = self.model.row_of(name)
            if row >= 0:
                sel.select(self.model.index(row), sel.SelectionFlag.Select)

    def toggle_excluded(self, names) -> None:
        """Exclude the given samples, or include them again if all are already excluded; saved at once."""
        if self.recipe is None or not names:
            return
        excluded = self.recipe.excluded()
        names = set(names)
        if names <= excluded:
            excluded -= names
        else:
            excluded |= names
        self.recipe.set_excluded(excluded)
        for e in self.model.entries:
            e.excluded = e.name in excluded
        self.model.refresh_all()
        self._update_counts()

    def _delete_selected(self) -> None:
        names = self.selected_names()
        if not names:
            return
        answer = QMessageBox.question(
            self, "Delete samples", f"Delete {len(names)} sample(s) from disk? Use Exclude to keep them instead."
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_samples(names)

    def delete_samples(self, names) -> None:
        if self.recipe is None or not names:
            return
        for name in names:
            self.recipe.delete_sample(name)
        excluded = self.recipe.excluded()
        if excluded & set(names):
            self.recipe.set_excluded(excluded - set(names))
        self.reload()


def _key(path: Path) -> tuple[str, float]:
    try:
        return str(path), path.stat().st_mtime
    except OSError:
        return str(path), 0.0
