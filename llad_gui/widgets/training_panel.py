"""The Train page's "3. Train" box: the preset, Train / Cancel, Top up and Inspection mask buttons, and the
progress of a running training (bar, status line, loss curve). Layout only: the page decides what the buttons
start, and :mod:`core.training_words` words the progress."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout

from core.training import PRESETS, TrainEvent
from core.training_words import progress_percent, progress_text
from llad_gui.widgets.layouts import row
from llad_gui.widgets.loss_plot import LossPlot

PRESET_CHOICES = (
    ("fast", f"Fast ({PRESETS['fast'].steps} steps, a few minutes)"),
    ("default", f"Thorough ({PRESETS['default'].steps} steps, best quality)"),
)


class TrainingPanel(QGroupBox):
    """Buttons and progress of one category's training; ``set_category`` names it in the title."""

    def __init__(self, parent=None) -> None:
        super().__init__("3. Train", parent)
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
        self.topup_button = QPushButton("Top up")
        self.topup_button.setToolTip("Fine-tune the active version on old and new good samples and recalibrate")
        self.mask_button = QPushButton("Inspection mask…")
        self.mask_button.setToolTip("Draw the regions to inspect or ignore (applies from the next training)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat("%p %")
        self.status = QLabel("Not started")
        self.status.setWordWrap(True)
        self.loss_plot = LossPlot()

        first = QHBoxLayout()
        first.addWidget(QLabel("Preset"))
        first.addWidget(self.preset_combo, 1)
        first.addWidget(self.train_button)
        first.addWidget(self.cancel_button)
        more = row(self.topup_button, self.mask_button)  # one row of five buttons is wider than a 1024 px column
        layout = QVBoxLayout(self)
        layout.addLayout(first)
        layout.addLayout(more)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.loss_plot, 1)

    def preset(self) -> str:
        return self.preset_combo.currentData()

    def set_category(self, name: str) -> None:
        self.setTitle(f"3. Train “{name}”" if name else "3. Train")

    def reset(self, text: str = "Not started") -> None:
        """No training shown: an empty curve and bar, ``text`` as status."""
        self.loss_plot.clear_curve()
        self.progress.setValue(0)
        self.status.setText(text)

    def show_event(self, event: TrainEvent) -> None:
        """A progress event of the running training."""
        self.progress.setValue(progress_percent(event))
        self.status.setText(progress_text(event))
        if event.stage == "train":
            self.loss_plot.add_point(event.step, event.loss)
