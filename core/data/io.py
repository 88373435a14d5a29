"""One image loader for files, bytes and camera frames.

Every image becomes RGB ``uint8`` of shape (H, W, 3): grayscale is replicated, alpha is dropped (composited on
black would hide dark defects, so it is simply removed), 16-bit data is scaled by 1/257, CMYK is converted.
Anything that cannot be decoded raises :class:`~core.errors.ImageLoadError` naming the file and the reason,
so a batch can report the file and go on.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.errors import ImageLoadError
from core.fsio import file_sha256  # noqa: F401 - part of this module's API

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MAX_PIXELS = 100_000_000
"""Images larger than this (100 megapixels) are refused before they are decoded."""


def is_image_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _to_rgb8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint16:
        arr = (arr.astype(np.uint32) // 257).astype(np.uint8)
    elif arr.dtype in (np.int32, np.uint32):
        arr = np.clip(arr, 0, 65535).astype(np.uint32) // 257
        arr = arr.astype(np.uint8)
    elif arr.dtype in (np.float32, np.float64):
        hi = 1.0 if float(np.nanmax(arr)) <= 1.0 else 255.0
        arr = np.clip(np.nan_to_num(arr) / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype != np.uint8:
        raise ValueError(f"unsupported pixel type {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    elif arr.ndim == 3 and arr.shape[2] == 2:  # grayscale + alpha
        arr = np.repeat(arr[:, :, :1], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"unsupported image shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _decode_pil(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return _to_rgb8(np.asarray(img, dtype=np.uint16))
    if mode == "I":
        return _to_rgb8(np.asarray(img, dtype=np.int32))
    if mode == "F":
        return _to_rgb8(np.asarray(img, dtype=np.float32))
    if mode in ("L", "RGB"):
        return _to_rgb8(np.asarray(img))
    if mode in ("RGBA", "LA", "PA", "P", "CMYK", "YCbCr", "1", "LAB", "HSV", "RGBX", "La", "RGBa"):
        return _to_rgb8(np.asarray(img.convert("RGB")))
    return _to_rgb8(np.asarray(img.convert("RGB")))


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes (PNG, JPEG, BMP, TIFF) to RGB uint8."""
    if not data:
        raise ImageLoadError(name, "the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 MP, under our own limit, which is checked just below instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w <= 0 or h <= 0:
                raise ImageLoadError(name, f"invalid dimensions {w}x{h}")
            if w * h > max_pixels:
                raise ImageLoadError(
                    name,
                    f"image is {w}x{h} = {w * h / 1e6:.0f} megapixels, over the {max_pixels / 1e6:.0f} MP limit",
                )
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            img.load()
            return _decode_pil(img)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        kind = sniff_format(data)
        if kind:
            raise ImageLoadError(name, f"damaged {kind} file: it starts like one but cannot be decoded") from None
        raise ImageLoadError(name, "not a recognised image format (PNG, JPEG, BMP or TIFF expected)") from None
    except Image.DecompressionBombError as exc:  # Pillow's hard limit (179 MP) refused it before we could
        raise ImageLoadError(name, f"image too large, over the {max_pixels / 1e6:.0f} MP limit ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct_error()) as exc:
        msg = str(exc) or type(exc).__name__
        if "truncated" in msg.lower() or isinstance(exc, EOFError):
            msg = f"the file is truncated or damaged ({msg})"
        raise ImageLoadError(name, msg) from None
    except MemoryError:
        raise ImageLoadError(name, "not enough memory to decode the image") from None


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def sniff_format(data: bytes) -> str | None:
    """The format a file's first bytes announce (for error messages), or None."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return None


def struct_error() -> type[Exception]:
    import struct

    return struct.error


def load_image(source: str | Path | bytes | np.ndarray, max_pixels: int = MAX_PIXELS, bgr: bool = False) -> np.ndarray:
    """Load one image as RGB uint8 (H, W, 3).

    ``source`` is a path, encoded bytes, or an array (a camera frame; OpenCV frames are BGR, pass ``bgr=True``).
    """
    if isinstance(source, np.ndarray):
        try:
            arr = _to_rgb8(source)
        except ValueError as exc:
            raise ImageLoadError("<array>", str(exc)) from None
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ImageLoadError("<array>", "empty frame")
        return np.ascontiguousarray(arr[:, :, ::-1]) if bgr and source.ndim == 3 else arr
    if isinstance(source, bytes | bytearray):
        return decode_image(bytes(source), max_pixels=max_pixels)
    path = Path(source)
    try:
        if not path.exists():
            raise ImageLoadError(path, "no such file")
        if path.is_dir():
            raise ImageLoadError(path, "is a folder, not an image file")
        size = path.stat().st_size
        if size > 4 * max_pixels + (64 << 20):
            raise ImageLoadError(path, f"file is {size / 1e9:.1f} GB, too large for an image")
        data = path.read_bytes()
    except ImageLoadError:
        raise
    except (OSError, ValueError) as exc:  # e.g. a name too long for the file system, or a NUL in it
        raise ImageLoadError(path, f"cannot read the file ({getattr(exc, 'strerror', None) or exc})") from None
    return decode_image(data, name=str(path), max_pixels=max_pixels)


def array_sha256(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


@dataclass
class LoadFailure:
    """One file of a batch that could not be read."""

    path: str
    reason: str


def iter_images(paths: Iterable[str | Path]) -> Iterator[tuple[Path, np.ndarray | None, LoadFailure | None]]:
    """Yield ``(path, image, None)`` or ``(path, None, failure)``; one bad file never stops the batch."""
    for p in paths:
        try:
            yield Path(p), load_image(p), None
        except ImageLoadError as exc:
            yield Path(p), None, LoadFailure(str(p), exc.reason)


def list_images(folder: str | Path, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` sorted by name (by extension; the content is checked when loaded)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    if recursive:
        found = [Path(r) / f for r, _, fs in os.walk(folder) for f in fs]
    else:
        found = [p for p in folder.iterdir() if p.is_file()]
    return sorted(p for p in found if is_image_file(p) and not p.name.startswith("."))
