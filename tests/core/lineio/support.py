"""Helpers of the line I/O tests: free ports, polling as a PLC polls, and a hub over a real file source."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from core.lineio import LineConfig, LineHub, SourceAcquirer, Station
from core.log import InspectionLog
from core.sources.folder import FileListSource


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    """Poll ``condition`` (as a PLC or a client polls) until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


class Line:
    """A hub on ``config`` whose triggers inspect ``images`` in turn (a real file source, replayed)."""

    def __init__(self, config: LineConfig, predictor, images: list[Path], log: InspectionLog, acquire=None):
        self.source = FileListSource(images, name="line-test")
        self.source.open()
        self.station = Station(predictor, acquire or SourceAcquirer(self.source), log=log, station=config.station)
        self.hub = LineHub(config, self.station)
        self.log = log

    def __enter__(self) -> Line:
        self.hub.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hub.stop()
        self.source.close()
