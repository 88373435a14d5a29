"""A line trigger that takes its picture with the camera: software trigger, wait for that frame, inspect it.

A camera is read by one thread only (the GUI's acquisition worker, or a :class:`CameraReader` when no GUI runs),
so the line does not read it itself. :class:`TriggeredFrames` is the hand-over: while a line trigger waits for
its picture the reader *offers* each frame to it, and the frame goes to the line instead of the live view;
frames that arrive while nobody waits (free run, the operator's Space key, a picture that came too late) go
their usual way. :class:`CameraTriggerAcquirer` is the station's ``acquire``: it waits for the camera to be
connected and ready, fires one software trigger and waits for the frame, each within ``timeout`` seconds, so a
camera that is unplugged or never delivers becomes an error code for the PLC, never a hang. A camera that
disconnects and comes back is found again by its own source; the next trigger then works as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Protocol

from core.sources.base import FrameSource, SourceStatus
from core.types import Frame

from .station import AcquisitionError, AcquisitionTimeout

RETRY_SECONDS = 0.05  # pause between attempts to trigger a camera that is reconnecting or not ready yet


class SoftwareTriggered(Protocol):
    """A camera with a software trigger: ``trigger()`` is True when exactly one frame will follow."""

    def trigger(self) -> bool: ...


class TriggeredFrames:
    """Hands frames from the thread that reads a camera to a line trigger waiting for one. Thread-safe."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed = False
        self._frame: Frame | None = None
        self.taken = 0

    @property
    def waiting(self) -> bool:
        return self._armed

    def offer(self, frame: Frame) -> bool:
        """The reader's side: True when a trigger was waiting and took ``frame`` (use it nowhere else)."""
        with self._cond:
            if not self._armed or self._frame is not None:
                return False
            self._frame = frame
            self.taken += 1
            self._cond.notify_all()
            return True

    @contextmanager
    def armed(self):
        """Wait for frames inside this block; frames offered before or after it are refused."""
        with self._cond:
            self._armed, self._frame = True, None
        try:
            yield self
        finally:
            with self._cond:
                self._armed, self._frame = False, None

    def wait(self, timeout: float) -> Frame | None:
        """The frame offered since :meth:`armed` began, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._frame is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self._frame


class CameraTriggerAcquirer:
    """The station's ``acquire`` for a camera on software trigger; see the module docstring.

    ``timeout`` (seconds) bounds both the wait for a camera that is reconnecting or not ready and the wait
    for the frame after the trigger. Raises :class:`AcquisitionError` (not connected / not ready) or
    :class:`AcquisitionTimeout` (no frame); the station turns each into an error code.
    """

    def __init__(self, camera: SoftwareTriggered, frames: TriggeredFrames, timeout: float = 2.0) -> None:
        self.camera = camera
        self.frames = frames
        self.timeout = timeout
        self._lock = threading.Lock()

    def __call__(self) -> Frame:
        with self._lock, self.frames.armed():
            deadline = time.monotonic() + self.timeout
            while not self.camera.trigger():
                if time.monotonic() + RETRY_SECONDS > deadline:
                    raise AcquisitionError(f"camera not connected or not ready for a trigger within {self.timeout:g} s")
                time.sleep(RETRY_SECONDS)
            frame = self.frames.wait(max(0.0, deadline - time.monotonic()))
            if frame is None:
                raise AcquisitionTimeout(f"the camera took the trigger but sent no frame within {self.timeout:g} s")
            return frame


class CameraReader:
    """Reads a camera on its own thread when no GUI does: frames go to ``frames`` (those nobody waits for are
    dropped), status changes (connected, lost, reconnected) to ``on_status``. Opens the source on :meth:`start`,
    closes it when stopped."""

    def __init__(
        self,
        source: FrameSource,
        frames: TriggeredFrames,
        on_status: Callable[[SourceStatus], None] | None = None,
    ) -> None:
        self.source = source
        self.frames = frames
        self.on_status = on_status
        self.dropped = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.source.open()
        self._thread = threading.Thread(target=self._run, name=f"llad-camera-{self.source.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self.source.events():
                if isinstance(event, Frame):
                    self.dropped += not self.frames.offer(event)
                elif isinstance(event, SourceStatus) and self.on_status is not None:
                    self.on_status(event)
        finally:
            self.source.close()

    def stop(self, timeout: float = 10.0) -> None:
        self.source.stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> CameraReader:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
