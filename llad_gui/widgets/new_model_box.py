"""The Train page's "New model" box: what the training that just ended saved (in the sentences of
:func:`core.training_words.summary_sentences`), the threshold assistant's warning and window for it, and the
button that activates it. A choice made in the assistant becomes the threshold of the category the version
belongs to, which need not be the toolbar's."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout

from core.threshold_advice import tradeoff_from_calibration
from core.training_words import summary_sentences
from core.types import Thresholds
from llad_gui.widgets.layouts import row
from llad_gui.widgets.threshold_assistant import ThresholdAssistantDialog


class NewModelBox(QGroupBox):
    """Shown by ``show_version`` after a training; ``category``/``version`` name what it shows."""

    def __init__(self, state, parent=None) -> None:
        super().__init__("New model", parent)
        self.state = state
        self.category: str | None = None
        self.version: str | None = None
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.activate_button = QPushButton("Activate")
        self.activate_button.setObjectName("primaryButton")
        self.assistant_dialog = ThresholdAssistantDialog(self)  # the new version's trade-off, in its own window
        self.assistant = self.assistant_dialog.assistant
        self.assistant.thresholdChosen.connect(self._set_image_threshold)
        state.thresholdsChanged.connect(lambda _: self._show_thresholds())
        self.warning = QLabel()
        self.warning.setObjectName("assistantWarning")
        self.warning.setWordWrap(True)
        self.warning.hide()
        self.assistant_button = QPushButton("Threshold assistant…")
        self.assistant_button.setToolTip("Good parts rejected against synthetic defects caught, for this version")
        self.assistant_button.clicked.connect(self.assistant_dialog.show)
        buttons = row(self.assistant_button)
        buttons.addWidget(self.activate_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.warning)
        layout.addLayout(buttons)
        self.hide()

    def show_version(self, category: str, version: str, trained) -> None:
        """Present ``trained``, saved as ``version`` of ``category`` and not active yet."""
        self.category, self.version = category, version
        lighting = trained.post.lighting.describe() if trained.post.lighting else ""
        sentences = summary_sentences(trained.stats, lighting)
        self.summary.setText(
            f"<b>{version}</b> is trained and saved, <b>not active yet</b>.<br>" + "<br>".join(sentences)
        )
        self.activate_button.setText(f"Activate {category} {version}")
        self.assistant_dialog.setWindowTitle(f"Threshold assistant: {category} {version}")
        self.assistant.set_tradeoff(tradeoff_from_calibration(trained.post))
        self._show_thresholds()
        self.show()

    def _show_thresholds(self) -> None:
        recipe = self.state.recipe(self.category) if self.category else None
        if recipe is not None:
            self.assistant.set_thresholds(recipe.thresholds())
        text = self.assistant.warning.text() if recipe is not None else ""
        self.warning.setText(text)
        self.warning.setVisible(bool(text))

    def _set_image_threshold(self, image: float) -> None:
        """The assistant's choice, for the category the new version belongs to."""
        recipe = self.state.recipe(self.category) if self.category else None
        if recipe is None:
            return
        t = recipe.thresholds()
        chosen = Thresholds(image, t.pixel, t.uncertain_band)
        if recipe.name == self.state.category:
            self.state.set_thresholds(chosen)  # saves it and re-decides what the Inspect page shows
        else:
            recipe.set_thresholds(chosen)
            self._show_thresholds()
