"""What the Basler (pypylon) and GenICam (harvesters) cameras share: connecting by serial number, applying a
recipe's :class:`~core.sources.camera_settings.CameraSettings`, software triggers, and losing and finding the
camera again.

An industrial camera is a live :class:`~core.sources.base.FrameSource`: the acquisition worker reads it like a
webcam (newest frame wins). A camera that is missing or disappears is reported ``DISCONNECTED`` with the delay
before the next attempt and searched for again with exponential back-off (0.5 s doubling to 10 s), by the same
:class:`~core.sources.base.Reconnector` as :class:`~core.sources.video.VideoSource`; when found it reports
``RECONNECTED`` with the settings applied again. A setting the camera refuses or lacks is reported once as an
``INFO`` status and the camera is used anyway. A back-end only describes its library (:class:`CameraDriver`); the
waiting and reporting live here.
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.data.io import load_image
from core.errors import ImageLoadError
from core.sources.base import FrameSource, LoadProblem, Reconnector, SourceEvent, SourceStatus, StatusKind
from core.sources.camera_settings import BACKENDS, CameraSettings, TriggerMode
from core.types import Frame

POLL_SECONDS = 0.1  # a grab waits at most this long at a time, so stop() and loss are seen promptly


class CameraLost(Exception):
    """The camera stopped answering (unplugged, powered off, removed by its driver)."""


class CameraNotFound(Exception):
    """No camera of the wanted serial number (or no camera at all, or no producer) is there right now."""


@dataclass(frozen=True)
class CameraInfo:
    """One camera a back-end can see: what the device list shows and what a recipe stores (the serial)."""

    backend: str
    serial: str
    model: str
    vendor: str = ""

    @property
    def label(self) -> str:
        return f"{self.vendor} {self.model} ({self.serial})".strip()


@dataclass(frozen=True)
class BackendStatus:
    """Whether a back-end can be used here, and if not, why (shown in the source list and the self-test)."""

    backend: str
    available: bool
    reason: str = ""
    version: str = ""

    @property
    def label(self) -> str:
        return BACKENDS[self.backend] if self.available else f"{BACKENDS[self.backend]}: {self.reason}"


class FeatureAccess(ABC):
    """Read and write GenICam features by name; each back-end wraps its own node map in one."""

    @abstractmethod
    def has(self, name: str) -> bool:
        """The feature exists and can be written now."""

    @abstractmethod
    def get(self, name: str) -> object | None:
        """The feature's value now, or None when the camera has no readable feature of that name."""

    @abstractmethod
    def set(self, name: str, value: object) -> object:
        """Write ``value`` (numbers are clamped into the feature's range); returns the value now in effect."""

    @abstractmethod
    def choices(self, name: str) -> tuple[str, ...]:
        """The symbolic values of an enumeration feature (empty for other kinds)."""


