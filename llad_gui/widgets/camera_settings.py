"""The industrial camera's settings for the current category (exposure, gain, pixel format, frame rate, trigger),
and the background scan that lists a back-end's cameras.

The dialog only edits a :class:`~core.sources.CameraSettings`; the source bar stores it in the category's recipe.
A value left on "camera's own" keeps whatever the camera has. Listing cameras loads the vendor library and may
probe a network, so :class:`CameraScan` runs it on its own thread.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QThread, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.sources.camera_settings import BACKENDS, TRIGGER_EDGES, CameraSettings, TriggerMode

PIXEL_FORMATS = ["", "Mono8", "RGB8", "RGB8Packed", "BGR8", "BayerRG8", "BayerBG8", "BayerGR8", "BayerGB8", "Mono12"]
TRIGGERS = {TriggerMode.FREE_RUN: "Free run", TriggerMode.SOFTWARE: "Software trigger",
            TriggerMode.HARDWARE: "Hardware trigger (input line)"}  # fmt: skip
LINES = ["Line1", "Line2", "Line3", "Line4"]
EDGES = {"RisingEdge": "rising edge", "FallingEdge": "falling edge", "AnyEdge": "any edge"}


class CameraScan(QThread):
    """Finds out on its own thread whether ``backend`` loads and which cameras it sees.

    Signal ``found(str backend, object status, object cameras)``: a BackendStatus and a list of CameraInfo.
    A scan has no Qt parent, so closing the widget that asked never destroys a running thread; it deletes itself
    when done, and the application waits for any scan still running when it quits.
    """

    found = Signal(str, object, object)
    _running: set[CameraScan] = set()
    _hooked = False

    def __init__(self, backend: str, producer: str = "") -> None:
        super().__init__()
        self.backend, self.producer = backend, producer
        self.finished.connect(self._done)

    def start(self) -> None:  # type: ignore[override]
        app = QCoreApplication.instance()
        if app is not None and not CameraScan._hooked:
            app.aboutToQuit.connect(CameraScan.wait_all)
            CameraScan._hooked = True
        CameraScan._running.add(self)
        super().start()

    def _done(self) -> None:
        CameraScan._running.discard(self)
        self.deleteLater()

    @staticmethod
    def wait_all(ms: int = 30_000) -> None:
        """Wait for every running scan (at quit: a camera library must not be unloaded under a thread)."""
        for scan in list(CameraScan._running):
            scan.wait(ms)

    def run(self) -> None:
        from core.sources.cameras import camera_backends, list_cameras

        status = camera_backends(self.producer)[self.backend]
        try:
            cameras = list_cameras(self.backend, self.producer) if status.available else []
        except Exception as exc:  # a library error while listing: say it where the list would be
            from core.sources.industrial import BackendStatus

            status, cameras = BackendStatus(self.backend, False, f"cannot list cameras: {exc}", status.version), []
        self.found.emit(self.backend, status, cameras)


def _optional_spin(suffix: str, lo: float, hi: float, decimals: int, special: str) -> QDoubleSpinBox:
    """A spin box whose lowest value means "leave the camera's own"."""
    spin = QDoubleSpinBox()
    spin.setRange(lo, hi)
    spin.setDecimals(decimals)
    spin.setSuffix(suffix)
    spin.setSpecialValueText(special)
    spin.setValue(lo)
    return spin


class CameraSettingsDialog(QDialog):
    """Edit one category's camera settings; :meth:`settings` reads them back. Layout only."""

    def __init__(self, settings: CameraSettings, cameras: list[str] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{BACKENDS[settings.backend]} settings")
        self._backend = settings.backend
        self._features = dict(settings.features)
        self.serial = QComboBox()
        self.serial.setEditable(True)
        self.serial.addItems([""] + [c for c in cameras or [] if c])
        self.serial.setToolTip("Serial number of the camera this category uses (empty = the first camera found)")
        self.producer = QLineEdit()
        self.producer.setPlaceholderText("vendor's GenTL producer (.cti); empty = GENICAM_GENTL64_PATH")
        self.browse = QPushButton("Browse…")
        self.exposure = _optional_spin(" µs", 0.0, 10_000_000.0, 1, "camera's own")
        self.gain = _optional_spin(" dB", -1.0, 48.0, 2, "camera's own")
        self.pixel_format = QComboBox()
        self.pixel_format.setEditable(True)
        self.pixel_format.addItems(PIXEL_FORMATS)
        self.pixel_format.setItemText(0, "")
        self.pixel_format.setToolTip("GenICam pixel format name; empty keeps the camera's")
        self.frame_rate = _optional_spin(" /s", 0.0, 1000.0, 2, "camera's own")
        self.trigger = QComboBox()
        for mode, label in TRIGGERS.items():
            self.trigger.addItem(label, mode.value)
        self.line = QComboBox()
        self.line.setEditable(True)
        self.line.addItems(LINES)
        self.edge = QComboBox()
        for key in TRIGGER_EDGES:
            self.edge.addItem(EDGES[key], key)

        form = QFormLayout()
        form.addRow("Camera (serial)", self.serial)
        producer_row = QWidget()
        row = QHBoxLayout(producer_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.producer, 1)
        row.addWidget(self.browse)
        form.addRow("GenTL producer", producer_row)
        form.addRow("Exposure", self.exposure)
        form.addRow("Gain", self.gain)
        form.addRow("Pixel format", self.pixel_format)
        form.addRow("Frame rate", self.frame_rate)
        form.addRow("Trigger", self.trigger)
        form.addRow("Trigger input", self.line)
        form.addRow("Trigger edge", self.edge)
        producer_row.setVisible(settings.backend == "genicam")
        form.labelForField(producer_row).setVisible(settings.backend == "genicam")
        self.note = QLabel("Settings the camera lacks or refuses are named in the status line when it connects.")
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)

        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.browse.clicked.connect(self._browse)
        self.trigger.currentIndexChanged.connect(self._trigger_changed)
        self.set_settings(settings)

    def set_settings(self, s: CameraSettings) -> None:
        self.serial.setCurrentText(s.serial)
        self.producer.setText(s.producer)
        for spin, value in ((self.exposure, s.exposure_us), (self.gain, s.gain_db), (self.frame_rate, s.frame_rate)):
            spin.setValue(spin.minimum() if value is None else value)
        self.pixel_format.setCurrentText(s.pixel_format)
        self.trigger.setCurrentIndex(self.trigger.findData(s.trigger.value))
        self.line.setCurrentText(s.trigger_line)
        self.edge.setCurrentIndex(self.edge.findData(s.trigger_edge))
        self._features = dict(s.features)
        self._trigger_changed()

    def settings(self) -> CameraSettings:
        def value(spin: QDoubleSpinBox) -> float | None:
            return None if spin.value() == spin.minimum() else spin.value()

        return CameraSettings(
            backend=self._backend,
            serial=self.serial.currentText().strip(),
            producer=self.producer.text().strip(),
            exposure_us=value(self.exposure),
            gain_db=value(self.gain),
            pixel_format=self.pixel_format.currentText().strip(),
            frame_rate=value(self.frame_rate),
            trigger=TriggerMode(self.trigger.currentData()),
            trigger_line=self.line.currentText().strip() or "Line1",
            trigger_edge=str(self.edge.currentData()),
            features=self._features,
        )

    def _trigger_changed(self) -> None:
        hardware = self.trigger.currentData() == TriggerMode.HARDWARE.value
        self.line.setEnabled(hardware)
        self.edge.setEnabled(hardware)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose the GenTL producer", self.producer.text(), "GenTL producers (*.cti);;All files (*)"
        )
        if path:
            self.producer.setText(path)
