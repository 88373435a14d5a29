"""Keeps the images of inspected parts (NG and uncertain ones by default, optionally all) for later review.

The log row says *what* was decided; the stored image lets a person see *why*, weeks later. Images go to
``<root>/<YYYY-MM-DD>/<time>_<category>_<verdict>_<hash>.png`` (UTC, like the log), so a folder can be
browsed by day and a name says what the file is without opening it.

Every write is atomic (temporary file in the same folder, fsync, ``os.replace``), so a crash or power cut
leaves either the whole image or nothing, never a half PNG. A retention policy bounds disk use by bytes
and/or file count, deleting the oldest images first. It keeps a running total, so a save costs one small
bookkeeping step rather than a scan of the folder; the folder is scanned once, when the store is created.
Only files the store itself names are ever counted or deleted.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from core.data.io import array_sha256
from core.fsio import atomic_write_bytes
from core.paths import images_dir
from core.types import Verdict

_DAY_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAME = re.compile(r"^\d{8}T\d{6}\.\d{3}Z_.+_[A-Z]+_[0-9a-f]{8}(_\d+)?\.png$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _encode(image_rgb: np.ndarray, suffix: str) -> bytes:
    img = np.ascontiguousarray(image_rgb)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {img.dtype} {img.shape}")
    suffix = suffix.lower()
    params = [cv2.IMWRITE_PNG_COMPRESSION, 3] if suffix == ".png" else []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    ok, buf = cv2.imencode(suffix, img[:, :, ::-1], params)
    if not ok:
        raise ValueError(f"cannot encode an image as {suffix}")
    return buf.tobytes()


def save_snapshot(image_rgb: np.ndarray, overlay_rgb: np.ndarray | None, path: str | Path) -> Path:
    """Save what the operator sees: the image, with the overlay (if any) beside it on the right.

    The format follows the suffix (PNG, JPEG, BMP, TIFF); the write is atomic. An overlay of another size is
    resized to the image's height. Returns the path written.
    """
    path = Path(path).expanduser()
    out = np.asarray(image_rgb)
    if overlay_rgb is not None:
        ov = np.asarray(overlay_rgb)
        if ov.shape[0] != out.shape[0]:
            width = max(1, round(ov.shape[1] * out.shape[0] / ov.shape[0]))
            ov = cv2.resize(ov, (width, out.shape[0]), interpolation=cv2.INTER_AREA)
        out = np.concatenate([out, ov], axis=1)
    atomic_write_bytes(path, _encode(out, path.suffix or ".png"))
    return path


@dataclass(frozen=True)
class _Stored:
    path: Path
    size: int


class ImageStore:
    """Saves inspected images as PNG under ``root`` (default :func:`core.paths.images_dir`), bounded in size.

    ``keep`` lists the verdicts whose images are saved (NG and UNCERTAIN by default: both want a human look);
    ``save_all=True`` saves every image. ``max_bytes`` / ``max_files`` (None = unbounded) are enforced after
    every save by deleting the oldest stored images; the image just saved is never deleted. Thread-safe.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        max_bytes: int | None = None,
        max_files: int | None = None,
        save_all: bool = False,
        keep: Iterable[Verdict] = (Verdict.NG, Verdict.UNCERTAIN),
    ) -> None:
        self.root = images_dir(root)
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.save_all = save_all
        self.keep = frozenset(Verdict(v) for v in keep)
        self._lock = threading.Lock()
        self._files: deque[_Stored] = deque()
        self._bytes = 0
        self.root.mkdir(parents=True, exist_ok=True)
        self.rescan()

    @property
    def total_bytes(self) -> int:
        return self._bytes

    @property
    def file_count(self) -> int:
        return len(self._files)

    def wants(self, verdict: Verdict) -> bool:
        """Whether an image with this verdict would be saved."""
        return self.save_all or Verdict(verdict) in self.keep

    def rescan(self) -> None:
        """Rebuild the running total from disk (oldest first by modification time); removes stale temp files."""
        found: list[tuple[int, str, Path, int]] = []
        with os.scandir(self.root) as days:
            for day in days:
                if not (day.is_dir(follow_symlinks=False) and _DAY_DIR.match(day.name)):
                    continue
                with os.scandir(day.path) as entries:
                    for e in entries:
                        if not e.is_file(follow_symlinks=False):
                            continue
                        if e.name.startswith(".") and e.name.endswith(".tmp"):  # left by a crash mid-write
                            Path(e.path).unlink(missing_ok=True)
                        elif _NAME.match(e.name):
                            st = e.stat(follow_symlinks=False)
                            found.append((st.st_mtime_ns, e.name, Path(e.path), st.st_size))
        found.sort()
        with self._lock:
            self._files = deque(_Stored(p, size) for _, _, p, size in found)
            self._bytes = sum(s.size for s in self._files)

    def path_for(self, category: str, verdict: Verdict, sha256: str, when: float) -> Path:
        """Where an image with these attributes would be saved (before collision handling)."""
        t = datetime.fromtimestamp(when, UTC)
        stamp = t.strftime("%Y%m%dT%H%M%S.") + f"{t.microsecond // 1000:03d}Z"
        cat = _UNSAFE.sub("_", category).strip("._") or "uncategorised"
        return self.root / t.strftime("%Y-%m-%d") / f"{stamp}_{cat[:64]}_{Verdict(verdict).value}_{sha256[:8]}.png"

    def save(
        self,
        image_rgb: np.ndarray,
        category: str,
        verdict: Verdict,
        *,
        sha256: str | None = None,
        when: float | None = None,
        force: bool = False,
    ) -> Path | None:
        """Save one image if :meth:`wants` its verdict (or ``force``); returns the path, or None if not saved.

        ``sha256`` is the image's hash if already known (:func:`core.data.io.array_sha256`); ``when`` is unix
        seconds (default now).
        """
        if not (force or self.wants(verdict)):
            return None
        data = _encode(image_rgb, ".png")
        digest = sha256 or array_sha256(image_rgb)
        when = datetime.now(UTC).timestamp() if when is None else when
        target = self.path_for(category, verdict, digest, when)
        with self._lock:
            target.parent.mkdir(parents=True, exist_ok=True)
            base, n = target.stem, 0
            while target.exists():  # same millisecond, same image: keep both rather than overwrite
                n += 1
                target = target.with_name(f"{base}_{n}.png")
            atomic_write_bytes(target, data)
            self._files.append(_Stored(target, len(data)))
            self._bytes += len(data)
            self._enforce()
        return target

    def _over(self) -> bool:
        if len(self._files) <= 1:
            return False
        return (self.max_files is not None and len(self._files) > self.max_files) or (
            self.max_bytes is not None and self._bytes > self.max_bytes
        )

    def _enforce(self) -> None:
        while self._over():
            old = self._files.popleft()
            self._bytes -= old.size
            try:
                old.path.unlink()
            except FileNotFoundError:
                pass  # someone else deleted it; the total is right again
            except OSError:
                continue  # e.g. open in a viewer on Windows; not ours to fight, it drops out of the total
            if old.path.parent != self._files[-1].path.parent:
                with contextlib.suppress(OSError):
                    old.path.parent.rmdir()  # only succeeds once the day folder is empty
