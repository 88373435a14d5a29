"""Shown instead of an empty workstation until a category has a trained model: the three first steps, ticked
as they are done, and a button to the Train page."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

STEPS = (
    ("Create a category", "one per kind of part, e.g. “tile-A”. Train page → New category."),
    ("Collect good samples", "at least 10 images of defect-free parts, lit as on the line (more is better)."),
    ("Train", "a few minutes; the model learns what good looks like and calibrates its threshold."),
)


def missing_model_text(recipe, source: str) -> str:
    """What to do when ``source`` is opened with nothing to judge it ('' when the recipe has an active model)."""
    what = f"You opened {source}, but"
    if recipe is None:
        return (
            f"{what} no category is chosen. Pick one in the toolbar's Category box, or create one on the "
            "Train page and train it; then open the source again."
        )
    if recipe.active_version is None:
        return (
            f"{what} “{recipe.name}” has no trained model yet. Train it (or activate a version) on the Train "
            "page; then open the source again."
        )
    return ""


class FirstStartGuide(QWidget):
    """``set_progress(has_category, samples, has_model)`` ticks the steps; ``trainRequested`` on the button."""

    trainRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("firstStart")
        title = QLabel("Welcome to LLAD Inspector")
        title.setObjectName("guideTitle")
        intro = QLabel(
            "LLAD finds defects by learning from good parts only, even under poor or uneven light.\n"
            "Three steps before the first inspection:"
        )
        intro.setObjectName("guideText")
        self.step_labels = []
        layout = QVBoxLayout(self)
        layout.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        layout.addWidget(intro)
        for _ in STEPS:
            label = QLabel()
            label.setObjectName("guideStep")
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            self.step_labels.append(label)
            layout.addWidget(label)
        self.button = QPushButton("Go to the Train page")
        self.button.setObjectName("primaryButton")
        self.button.clicked.connect(self.trainRequested)
        layout.addSpacing(12)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignLeft)
        self.note = QLabel("Then come back here, pick the category in the toolbar and choose a source.")
        self.note.setObjectName("guideText")
        layout.addWidget(self.note)
        self.notice = QLabel()
        self.notice.setObjectName("bannerInfo")
        self.notice.setWordWrap(True)
        self.notice.hide()
        layout.addSpacing(12)
        layout.addWidget(self.notice)
        self.set_progress(False, 0, False)

    def show_notice(self, text: str) -> None:
        """What to do about something the operator just tried (e.g. opening a folder with no model)."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def set_progress(self, has_category: bool, samples: int, has_model: bool) -> None:
        done = (has_category, samples >= 10, has_model)
        for i, ((name, text), ok, label) in enumerate(zip(STEPS, done, self.step_labels), start=1):
            mark = "✔" if ok else f"{i}."
            extra = f" ({samples} so far)" if i == 2 and has_category else ""
            colour = "#2e7d32" if ok else "#202124"
            label.setText(f"<span style='color:{colour}'><b>{mark} {name}</b></span> — {text}{extra}")
