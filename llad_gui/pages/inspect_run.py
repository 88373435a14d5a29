"""The running inspection behind the Inspect page: one inference worker for the page's lifetime and one
acquisition worker per opened source, joined by a one-slot :class:`~llad_gui.workers.inference.Mailbox`.

It only starts, commands and stops threads and relays their signals (queued onto the GUI thread), so the
page stays layout and wiring.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.lineio.camera_trigger import TriggeredFrames
from llad_gui.workers.acquisition import AcquisitionWorker, SourceSpec
from llad_gui.workers.inference import InferenceWorker, Mailbox


class InspectionRun(QObject):
    """Owns the workers. Signals mirror theirs: ``resultReady``, ``status``, ``position``, ``playing``,
    ``failed``; ``runningChanged(bool)`` when a source starts or ends."""

    resultReady = Signal(object)
    status = Signal(object)
    position = Signal(int, int)
    playing = Signal(bool)
    failed = Signal(str)
    runningChanged = Signal(bool)

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.mailbox = Mailbox()
        self.inference = InferenceWorker(state, self.mailbox)
        self.inference.resultReady.connect(self.resultReady)
        self.inference.failed.connect(self.failed)
        self.inference.start()
        self.acquisition: AcquisitionWorker | None = None
        self.triggered = TriggeredFrames()  # hands a camera's frame to a line trigger (see LineIOController)
        self.spec: SourceSpec | None = None

    @property
    def running(self) -> bool:
        return self.acquisition is not None and self.acquisition.isRunning()

    @property
    def indexed(self) -> bool:
        return self.acquisition is not None and self.acquisition.indexed

    @property
    def is_playing(self) -> bool:
        return self.running and self.acquisition.is_playing

    def start(self, spec: SourceSpec) -> None:
        """Stop the current source and start ``spec``; a source that cannot be built is reported."""
        self.stop()
        try:
            source = spec.build()
        except (ValueError, OSError) as exc:
            from core.sources import SourceStatus, StatusKind

            self.status.emit(SourceStatus(StatusKind.DISCONNECTED, f"cannot use this source: {exc}"))
            return
        self.mailbox.clear()
        worker = AcquisitionWorker(source, self.mailbox)
        worker.triggered = self.triggered
        worker.status.connect(self.status)
        worker.position.connect(self.position)
        worker.playing.connect(self.playing)
        worker.finished.connect(self._finished)
        self.acquisition, self.spec = worker, spec
        worker.start()
        self.runningChanged.emit(True)

    def _finished(self) -> None:
        if self.acquisition is not None and self.acquisition is self.sender():
            self.runningChanged.emit(False)

    def stop(self) -> None:
        """Stop the source and wait for its thread (a camera read returns within a frame interval)."""
        worker, self.acquisition = self.acquisition, None
        if worker is None:
            return
        worker.stop()
        worker.wait(10_000)
        worker.deleteLater()
        self.mailbox.clear()
        self.runningChanged.emit(False)

    def step(self, delta: int) -> bool:
        if not (self.running and self.indexed):
            return False
        self.acquisition.step(delta)
        return True

    def capture(self) -> bool:
        if not self.running:
            return False
        self.acquisition.capture()
        return True

    def play(self, rate: float) -> None:
        if self.running:
            self.acquisition.play(rate)

    def pause(self) -> None:
        if self.running:
            self.acquisition.pause()

    def shutdown(self) -> None:
        """Stop everything; the inference worker finishes the frame it is on."""
        self.stop()
        self.inference.stop()
        self.inference.wait(30_000)
