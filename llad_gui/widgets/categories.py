"""Category management: create, rename, duplicate and delete categories (each a recipe folder).

Names are checked by :func:`core.recipes.validate_name` through the store itself: a rejected name shows the
store's message inline in the dialog and nothing is created. Deleting asks first. Changes are announced with
``AppState.categoriesChanged``; choosing a category here makes it the application's current one.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import LladError


class NameDialog(QDialog):
    """Asks for a category name. ``apply(name)`` does the work and returns an error message or None; on an error
    the dialog stays open and shows the message under the field."""

    def __init__(self, title: str, prompt: str, apply: Callable[[str], str | None], text: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.apply = apply
        self.edit = QLineEdit(text)
        self.edit.selectAll()
        self.edit.setPlaceholderText("e.g. bracket-A or tile 40x40")
        self.error = QLabel("")
        self.error.setObjectName("errorText")
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(prompt))
        layout.addWidget(self.edit)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.edit.textEdited.connect(lambda _: self.error.hide())
        self.setMinimumWidth(380)

    def try_accept(self) -> None:
        message = self.apply(self.edit.text())
        if message:
            self.error.setText(message)
            self.error.show()
            self.edit.setFocus()
            return
        self.accept()


class CategoryPanel(QWidget):
    """A list of categories with New / Rename / Duplicate / Delete. Signals: ``errorShown(str)``."""

    errorShown = Signal(str)  # noqa: N815 - Qt signal naming

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.dialog: NameDialog | None = None
        self.list = QListWidget()
        self.list.setToolTip("Each category is one kind of part with its own samples, models and thresholds")
        self.new_button = QPushButton("New…")
        self.rename_button = QPushButton("Rename…")
        self.duplicate_button = QPushButton("Duplicate…")
        self.delete_button = QPushButton("Delete…")
        self.new_button.setToolTip("Create an empty category")
        self.duplicate_button.setToolTip("Copy samples, models and thresholds under a new name")
        self.delete_button.setToolTip("Delete the category with its samples and models (asks first)")
        buttons = QGridLayout()
        for i, b in enumerate((self.new_button, self.rename_button, self.duplicate_button, self.delete_button)):
            buttons.addWidget(b, i, 0)  # one column: the panel stays narrow enough for a 1024-pixel screen
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.new_button.clicked.connect(self.new_category)
        self.rename_button.clicked.connect(self.rename_category)
        self.duplicate_button.clicked.connect(self.duplicate_category)
        self.delete_button.clicked.connect(self.delete_category)
        self.list.currentTextChanged.connect(self._chosen)
        state.categoriesChanged.connect(self.reload)
        state.categoryChanged.connect(self._show)
        self._locked = False
        self._locked_name = ""
        self.reload()

    # ---- view ----------------------------------------------------------------------------------------
    def reload(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems(self.state.categories())
        self.list.blockSignals(False)
        self._show(self.state.category)

    def _show(self, name: str) -> None:
        if self._locked:
            name = self._locked_name  # the training category stays selected whatever the toolbar shows
        self.list.blockSignals(True)
        items = self.list.findItems(name, Qt.MatchFlag.MatchExactly) if name else []
        self.list.setCurrentItem(items[0] if items else None)
        self.list.blockSignals(False)
        self._update_buttons()

    def set_locked(self, locked: bool, name: str = "") -> None:
        """While category ``name`` trains, it must not be renamed, deleted or switched away from here; it stays
        the selected one even if the toolbar switches."""
        self._locked = locked
        self._locked_name = name
        self.list.setEnabled(not locked)
        self._show(name if locked else self.state.category)

    def _update_buttons(self) -> None:
        has = bool(self.state.category) and not self._locked
        self.new_button.setEnabled(not self._locked)
        for b in (self.rename_button, self.duplicate_button, self.delete_button):
            b.setEnabled(has)

    def _chosen(self, name: str) -> None:
        if name and name != self.state.category:
            self.state.set_category(name)

    # ---- operations (each returns an error message or None) ------------------------------------------
    def create(self, name: str) -> str | None:
        return self._do(lambda: self.state.store.create(name), "created")

    def rename(self, old: str, new: str) -> str | None:
        return self._do(lambda: self.state.store.rename(old, new), "renamed", was=old)

    def duplicate(self, name: str, new: str) -> str | None:
        return self._do(lambda: self.state.store.duplicate(name, new), "duplicated")

    def delete(self, name: str) -> str | None:
        try:
            self.state.store.delete(name)
        except (LladError, OSError) as exc:
            return self._error(str(exc))
        self.state.categoriesChanged.emit()
        if self.state.category == name:
            self.state.set_category("")
        self.state.message.emit(f"category {name!r} deleted")
        return None

    def _do(self, op, verb: str, was: str | None = None) -> str | None:
        try:
            recipe = op()
        except (LladError, OSError) as exc:
            return self._error(str(exc))
        self.state.categoriesChanged.emit()
        if was is None or self.state.category == was:
            self.state.set_category(recipe.name)
        self.state.message.emit(f"category {recipe.name!r} {verb}")
        return None

    def _error(self, text: str) -> str:
        self.errorShown.emit(text)
        return text

    # ---- dialogs -------------------------------------------------------------------------------------
    def _open(self, title: str, prompt: str, apply, text: str = "") -> NameDialog:
        self.dialog = NameDialog(title, prompt, apply, text, self)
        self.dialog.open()  # window-modal, does not block the event loop (tests can drive it)
        return self.dialog

    def new_category(self) -> NameDialog:
        return self._open("New category", "Name of the new category (one kind of part):", self.create)

    def rename_category(self) -> NameDialog | None:
        old = self.state.category
        if not old:
            return None
        return self._open("Rename category", f"New name for {old!r}:", lambda n: self.rename(old, n), old)

    def duplicate_category(self) -> NameDialog | None:
        src = self.state.category
        if not src:
            return None
        prompt = f"Name of the copy of {src!r} (samples, models and thresholds are copied):"
        return self._open("Duplicate category", prompt, lambda n: self.duplicate(src, n), f"{src} copy")

    def delete_category(self) -> None:
        name = self.state.category
        if name and self.confirm(
            "Delete category",
            f"Delete the category {name!r} with all its good samples and trained models?\nThis cannot be undone.",
        ):
            self.delete(name)

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes
