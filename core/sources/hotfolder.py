"""A hot folder: inspect each new image that another program (a camera's own software, a PLC's FTP upload)
drops into a folder.

Such programs write files in pieces, so a file that has just appeared may be half written. A new file is
read only once its size and modification time are unchanged across two polls *and* it decodes; if it is
still unreadable ``settle_timeout`` seconds after it last changed, it is reported as a
:class:`~core.sources.base.LoadProblem`. Files present when the source opens are ignored unless
``include_existing`` is set. A file rewritten under the same name counts as new again.

Polling uses ``os.scandir`` plus one ``stat`` per file and poll: no extra dependency, and it works on network
shares where change notifications do not. Keep the folder tidy (move inspected files away) if it grows to
tens of thousands of files.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from core.data.io import is_image_file, load_image
from core.errors import ImageLoadError
from core.sources.base import FrameSource, LoadProblem, SourceError, SourceEvent, SourceStatus, StatusKind
from core.types import Frame


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    changed_at: float


class HotFolderSource(FrameSource):
    """New images in ``folder``, each delivered once when completely written; polls every ``poll_interval`` s."""

    live = True

    def __init__(
        self,
        folder: str | Path,
        poll_interval: float = 0.2,
        *,
        include_existing: bool = False,
        settle_timeout: float = 5.0,
        name: str | None = None,
    ) -> None:
        self.folder = Path(folder).expanduser()
        super().__init__(name or f"hotfolder:{self.folder}")
        self.poll_interval = poll_interval
        self.include_existing = include_existing
        self.settle_timeout = settle_timeout
        self._pending: dict[str, _Seen] = {}
        self._done: dict[str, tuple[int, int]] = {}
        self._ready: deque[SourceEvent] = deque()
        self._count = 0
        self._folder_lost = False

    def _scan(self) -> list[tuple[str, str, int, int]]:
        found = []
        with os.scandir(self.folder) as entries:
            for e in entries:
                if e.name.startswith(".") or not is_image_file(e.name):
                    continue
                try:
                    if not e.is_file():
                        continue
                    st = e.stat()
                except OSError:  # removed between listing and stat
                    continue
                found.append((e.name, e.path, st.st_size, st.st_mtime_ns))
        return sorted(found)

    def _open(self) -> None:
        if not self.folder.is_dir():
            raise SourceError(f"no such folder: {self.folder}")
        self._pending.clear()
        self._ready.clear()
        self._folder_lost = False
        self._done = {} if self.include_existing else {n: (s, m) for n, _, s, m in self._scan()}
        existing = "" if self.include_existing else f", ignoring the {len(self._done)} already there"
        self._ready.append(SourceStatus(StatusKind.INFO, f"watching {self.folder} for new images{existing}", self.name))

    def _read(self) -> SourceEvent | None:
        while not self._ready:
            self._poll()
            if not self._ready and self._wait(self.poll_interval):
                return None
        return self._ready.popleft()

    def _poll(self) -> None:
        try:
            entries = self._scan()
        except OSError as exc:
            if not self._folder_lost:
                self._folder_lost = True
                msg = f"cannot read {self.folder} ({exc.strerror or exc}); still trying"
                self._ready.append(SourceStatus(StatusKind.DISCONNECTED, msg, self.name, self.poll_interval))
            return
        if self._folder_lost:
            self._folder_lost = False
            self._ready.append(SourceStatus(StatusKind.RECONNECTED, f"{self.folder} is readable again", self.name))
        now = time.monotonic()
        present = set()
        for name, path, size, mtime in entries:
            present.add(name)
            if self._done.get(name) == (size, mtime):
                continue
            seen = self._pending.get(name)
            if seen is None or (seen.size, seen.mtime_ns) != (size, mtime):
                self._pending[name] = _Seen(size, mtime, now)  # new or still changing: look again next poll
                continue
            self._try(name, path, seen, now)
        for table in (self._pending, self._done):
            for name in [n for n in table if n not in present]:
                del table[name]

    def _try(self, name: str, path: str, seen: _Seen, now: float) -> None:
        try:
            image = load_image(path)
        except ImageLoadError as exc:
            if now - seen.changed_at >= self.settle_timeout:
                self._finish(name, seen)
                reason = f"{exc.reason} (unchanged for {self.settle_timeout:g} s)"
                self._ready.append(LoadProblem(path, reason, self.name, -1))
            return
        try:
            st = os.stat(path)
        except OSError:
            return
        if (st.st_size, st.st_mtime_ns) != (seen.size, seen.mtime_ns):  # written to while we decoded it
            self._pending[name] = _Seen(st.st_size, st.st_mtime_ns, now)
            return
        self._finish(name, seen)
        self._ready.append(Frame(image=image, source=self.name, ref=path, index=self._count))
        self._count += 1

    def _finish(self, name: str, seen: _Seen) -> None:
        self._pending.pop(name, None)
        self._done[name] = (seen.size, seen.mtime_ns)