def apply_settings(features: FeatureAccess, s: CameraSettings) -> list[str]:
    """Write ``s`` into a camera; returns one note for each setting the camera lacks or changed."""
    notes: list[str] = []

    def write(label: str, names: tuple[str, ...], value: object) -> None:
        name = next((n for n in names if features.has(n)), None)
        if name is None:
            notes.append(f"this camera has no {label} setting ({' / '.join(names)}); left as it is")
            return
        try:
            got = features.set(name, value)
        except Exception as exc:  # each library raises its own: report it, keep the camera
            notes.append(f"{label} {value!r} refused: {_short(exc)}")
            return
        if isinstance(value, float) and isinstance(got, int | float) and abs(float(got) - value) > 1e-3 * abs(value):
            notes.append(f"{label} {value:g} is out of the camera's range; {float(got):g} is used")

    if s.pixel_format:
        write("pixel format", ("PixelFormat",), s.pixel_format)
    if s.exposure_us is not None:
        if features.has("ExposureAuto"):
            write("automatic exposure", ("ExposureAuto",), "Off")
        write("exposure", ("ExposureTime", "ExposureTimeAbs"), float(s.exposure_us))
    if s.gain_db is not None:
        if features.has("GainAuto"):
            write("automatic gain", ("GainAuto",), "Off")
        write("gain", ("Gain", "GainAbs"), float(s.gain_db))
    if s.frame_rate is not None:
        if features.has("AcquisitionFrameRateEnable"):
            write("frame rate limit", ("AcquisitionFrameRateEnable",), True)
        write("frame rate", ("AcquisitionFrameRate", "AcquisitionFrameRateAbs"), float(s.frame_rate))
    if features.has("TriggerSelector") and "FrameStart" in features.choices("TriggerSelector"):
        write("trigger selector", ("TriggerSelector",), "FrameStart")
    if s.trigger is TriggerMode.FREE_RUN:
        if features.has("TriggerMode"):
            write("trigger mode", ("TriggerMode",), "Off")
    else:
        source = "Software" if s.trigger is TriggerMode.SOFTWARE else s.trigger_line
        write("trigger source", ("TriggerSource",), source)
        if s.trigger is TriggerMode.HARDWARE:
            write("trigger edge", ("TriggerActivation",), s.trigger_edge)
        write("trigger mode", ("TriggerMode",), "On")
    for name, value in s.features.items():
        write(name, (name,), value)
    return notes


def release_quietly(*steps: Callable[[], object]) -> None:
    """Run each step of releasing a camera, going on past any that fails: a removed device refuses some of
    them, and the library's handles must be let go regardless."""
    for step in steps:
        with contextlib.suppress(Exception):
            step()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


class CameraDriver(ABC):
    """One connected camera of one library. Created by :meth:`IndustrialCameraSource._driver`, used by the
    reading thread only, except :meth:`software_trigger`, which the source serialises with a lock."""

    info: CameraInfo
    notes: list[str]
    features: FeatureAccess

    @abstractmethod
    def grab(self, timeout: float) -> np.ndarray | str | None:
        """The next image (any dtype/shape :func:`~core.data.io.load_image` takes, RGB order), ``None`` after
        ``timeout`` seconds without one, or a text when a frame arrived damaged. Raises CameraLost."""

    @abstractmethod
    def lost(self) -> bool:
        """The library says the device is gone."""

    @abstractmethod
    def software_trigger(self) -> bool:
        """Fire the software trigger; False if the camera is not ready for one."""

    @abstractmethod
    def close(self) -> None:
        """Stop acquiring and release the device; never raises."""


