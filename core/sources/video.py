"""Cameras, network streams and video files through OpenCV's ``VideoCapture``.

A factory camera gets unplugged, a network stream drops, a PoE switch reboots: a live source must not end the
inspection for that. When a live source stops delivering frames it reports ``DISCONNECTED`` with the delay
before the next attempt, and reconnects with exponential back-off (0.5 s doubling to 10 s by default) until
it succeeds or is stopped; :meth:`~core.sources.base.FrameSource.stop` ends a back-off wait at once. A video
file instead ends with an ``END`` status (or starts again with ``loop=True``).

What cannot be interrupted is a call inside OpenCV itself: a network stream is opened with open/read
timeouts (``io_timeout``) so such a call returns within that time; a camera read returns within a frame
interval.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from core.data.io import load_image
from core.errors import ImageLoadError
from core.sources.base import FrameSource, LoadProblem, Reconnector, SourceError, SourceEvent, SourceStatus, StatusKind
from core.types import Frame


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to show in a status line or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class VideoSource(FrameSource):
    """Frames from a camera index (``0`` or ``"0"``), a stream URL (``rtsp://``, ``http://``) or a video file.

    ``live`` defaults to True for cameras, URLs and ``/dev/`` devices: those reconnect when frames stop. A file
    opened with ``live=True`` behaves like a camera (useful to rehearse a line from a recording).
    ``resolution`` (width, height) is requested from a camera; the camera may choose another, which is
    reported. ``realtime=True`` paces a video file at its own frame rate instead of as fast as possible.
    """

    def __init__(
        self,
        target: str | int | Path,
        resolution: tuple[int, int] | None = None,
        *,
        loop: bool = False,
        live: bool | None = None,
        realtime: bool = False,
        backoff_start: float = 0.5,
        backoff_max: float = 10.0,
        io_timeout: float = 5.0,
        name: str | None = None,
    ) -> None:
        self.target: int | str | Path
        if isinstance(target, int) or (isinstance(target, str) and target.strip().isdigit()):
            self.target, self.kind, label = int(target), "camera", f"camera {int(target)}"
        elif isinstance(target, str) and "://" in target:
            self.target, self.kind, label = target, "stream", redact_url(target)
        else:
            path = Path(target).expanduser()
            device = path.as_posix().startswith("/dev/")
            self.target, self.kind, label = path, "device" if device else "file", str(path)
        short = redact_url(str(self.target)) if self.kind == "stream" else str(self.target)
        super().__init__(name or f"{self.kind}:{short}")
        self.label = label
        self.live = (self.kind != "file") if live is None else live
        self.resolution = resolution
        self.loop = loop
        self.realtime = realtime
        self.backoff = Reconnector(backoff_start, backoff_max)
        self.io_timeout = io_timeout
        self._cap: cv2.VideoCapture | None = None
        self._count = 0
        self._frames_this_pass = 0
        self._ended = False
        self._next_due = 0.0
        self._frame_interval = 0.0

    # ---- connecting -------------------------------------------------------------------------------------

    def _capture(self) -> cv2.VideoCapture | None:
        if self.kind == "stream":
            ms = int(self.io_timeout * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
            cap = cv2.VideoCapture(str(self.target), cv2.CAP_FFMPEG, params)
        elif self.kind == "camera":
            cap = cv2.VideoCapture(int(self.target))
        else:
            cap = cv2.VideoCapture(str(self.target))
        if not cap.isOpened():
            cap.release()
            return None
        if self.resolution and self.kind in ("camera", "device"):
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, int(self.resolution[0]))
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, int(self.resolution[1]))
        fps = cap.get(cv2.CAP_PROP_FPS)
        self._frame_interval = 1.0 / fps if self.realtime and fps and fps > 0 else 0.0
        return cap

    def _size_note(self) -> str:
        assert self._cap is not None
        w, h = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w <= 0 or h <= 0:
            return ""
        if self.resolution and (w, h) != tuple(self.resolution):
            return f" ({w}x{h}; {self.resolution[0]}x{self.resolution[1]} was asked for)"
        return f" ({w}x{h})"

    def _open(self) -> None:
        self._release()
        self.backoff.reset()
        self._ended = False
        if self.live:
            return  # connected by the first read, which reports CONNECTED or DISCONNECTED
        if not Path(self.target).is_file():
            raise SourceError(f"no such video file: {self.target}")
        self._cap = self._capture()
        if self._cap is None:
            raise SourceError(f"cannot open video {self.target} (not a video, or a codec OpenCV lacks)")
        self._frames_this_pass = 0

    def _close(self) -> None:
        self._release()

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _disconnected(self, reason: str) -> SourceStatus:
        self._release()
        return self.backoff.lost(reason, self.name)

    def _connect(self) -> SourceStatus:
        if self.backoff.wait(self._wait):
            return SourceStatus(StatusKind.INFO, "stopped", self.name)
        self._cap = self._capture()
        if self._cap is None:
            return self._disconnected(f"cannot open {self.label}")
        kind = self.backoff.connected()
        self._frames_this_pass = 0  # the back-off resets on the first frame, not here: a camera that opens
        # but never delivers must not be retried every 0.5 s forever
        return SourceStatus(kind, f"{kind.value} to {self.label}{self._size_note()}", self.name)

    # ---- reading ----------------------------------------------------------------------------------------

    def _read(self) -> SourceEvent | None:
        if self._ended:
            return None
        if self._cap is None:
            if not self.live:
                return None
            status = self._connect()
            return None if self.stopped else status
        if self._frame_interval:
            if self._wait(self._next_due - time.monotonic()):
                return None
            self._next_due = max(self._next_due + self._frame_interval, time.monotonic())
        ok, frame = self._cap.read()
        if ok and frame is not None and frame.size:
            return self._frame(frame)
        if self.live:
            return self._disconnected(f"no frames from {self.label}")
        if self.loop and self._frames_this_pass > 0:
            self._release()
            self._cap = self._capture()
            self._frames_this_pass = 0
            if self._cap is not None:
                return SourceStatus(StatusKind.INFO, f"end of video {self.label}, starting again", self.name)
        self._release()
        self._ended = True
        return SourceStatus(StatusKind.END, f"end of video {self.label} ({self._count} frames)", self.name)

    def _frame(self, frame: np.ndarray) -> Frame | LoadProblem:
        index = self._count
        self._count += 1
        self.backoff.frame()
        self._frames_this_pass += 1
        ref = str(self.target) if self.kind in ("file", "device") else self.label
        try:
            return Frame(image=load_image(frame, bgr=True), source=self.name, ref=ref, index=index)
        except ImageLoadError as exc:
            return LoadProblem(ref, exc.reason, self.name, index)
