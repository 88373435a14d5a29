"""Durable file writes, file hashes and checked JSON reads, shared by recipes, checkpoints, the image store and
the log export.

An atomic write goes to a temporary file in the destination's folder, is flushed and fsynced, renamed over the
destination, and the folder is fsynced so the rename itself survives a power cut. Readers see the old content or
the new, never a mix, and a crash leaves at most a hidden ``.<name>.*.tmp`` file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from core.errors import RecipeError


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "wb", *, create_parents: bool = False, **open_kwargs) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the block ends without an exception.

    A missing destination folder is an error unless ``create_parents`` is set."""
    path = Path(path)
    if create_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` atomically, creating the destination folder if needed."""
    with atomic_writer(path, create_parents=True) as fh:
        fh.write(data)


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True).encode())


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_json(path: str | Path) -> dict:
    """A JSON object from ``path``; a missing or damaged file (not JSON, or not an object) is a RecipeError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"{path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path} is damaged (not valid JSON: {exc})") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path} is damaged (expected a JSON object)")
    return data
