"""Where the images come from and how they flow: source kind, folder/file/camera/URL, Open/Stop, the
transport (previous, play/pause, next, inspect all, rate) with the position in a folder, and the lighting the
images are taken under."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from llad_gui.widgets.lighting import LightingCombo
from llad_gui.workers.acquisition import SOURCE_KINDS, SourceSpec

RESOLUTIONS = ["camera default", "640x480", "1280x720", "1920x1080", "2592x1944"]
PLACEHOLDERS = {
    "folder": "folder of images",
    "paired": "low-light folder",
    "hotfolder": "folder another program writes new images into",
    "camera": "camera number (0 = first camera)",
    "video": "video file (.avi, .mp4, ...)",
    "stream": "rtsp://... or http://...",
    "files": "image file",
}


class SourceBar(QWidget):
    """Choose and open a source; the transport buttons emit requests the page passes to the worker."""

    openRequested = Signal(object)  # SourceSpec
    stopRequested = Signal()
    stepRequested = Signal(int)
    playRequested = Signal(bool)  # True = play, False = pause
    inspectAllRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        for key, label in SOURCE_KINDS.items():
            self.kind.addItem(label, key)
        self.kind.setToolTip("Where the images come from")
        self.target = QLineEdit()
        self.partner = QLineEdit()
        self.partner.setPlaceholderText("well-lit folder (same file names)")
        self.browse = QPushButton("Browse…")
        self.browse_partner = QPushButton("Browse…")
        self.resolution = QComboBox()
        self.resolution.addItems(RESOLUTIONS)
        self.resolution.setToolTip("Resolution asked of the camera (it may choose another; the status says)")
        self.open = QPushButton("Open")
        self.open.setObjectName("primaryButton")
        self.open.setToolTip("Start reading from this source")
        self.stop = QPushButton("Stop")
        self.stop.setEnabled(False)
        self.prev = QToolButton(text="◀ Prev")
        self.prev.setToolTip("Previous image (Left or P)")
        self.play = QToolButton(text="▶ Play")
        self.play.setCheckable(True)
        self.play.setToolTip("Play / pause (F5)")
        self.next = QToolButton(text="Next ▶")
        self.next.setToolTip("Next image (Right or N)")
        self.all = QToolButton(text="Inspect all")
        self.all.setToolTip("Inspect every image of the folder as fast as possible")
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0.0, 60.0)
        self.rate.setValue(2.0)
        self.rate.setSuffix(" /s")
        self.rate.setSpecialValueText("max")
        self.rate.setToolTip("Images a second when playing a folder (max = as fast as inspection goes)")
        self.position = QLabel("")
        self.position.setObjectName("positionLabel")
        self.lighting = LightingCombo(
            "How the parts are lit. Automatic: each image is inspected as low-light when it is darker than the "
            "category's good parts allow, else as well-lit. Choose Low-light or Well-lit when the line's lighting "
            "is known. A paired source is always inspected as paired."
        )

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Source"))
        top.addWidget(self.kind)
        top.addWidget(self.target, 2)
        top.addWidget(self.browse)
        top.addWidget(self.partner, 2)
        top.addWidget(self.browse_partner)
        top.addWidget(self.resolution)
        top.addWidget(self.open)
        top.addWidget(self.stop)
        transport = QHBoxLayout()
        transport.setContentsMargins(0, 0, 0, 0)
        for w in (self.prev, self.play, self.next, self.all, QLabel("Rate"), self.rate, self.position):
            transport.addWidget(w)
        transport.addStretch(1)
        transport.addWidget(QLabel("Lighting"))
        transport.addWidget(self.lighting)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(transport)

        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.browse.clicked.connect(self._browse)
        self.browse_partner.clicked.connect(self._browse_partner)
        self.open.clicked.connect(lambda: self.openRequested.emit(self.spec()))
        self.stop.clicked.connect(self.stopRequested)
        self.prev.clicked.connect(lambda: self.stepRequested.emit(-1))
        self.next.clicked.connect(lambda: self.stepRequested.emit(1))
        self.play.clicked.connect(lambda checked: self.playRequested.emit(checked))
        self.all.clicked.connect(self.inspectAllRequested)
        self._files: list[str] = []
        self._kind_changed()
        self.set_running(False, indexed=False)

    # ---- spec <-> fields ----------------------------------------------------------------------------
    def current_kind(self) -> str:
        return str(self.kind.currentData())

    def spec(self) -> SourceSpec:
        kind = self.current_kind()
        res = None
        if kind == "camera" and "x" in self.resolution.currentText():
            w, h = self.resolution.currentText().split("x")
            res = (int(w), int(h))
        files = self._files if kind == "files" and self._files else []
        return SourceSpec(kind, self.target.text().strip(), self.partner.text().strip(), res, files)

    def set_spec(self, spec: SourceSpec) -> None:
        i = self.kind.findData(spec.kind)
        if i >= 0:
            self.kind.setCurrentIndex(i)
        self.target.setText(spec.target)
        self.partner.setText(spec.partner)
        self._files = list(spec.files)
        if spec.resolution:
            self.resolution.setCurrentText(f"{spec.resolution[0]}x{spec.resolution[1]}")

    def _kind_changed(self) -> None:
        kind = self.current_kind()
        self.target.setPlaceholderText(PLACEHOLDERS.get(kind, ""))
        self.partner.setVisible(kind == "paired")
        self.browse_partner.setVisible(kind == "paired")
        self.resolution.setVisible(kind == "camera")
        self.browse.setVisible(kind not in ("camera", "stream"))
        self._files = []

    def _browse(self) -> None:
        kind = self.current_kind()
        if kind in ("folder", "paired", "hotfolder"):
            path = QFileDialog.getExistingDirectory(self, "Choose a folder", self.target.text())
        elif kind == "video":
            path, _ = QFileDialog.getOpenFileName(
                self, "Choose a video", self.target.text(), "Videos (*.avi *.mp4 *.mkv *.mov);;All files (*)"
            )
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Choose an image", self.target.text())
        if path:
            self.target.setText(path)

    def _browse_partner(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose the well-lit folder", self.partner.text())
        if path:
            self.partner.setText(path)

    # ---- running state ------------------------------------------------------------------------------
    def set_running(self, running: bool, indexed: bool) -> None:
        self.stop.setEnabled(running)
        for w in (self.prev, self.next, self.all, self.rate):
            w.setEnabled(running and indexed)
        self.play.setEnabled(running)
        if not running:
            self.set_playing(False)
            self.position.setText("")

    def set_playing(self, playing: bool) -> None:
        self.play.setChecked(playing)
        self.play.setText("❚❚ Pause" if playing else "▶ Play")

    def set_position(self, index: int, total: int) -> None:
        self.position.setText(f"image {index + 1} of {total}" if total and index >= 0 else f"{total} images")
