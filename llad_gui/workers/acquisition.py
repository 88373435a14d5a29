"""Acquisition off the GUI thread: one :class:`AcquisitionWorker` runs one frame source and fills the mailbox.

Two kinds of source, one worker:

- *indexed* sources (folders, paired folders, a list of dropped files) are driven by commands: step to the
  next or previous image, inspect the current one again, play at a set rate (0 = as fast as the model goes),
  pause. Every image is inspected: the worker waits for the mailbox slot.
- *streams* (camera, video file, network stream, hot folder) are read continuously. A live one overwrites the
  slot (newest frame wins); while paused its frames are read and discarded so the camera buffer never goes
  stale. ``capture()`` (Space) sends the newest frame again.

Every :class:`~core.sources.SourceStatus` (connected, disconnected with its retry delay, end) is forwarded to
the GUI as is; the back-off itself lives in :class:`core.sources.VideoSource`.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from core.errors import LladError
from core.sources import (
    CameraSettings,
    FileListSource,
    FolderSource,
    FrameSource,
    HotFolderSource,
    IndexedSource,
    IndustrialCameraSource,
    LoadProblem,
    PairedFolderSource,
    SourceStatus,
    StatusKind,
    VideoSource,
    camera_source,
    redact_url,
)
from core.types import Frame
from llad_gui.workers.inference import Mailbox


class AcquisitionWorker(QThread):
    """Reads ``source`` on its own thread and puts frames (and unreadable items) into ``mailbox``.

    Signals:
        status(object): a :class:`SourceStatus` to show (disconnected, reconnected, end, info).
        position(int, int): (current index, number of items) of an indexed source.
        playing(bool): whether frames flow on their own.
    """

    status = Signal(object)
    position = Signal(int, int)
    playing = Signal(bool)

    def __init__(self, source: FrameSource, mailbox: Mailbox, parent=None, *, play: bool | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.mailbox = mailbox
        self.indexed = isinstance(source, IndexedSource)
        self._stop = threading.Event()
        self._commands: queue.Queue[tuple[str, float]] = queue.Queue()
        self._playing = (not self.indexed) if play is None else play
        self._interval = 0.0
        self._last: Frame | None = None
        self._capture = threading.Event()
        self.triggered = None  # a TriggeredFrames: a line trigger waiting for this camera's frame takes it
        if self.indexed and not self._playing:
            self._commands.put(("step", 1.0))  # show the first image at once, before any later command

    # ---- commands (any thread) --------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self.source.stop()

    def step(self, delta: int) -> None:
        self._commands.put(("step", float(delta)))

    def capture(self) -> None:
        """Inspect the current image again (indexed), the newest camera frame (stream), or, with an industrial
        camera on software trigger, take a picture (its frame comes through the usual path)."""
        if self.indexed:
            self._commands.put(("current", 0.0))
            return
        if isinstance(self.source, IndustrialCameraSource):
            self.source.trigger()  # no-op unless on software trigger; its frame is the next one, even when paused
        self._capture.set()

    def play(self, rate: float = 0.0) -> None:
        """Play at ``rate`` images a second (0 = as fast as inspection goes)."""
        self._commands.put(("play", float(rate)))

    def pause(self) -> None:
        self._commands.put(("pause", 0.0))

    def seek(self, index: int) -> None:
        self._commands.put(("seek", float(index)))

    @property
    def is_playing(self) -> bool:
        return self._playing

    # ---- thread ----------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.source.open()
        except (LladError, OSError) as exc:
            self.status.emit(SourceStatus(StatusKind.DISCONNECTED, f"cannot open {self.source.name}: {exc}"))
            return
        try:
            if self.indexed:
                self._run_indexed()
            else:
                self._run_stream()
        except Exception as exc:  # never let a source fault pass silently
            traceback.print_exc()
            self.status.emit(SourceStatus(StatusKind.INFO, f"source stopped: {type(exc).__name__}: {exc}"))
        finally:
            self.source.close()

    def _deliver(self, item: Frame | LoadProblem, wait: bool) -> None:
        if isinstance(item, Frame):
            self._last = item
        self.mailbox.put(item, wait=wait, stop=self._stop)

    def _set_playing(self, value: bool) -> None:
        if value != self._playing:
            self._playing = value
            self.playing.emit(value)

    def _run_stream(self) -> None:
        wait = not self.source.live
        self.playing.emit(self._playing)
        for event in self.source.events(self._stop):
            self._drain_stream_commands()
            if isinstance(event, SourceStatus):
                self.status.emit(event)
                continue
            if isinstance(event, Frame) and self.triggered is not None and self.triggered.offer(event):
                continue  # the line's picture: the line inspects it and the page shows that result
            if self._capture.is_set() and isinstance(event, Frame):
                self._capture.clear()
                self._deliver(event, wait)
            elif self._playing:
                self._deliver(event, wait or isinstance(event, LoadProblem))
            elif isinstance(event, Frame):
                self._last = event
            if not self._playing and wait:  # a paused file waits for a command instead of racing ahead
                while not self._stop.is_set() and not self._playing and not self._capture.is_set():
                    self._drain_stream_commands(block=0.1)

    def _drain_stream_commands(self, block: float = 0.0) -> None:
        try:
            while True:
                cmd, _ = self._commands.get(timeout=block) if block else self._commands.get_nowait()
                block = 0.0
                if cmd == "play":
                    self._set_playing(True)
                elif cmd == "pause":
                    self._set_playing(False)
                elif cmd in ("current", "step") and self._last is not None:
                    self._capture.set()
        except queue.Empty:
            return

    def _run_indexed(self) -> None:
        source: IndexedSource = self.source  # type: ignore[assignment]
        self.position.emit(source.index, len(source))
        self.playing.emit(self._playing)
        next_due = 0.0
        while not self._stop.is_set():
            timeout = max(0.0, next_due - time.monotonic()) if self._playing else 0.2
            try:
                cmd, arg = self._commands.get(timeout=timeout)
            except queue.Empty:
                if self._playing:
                    next_due = time.monotonic() + self._interval
                    self._read_next(source)
                continue
            if cmd == "play":
                self._interval = 1.0 / arg if arg > 0 else 0.0
                if source.index + 1 >= len(source):
                    source.seek(0)  # playing from the end starts over
                self._set_playing(True)
                next_due = 0.0
            elif cmd == "pause":
                self._set_playing(False)
            elif cmd == "step":
                self._set_playing(False)
                item = source.next() if arg > 0 else source.previous()
                if item is None:
                    edge = "last" if arg > 0 else "first"
                    self.status.emit(SourceStatus(StatusKind.INFO, f"this is the {edge} image", source.name))
                else:
                    self._deliver(item, wait=True)
            elif cmd == "current":
                if 0 <= source.index < len(source):
                    self._deliver(source.frame_at(source.index), wait=True)
                elif len(source):
                    self._deliver(source.next(), wait=True)
            elif cmd == "seek" and 0 <= int(arg) < len(source):
                self._set_playing(False)
                self._deliver(source.frame_at(int(arg)), wait=True)
            self.position.emit(source.index, len(source))

    def _read_next(self, source: IndexedSource) -> None:
        event = source.read()
        if event is None or isinstance(event, SourceStatus):
            self._set_playing(False)
            source.seek(len(source))  # the last image stays current: Previous goes to the one before it
            if isinstance(event, SourceStatus):
                self.status.emit(event)
            return
        self._deliver(event, wait=True)
        self.position.emit(source.index, len(source))


SOURCE_KINDS = {
    "folder": "Folder",
    "paired": "Paired folders",
    "hotfolder": "Hot folder",
    "camera": "Camera",
    "video": "Video file",
    "stream": "Network stream",
    "files": "Image files",
    "basler": "Basler camera",
    "genicam": "GenICam camera",
}
CAMERA_KINDS = ("basler", "genicam")  # industrial cameras: ``target`` is the serial, ``camera`` the settings


@dataclass
class SourceSpec:
    """What the operator chose as input; saved in the settings and turned into a source by :meth:`build`.

    ``target`` is a folder, file, camera index or URL; ``partner`` the well-lit folder of paired input;
    ``resolution`` (w, h) is asked of a camera; ``files`` lists images opened by hand; ``camera`` holds the
    :class:`~core.sources.CameraSettings` (as a dict) of an industrial camera, whose serial is ``target``.
    """

    kind: str
    target: str = ""
    partner: str = ""
    resolution: tuple[int, int] | None = None
    files: list[str] = field(default_factory=list)
    camera: dict | None = None

    def camera_settings(self) -> CameraSettings:
        """The industrial camera's settings, the chosen serial (``target``) winning over the stored one."""
        settings = CameraSettings.from_dict({**(self.camera or {}), "backend": self.kind})
        if self.target:
            settings.serial = self.target
        return settings

    def build(self) -> FrameSource:
        if self.kind == "folder":
            return FolderSource(self.target)
        if self.kind == "paired":
            return PairedFolderSource(self.partner, self.target)
        if self.kind == "hotfolder":
            return HotFolderSource(self.target)
        if self.kind == "camera":
            return VideoSource(int(self.target or 0), self.resolution)
        if self.kind == "video":
            # a recording rehearses the line: paced at its own rate, and treated as a camera that may drop out
            return VideoSource(self.target, live=True, realtime=True)
        if self.kind == "stream":
            return VideoSource(self.target)
        if self.kind == "files":
            return FileListSource(self.files or [self.target])
        if self.kind in CAMERA_KINDS:
            return camera_source(self.camera_settings())
        raise ValueError(f"unknown source kind {self.kind!r}")

    def label(self) -> str:
        if self.kind == "camera":
            res = f" {self.resolution[0]}x{self.resolution[1]}" if self.resolution else ""
            return f"camera {self.target or 0}{res}"
        if self.kind == "stream":
            return redact_url(self.target)
        if self.kind in CAMERA_KINDS:
            return f"{SOURCE_KINDS[self.kind]} {self.target or '(first found)'}"
        if self.kind == "files" and len(self.files) > 1:
            return f"{len(self.files)} image files"
        return f"{SOURCE_KINDS.get(self.kind, self.kind)}: {Path(self.target).name or self.target}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["resolution"] = list(self.resolution) if self.resolution else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SourceSpec | None:
        try:
            res = d.get("resolution")
            return cls(
                kind=str(d["kind"]),
                target=str(d.get("target", "")),
                partner=str(d.get("partner", "")),
                resolution=(int(res[0]), int(res[1])) if res else None,
                files=[str(f) for f in d.get("files", [])],
                camera=dict(d["camera"]) if isinstance(d.get("camera"), dict) else None,
            )
        except (KeyError, TypeError, ValueError, IndexError):
            return None

    @classmethod
    def guess(cls, text: str) -> SourceSpec:
        """A spec from a command-line ``--source``: camera index, URL, folder, video or image file."""
        from core.data.io import is_image_file

        text = text.strip()
        if text.isdigit():
            return cls("camera", text)
        if "://" in text:
            return cls("stream", text)
        path = Path(text).expanduser()
        if path.is_dir():
            return cls("folder", str(path))
        if is_image_file(path):
            return cls("files", str(path), files=[str(path)])
        return cls("video", str(path))
