"""Folder sources: the images of a folder (or two folders of paired images) in name order.

Besides reading in order, a folder can be stepped through by hand (``next``, ``previous``, ``seek``,
``frame_at``) as the GUI's review mode does. A file that cannot be read becomes a
:class:`~core.sources.base.LoadProblem` and the run goes on with the next one.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

from core.data.io import list_images, load_image
from core.errors import ImageLoadError
from core.sources.base import FrameSource, LoadProblem, SourceError, SourceEvent, SourceStatus, StatusKind
from core.types import Frame


class IndexedSource(FrameSource):
    """A finite source whose items can be addressed by index; reading in order ends with an END status.

    ``index`` is the position of the item delivered last (-1 before the first); ``read`` and ``next``
    deliver ``index + 1``.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._index = -1
        self._ended = False

    @property
    def index(self) -> int:
        return self._index

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _load(self, index: int) -> Frame | LoadProblem: ...

    def seek(self, index: int) -> None:
        """Make ``index`` the next item to be read (0 <= index <= len; len means "at the end")."""
        if not 0 <= index <= len(self):
            raise IndexError(f"index {index} out of range 0..{len(self)}")
        self._index = index - 1
        self._ended = False

    def frame_at(self, index: int) -> Frame | LoadProblem:
        """Load item ``index`` and make it the current one."""
        if not self._opened:
            raise SourceError(f"source {self.name} is not open")
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range 0..{len(self) - 1}")
        self._index = index
        self._ended = False
        return self._load(index)

    def next(self) -> Frame | LoadProblem | None:
        """The item after the current one, or None at the end (the position does not move then)."""
        return self.frame_at(self._index + 1) if self._index + 1 < len(self) else None

    def previous(self) -> Frame | LoadProblem | None:
        """The item before the current one, or None at the start."""
        return self.frame_at(self._index - 1) if self._index > 0 else None

    def _read(self) -> SourceEvent | None:
        if self._index + 1 < len(self):
            return self.frame_at(self._index + 1)
        if self._ended:
            return None
        self._ended = True
        self._index = len(self)
        return SourceStatus(StatusKind.END, self._end_message(), self.name)

    def _end_message(self) -> str:
        return f"end of {self.name} ({len(self)} items)"


def _require_dir(folder: Path) -> None:
    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder" if folder.exists() else f"no such folder: {folder}")


class FileListSource(IndexedSource):
    """Image files given one by one (File > Open, drag and drop), stepped through like a folder."""

    def __init__(self, paths: list[str | Path], name: str | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        super().__init__(name or (f"file:{self.paths[0]}" if len(self.paths) == 1 else f"{len(self.paths)} files"))

    def __len__(self) -> int:
        return len(self.paths)

    def _open(self) -> None:
        self._index, self._ended = -1, False

    def _load(self, index: int) -> Frame | LoadProblem:
        path = self.paths[index]
        try:
            return Frame(image=load_image(path), source=self.name, ref=str(path), index=index)
        except ImageLoadError as exc:
            return LoadProblem(str(path), exc.reason, self.name, index)


class FolderSource(FileListSource):
    """The image files of one folder, sorted by name (recursively if asked)."""

    def __init__(self, folder: str | Path, recursive: bool = False, name: str | None = None) -> None:
        self.folder = Path(folder).expanduser()
        super().__init__([], name or f"folder:{self.folder}")
        self.recursive = recursive

    def _open(self) -> None:
        _require_dir(self.folder)
        self.paths = list_images(self.folder, recursive=self.recursive)
        super()._open()

    def _end_message(self) -> str:
        if not self.paths:
            return f"no images in {self.folder}"
        return f"end of folder {self.folder} ({len(self.paths)} images)"


class PairedFolderSource(IndexedSource):
    """Low-light images with their well-lit partners, matched by file stem (relative path if recursive).

    Each frame's ``image`` is the low-light image and ``partner`` the well-lit one. A name found on one side
    only, or twice on one side (``a.png`` and ``a.jpg``), is a :class:`LoadProblem`.
    """

    def __init__(
        self, welllit_dir: str | Path, lowlight_dir: str | Path, recursive: bool = False, name: str | None = None
    ) -> None:
        self.welllit_dir = Path(welllit_dir).expanduser()
        self.lowlight_dir = Path(lowlight_dir).expanduser()
        super().__init__(name or f"paired:{self.lowlight_dir}")
        self.recursive = recursive
        self.pairs: list[tuple[str, list[Path], list[Path]]] = []

    def __len__(self) -> int:
        return len(self.pairs)

    def _by_key(self, folder: Path) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = {}
        for p in list_images(folder, recursive=self.recursive):
            found.setdefault(p.relative_to(folder).with_suffix("").as_posix(), []).append(p)
        return found

    def _open(self) -> None:
        _require_dir(self.welllit_dir)
        _require_dir(self.lowlight_dir)
        low, well = self._by_key(self.lowlight_dir), self._by_key(self.welllit_dir)
        self.pairs = [(k, low.get(k, []), well.get(k, [])) for k in sorted(low.keys() | well.keys())]
        self._index, self._ended = -1, False

    def _load(self, index: int) -> Frame | LoadProblem:
        key, low, well = self.pairs[index]
        for side, paths, folder in (("low-light", low, self.lowlight_dir), ("well-lit", well, self.welllit_dir)):
            if len(paths) > 1:
                names = ", ".join(p.name for p in paths)
                return LoadProblem(str(paths[0]), f"several {side} images named {key}: {names}", self.name, index)
            if not paths:
                there = (low or well)[0]
                return LoadProblem(str(there), f"no {side} image named {key} in {folder}", self.name, index)
        try:
            image = load_image(low[0])
        except ImageLoadError as exc:
            return LoadProblem(str(low[0]), exc.reason, self.name, index)
        try:
            partner = load_image(well[0])
        except ImageLoadError as exc:
            return LoadProblem(str(well[0]), exc.reason, self.name, index)
        return Frame(image=image, source=self.name, ref=str(low[0]), index=index, partner=partner)

    def _end_message(self) -> str:
        return f"end of paired folders ({len(self.pairs)} pairs)"
