"""Where the images come from and how they flow: source kind, folder/file/camera/URL, Open/Stop, the
transport (previous, play/pause, next, inspect all, rate) with the position in a folder, and the lighting the
images are taken under. An industrial camera (Basler, GenICam) is chosen from a list scanned off the GUI thread,
and its settings are stored in the current category's recipe."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

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

from core.errors import LladError
from core.sources.camera_settings import CameraSettings
from llad_gui.widgets.camera_settings import CameraScan, CameraSettingsDialog
from llad_gui.widgets.lighting import LightingCombo
from llad_gui.workers.acquisition import CAMERA_KINDS, SOURCE_KINDS, SourceSpec

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
    camerasListed = Signal(str)  # back-end whose camera list was just filled

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
        self.camera = QComboBox()
        self.camera.setMinimumContentsLength(24)
        self.camera.setToolTip("The camera (serial number) this category uses")
        self.rescan = QToolButton(text="⟳")
        self.rescan.setToolTip("Look for cameras again")
        self.camera_button = QPushButton("Camera settings…")
        self.camera_button.setToolTip("Exposure, gain, pixel format, frame rate and trigger, kept with the category")
        self.recipe_provider: Callable[[], object | None] = lambda: None  # the current category's Recipe
        self._camera_settings: dict[str, CameraSettings] = {}
        self._scan: CameraScan | None = None
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
        for w in (self.camera, self.rescan, self.camera_button):
            top.addWidget(w)
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
        self.rescan.clicked.connect(self.scan_cameras)
        self.camera_button.clicked.connect(self.edit_camera_settings)
        self._files: list[str] = []
        self._kind_changed()
        self.set_running(False, indexed=False)

    # ---- spec <-> fields ----------------------------------------------------------------------------
    def current_kind(self) -> str:
        return str(self.kind.currentData())

    def spec(self) -> SourceSpec:
        kind = self.current_kind()
        if kind in CAMERA_KINDS:
            settings = self.camera_settings()
            serial = self.camera.currentData() or settings.serial
            return SourceSpec(kind, serial, camera=settings.to_dict())
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
        if spec.kind in CAMERA_KINDS and spec.camera is not None:
            with contextlib.suppress(ValueError):  # damaged saved settings: the category's or the defaults apply
                self._camera_settings[spec.kind] = spec.camera_settings()
        if spec.resolution:
            self.resolution.setCurrentText(f"{spec.resolution[0]}x{spec.resolution[1]}")

    def _kind_changed(self) -> None:
        kind = self.current_kind()
        self.target.setPlaceholderText(PLACEHOLDERS.get(kind, ""))
        self.partner.setVisible(kind == "paired")
        self.browse_partner.setVisible(kind == "paired")
        self.resolution.setVisible(kind == "camera")
        self.browse.setVisible(kind not in ("camera", "stream", *CAMERA_KINDS))
        industrial = kind in CAMERA_KINDS
        self.target.setVisible(not industrial)
        for w in (self.camera, self.rescan, self.camera_button):
            w.setVisible(industrial)
        self._files = []
        if industrial:
            self.scan_cameras()

    # ---- industrial cameras -------------------------------------------------------------------------
    def camera_settings(self) -> CameraSettings:
        """The current category's camera settings for the chosen back-end (defaults if it has none)."""
        kind = self.current_kind()
        recipe = self.recipe_provider()
        if recipe is not None:
            try:
                stored = recipe.camera_settings()
            except LladError:
                stored = None
            if stored is not None and stored.backend == kind:
                return stored
        return self._camera_settings.get(kind) or CameraSettings(kind)

    def scan_cameras(self) -> None:
        """List the chosen back-end's cameras on a thread; ``camerasListed`` follows."""
        kind = self.current_kind()
        if kind not in CAMERA_KINDS or (self._scan is not None and self._scan.isRunning()):
            return
        self.camera.clear()
        self.camera.addItem("looking for cameras…", None)
        self._scan = CameraScan(kind, self.camera_settings().producer)
        self._scan.found.connect(self._cameras_found)
        self._scan.finished.connect(self._scan_finished)
        self._scan.start()

    def _scan_finished(self) -> None:
        scan, self._scan = self.sender(), None
        if scan is not None and self.current_kind() in CAMERA_KINDS and self.current_kind() != scan.backend:
            self.scan_cameras()  # the kind changed while that scan ran

    def _cameras_found(self, backend: str, status, cameras) -> None:
        if backend != self.current_kind():
            return
        self.camera.clear()
        self.camera.setToolTip(status.reason or "The camera (serial number) this category uses")
        if not status.available:
            self.camera.addItem(status.reason, None)
        else:
            self.camera.addItem("first camera found" if cameras else "no camera found (in use elsewhere?)", "")
            for info in cameras:
                self.camera.addItem(info.label, info.serial)
            self._select_serial(self.camera_settings().serial)
        self.camerasListed.emit(backend)

    def _select_serial(self, serial: str) -> None:
        i = self.camera.findData(serial)
        if i < 0 and serial:
            self.camera.addItem(f"{serial} (not connected now)", serial)
            i = self.camera.count() - 1
        if i >= 0:
            self.camera.setCurrentIndex(i)

    def edit_camera_settings(self) -> CameraSettingsDialog:
        """Open the settings dialog for the chosen camera; OK stores them with the category."""
        settings = self.camera_settings()
        if self.camera.currentData():
            settings.serial = self.camera.currentData()
        serials = [self.camera.itemData(i) for i in range(self.camera.count()) if self.camera.itemData(i)]
        dialog = CameraSettingsDialog(settings, serials, self)
        dialog.accepted.connect(lambda: self.store_camera_settings(dialog.settings()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def store_camera_settings(self, settings: CameraSettings) -> None:
        """Keep ``settings`` for this back-end and in the current category's recipe (if there is one)."""
        producer_before = self.camera_settings().producer
        self._camera_settings[settings.backend] = settings
        recipe = self.recipe_provider()
        if recipe is not None:
            recipe.set_camera_settings(settings)
        if settings.backend == self.current_kind():
            if settings.producer != producer_before:
                self.scan_cameras()  # another producer: other cameras
            else:
                self._select_serial(settings.serial)

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