class IndustrialCameraSource(FrameSource):
    """A GenICam camera chosen by a :class:`CameraSettings`, read frame by frame; see the module docstring.

    ``frame_timeout`` (seconds) is how long a free-running camera may stay silent before it counts as lost;
    a triggered camera waits for triggers as long as it takes, and is only lost when its library says so.
    Call :meth:`trigger` from any thread (a PLC handler, the REST API, the Space key) to take one picture.
    """

    live = True
    backend = ""

    def __init__(
        self,
        settings: CameraSettings,
        *,
        backoff_start: float = 0.5,
        backoff_max: float = 10.0,
        frame_timeout: float = 5.0,
        name: str | None = None,
    ) -> None:
        if settings.backend != self.backend:
            raise ValueError(f"a {self.backend} camera source needs {self.backend} settings, not {settings.backend!r}")
        super().__init__(name or f"{settings.backend}:{settings.serial or 'first'}")
        self.settings = settings
        self.backoff = Reconnector(backoff_start, backoff_max)
        self.frame_timeout = frame_timeout
        self.triggers_sent = 0
        self._driver_lock = threading.Lock()
        self._device: CameraDriver | None = None
        self._notes: list[str] = []
        self._count = 0
        self._last_frame = 0.0

    @property
    def connected(self) -> bool:
        return self._device is not None

    @property
    def info(self) -> CameraInfo | None:
        """The camera in use (serial, model), or None while not connected."""
        device = self._device
        return device.info if device is not None else None

    def trigger(self) -> bool:
        """Take one picture now (software trigger); thread-safe, returns within 0.2 s.

        True when the trigger reached the camera: exactly one frame follows, read by :meth:`read` as usual.
        False when no picture will come of it: the camera is not connected (reconnecting) or not ready for
        the next trigger yet, or the settings are not ``TriggerMode.SOFTWARE`` (free run needs none, a
        hardware trigger comes from the line).
        """
        if self.settings.trigger is not TriggerMode.SOFTWARE:
            return False
        with self._driver_lock:
            device = self._device
            if device is None:
                return False
            try:
                sent = device.software_trigger()
            except Exception:  # a camera going away while triggered: the reader reports the loss
                return False
            self.triggers_sent += int(sent)
        return sent

    def feature(self, name: str) -> object | None:
        """A GenICam feature's current value on the connected camera (None when not connected or absent)."""
        with self._driver_lock:
            device = self._device
            if device is None:
                return None
            try:
                return device.features.get(name)
            except Exception:
                return None

    # ---- back-end ----------------------------------------------------------------------------------------
    @abstractmethod
    def _driver(self) -> CameraDriver:
        """Find the camera of ``settings``, open it, apply the settings and start acquiring.

        Raises CameraNotFound (or any library error, reported as the reason to retry)."""

    # ---- protocol ----------------------------------------------------------------------------------------
    def _open(self) -> None:
        self._release()
        self.backoff.reset()
        self._notes = []

    def _close(self) -> None:
        self._release()

    def _release(self) -> None:
        with self._driver_lock:
            device, self._device = self._device, None
        if device is not None:
            device.close()

    def _disconnected(self, reason: str) -> SourceStatus:
        self._release()
        return self.backoff.lost(reason, self.name)

    def _connect(self) -> SourceStatus | None:
        if self.backoff.wait(self._wait):
            return None
        try:
            device = self._driver()
        except CameraNotFound as exc:
            return self._disconnected(str(exc))
        except Exception as exc:  # a library error while opening: the camera may be busy or rebooting
            return self._disconnected(f"cannot open {self.settings.describe()}: {_short(exc)}")
        with self._driver_lock:
            self._device = device
        kind = self.backoff.connected()
        self._notes = list(device.notes)
        self._last_frame = time.monotonic()
        return SourceStatus(kind, f"{kind.value} to {device.info.label}", self.name)

    def _read(self) -> SourceEvent | None:
        if self._device is None:
            return self._connect()
        if self._notes:
            return SourceStatus(StatusKind.INFO, f"{self._device.info.label}: {self._notes.pop(0)}", self.name)
        device = self._device
        free_run = self.settings.trigger is TriggerMode.FREE_RUN
        rate = self.settings.frame_rate
        silence = max(self.frame_timeout, 3.0 / rate) if rate else self.frame_timeout  # a slow camera may be slow
        while not self.stopped:
            if device.lost():  # checked first: some drivers still hand out queued frames of a removed device
                return self._disconnected(f"lost {device.info.label}")
            try:
                image = device.grab(POLL_SECONDS)
            except CameraLost as exc:
                return self._disconnected(f"lost {device.info.label}: {exc}")
            if isinstance(image, str):
                return LoadProblem(device.info.label, image, self.name, self._count)
            if image is not None:
                return self._frame(device, image)
            if free_run and time.monotonic() - self._last_frame > silence:
                return self._disconnected(f"no frames from {device.info.label} for {silence:g} s")
        return None

    def _frame(self, device: CameraDriver, image: np.ndarray) -> Frame | LoadProblem:
        index = self._count
        self._count += 1
        self.backoff.frame()
        self._last_frame = time.monotonic()
        ref = f"{device.info.serial}#{index}"
        try:
            return Frame(image=load_image(image), source=self.name, ref=ref, index=index)
        except ImageLoadError as exc:
            return LoadProblem(ref, exc.reason, self.name, index)
