"""The one protocol every frame source follows, and the events a source produces.

A source turns some origin of images (a folder, a camera, a hot folder) into a stream of events, so the
inspection loop, the CLI and the GUI's acquisition worker need no special case per origin:

- :class:`~core.types.Frame`: an image to inspect;
- :class:`LoadProblem`: one item could not be read (the stream goes on);
- :class:`SourceStatus`: something a person should see ("disconnected, retrying in 2 s", "end of video").

Reading is pull-based: :meth:`FrameSource.read` returns the next event, or ``None`` once the source is
finished or stopped; :meth:`FrameSource.events` wraps that in a loop. A live source may block inside
``read`` (waiting for a camera frame, a new file or a reconnect); :meth:`FrameSource.stop`, callable from any
thread, ends every wait at once, so a worker thread can always be stopped promptly.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum

from core.errors import LladError
from core.types import Frame


class SourceError(LladError):
    """A source cannot be opened at all (a missing folder, a video file that does not exist)."""


class StatusKind(str, Enum):
    """What a :class:`SourceStatus` reports."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RECONNECTED = "reconnected"
    END = "end"
    INFO = "info"


@dataclass(frozen=True)
class LoadProblem:
    """One item of a source could not be read; names the file and the reason. The source carries on."""

    path: str
    reason: str
    source: str = ""
    index: int = -1


@dataclass(frozen=True)
class SourceStatus:
    """A change of a source's state worth showing. ``retry_in`` (seconds) is set while waiting to reconnect."""

    kind: StatusKind
    message: str
    source: str = ""
    retry_in: float | None = None


SourceEvent = Frame | LoadProblem | SourceStatus


class Reconnector:
    """How a live source that lost its device (a camera, a stream) tries again, so every such source reports
    and waits alike: each failure gives a ``DISCONNECTED`` status with the delay before the next attempt, the
    delay doubling from ``start`` up to ``maximum``; a delivered frame brings it back to ``start``. The first
    connection is ``CONNECTED``, every later one ``RECONNECTED``."""

    def __init__(self, start: float = 0.5, maximum: float = 10.0) -> None:
        self.start = start
        self.maximum = maximum
        self.reset()

    def reset(self) -> None:
        """As after opening: no delay owed, the next connection is the first."""
        self.delay = self.start
        self.pending: float | None = None
        self.connected_before = False

    def lost(self, reason: str, source: str = "") -> SourceStatus:
        """A failed or lost connection: the status to report; the next attempt waits its delay."""
        delay = self.delay
        self.pending = delay
        self.delay = min(delay * 2, self.maximum)
        return SourceStatus(StatusKind.DISCONNECTED, f"{reason}; retrying in {delay:g} s", source, delay)

    def wait(self, sleep: Callable[[float], bool]) -> bool:
        """Wait out the delay owed after a failure with ``sleep`` (True when stopped); True if stopped."""
        if self.pending is None:
            return False
        if sleep(self.pending):
            return True
        self.pending = None
        return False

    def connected(self) -> StatusKind:
        """A connection was made: CONNECTED the first time since opening, RECONNECTED after that."""
        kind = StatusKind.RECONNECTED if self.connected_before else StatusKind.CONNECTED
        self.connected_before = True
        return kind

    def frame(self) -> None:
        """A frame arrived: the connection works, so the next loss starts from the shortest delay again."""
        self.delay = self.start


class FrameSource(ABC):
    """Base of every source: open, read events until ``None``, close; ``stop()`` from any thread.

    ``live`` sources (cameras, streams, hot folders) produce frames in real time and a consumer should keep
    only the newest; other sources (folders, video files) can be read as fast as they are consumed.
    Use as a context manager to open and close. A source is read by one thread at a time.
    """

    live: bool = False

    def __init__(self, name: str) -> None:
        self.name = name
        self._stop = threading.Event()
        self._opened = False

    @property
    def is_open(self) -> bool:
        return self._opened

    def open(self) -> None:
        """Prepare for reading (list files, connect); clears an earlier stop. Raises :class:`SourceError`."""
        self._stop = threading.Event()
        self._open()
        self._opened = True

    def close(self) -> None:
        """Release what ``open`` acquired. Safe to call twice; call it from the reading thread."""
        if self._opened:
            self._opened = False
            self._close()

    def stop(self) -> None:
        """Ask a reader to finish: any wait ends now and ``read`` returns ``None``. Thread-safe."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def read(self) -> SourceEvent | None:
        """The next event, or ``None`` when the source is finished or was stopped. May block if ``live``."""
        if not self._opened:
            raise SourceError(f"source {self.name} is not open")
        if self._stop.is_set():
            return None
        return self._read()

    def events(self, stop: threading.Event | None = None) -> Iterator[SourceEvent]:
        """Every event until the source ends or ``stop`` (or :meth:`stop`) is set.

        A given ``stop`` event becomes this source's stop event, so setting it also interrupts waits.
        """
        if stop is not None:
            if self._stop.is_set():  # stop() came first: keep its meaning
                stop.set()
            self._stop = stop
        while not self._stop.is_set():
            event = self.read()
            if event is None:
                return
            yield event

    def _wait(self, seconds: float) -> bool:
        """Sleep unless stopped; True if stopped."""
        return self._stop.wait(max(0.0, seconds))

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def _open(self) -> None: ...

    def _close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        pass

    @abstractmethod
    def _read(self) -> SourceEvent | None: ...
