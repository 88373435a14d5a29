"""The image loader: every supported format, camera frames, bytes, every kind of bad input, and a fuzzer.

Every file is written by the test into ``tmp_path``; the real MTD images are read in place.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.data.io import MAX_PIXELS, decode_image, iter_images, list_images, load_image
from core.errors import ImageLoadError


def _rgb(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose IHDR claims ``width`` x ``height`` RGB pixels (valid CRCs)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _assert_rgb8(image: np.ndarray, shape: tuple[int, int]) -> None:
    assert image.dtype == np.uint8
    assert image.shape == (*shape, 3)
    assert image.flags.c_contiguous


# --- good files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "suffix"), [("PNG", ".png"), ("BMP", ".bmp"), ("TIFF", ".tif")])
def test_lossless_rgb_files_load_exactly(tmp_path: Path, fmt: str, suffix: str) -> None:
    rgb = _rgb()
    path = _write(tmp_path / f"part{suffix}", _encode(Image.fromarray(rgb), fmt))
    image = load_image(path)
    _assert_rgb8(image, rgb.shape[:2])
    np.testing.assert_array_equal(image, rgb)


def test_jpeg_loads_close_to_the_original(tmp_path: Path) -> None:
    smooth = np.zeros((32, 48, 3), np.uint8)
    smooth[:] = (180, 90, 40)
    path = _write(tmp_path / "part.jpg", _encode(Image.fromarray(smooth), "JPEG", quality=95))
    image = load_image(path)
    _assert_rgb8(image, (32, 48))
    assert np.abs(image.astype(int) - smooth).max() <= 3


def test_load_accepts_str_paths(tmp_path: Path) -> None:
    rgb = _rgb()
    path = _write(tmp_path / "part.png", _encode(Image.fromarray(rgb), "PNG"))
    np.testing.assert_array_equal(load_image(str(path)), rgb)


@pytest.mark.parametrize("fmt", ["TIFF", "PNG"])
def test_16bit_grayscale_is_scaled_to_8bit(tmp_path: Path, fmt: str) -> None:
    gray8 = _rgb()[:, :, 0]
    gray16 = gray8.astype(np.uint16) * 257
    img16 = Image.fromarray(gray16)
    assert img16.mode.startswith("I;16")
    path = _write(tmp_path / f"deep.{fmt.lower()}", _encode(img16, fmt))
    image = load_image(path)
    _assert_rgb8(image, gray8.shape)
    for c in range(3):
        np.testing.assert_array_equal(image[:, :, c], gray8)


def test_16bit_rgb_tiff_from_opencv_keeps_colours(tmp_path: Path) -> None:
    bgr16 = np.zeros((8, 10, 3), np.uint16)
    bgr16[..., 0], bgr16[..., 1], bgr16[..., 2] = 128 * 257, 30 * 257, 65535  # OpenCV writes BGR
    path = tmp_path / "deep_rgb.tif"
    assert cv2.imwrite(str(path), bgr16)
    image = load_image(path)
    _assert_rgb8(image, (8, 10))
    assert tuple(image[0, 0]) == (255, 30, 128)


def test_grayscale_is_replicated_to_three_channels(tmp_path: Path) -> None:
    gray = _rgb()[:, :, 1]
    path = _write(tmp_path / "gray.png", _encode(Image.fromarray(gray), "PNG"))
    image = load_image(path)
    _assert_rgb8(image, gray.shape)
    for c in range(3):
        np.testing.assert_array_equal(image[:, :, c], gray)


def test_rgba_drops_alpha_without_compositing(tmp_path: Path) -> None:
    rgb = _rgb()
    alpha = np.zeros(rgb.shape[:2], np.uint8)  # fully transparent: compositing would make it all black
    path = _write(tmp_path / "alpha.png", _encode(Image.fromarray(np.dstack([rgb, alpha])), "PNG"))
    image = load_image(path)
    _assert_rgb8(image, rgb.shape[:2])
    np.testing.assert_array_equal(image, rgb)


def test_palette_image_is_expanded(tmp_path: Path) -> None:
    rgb = _rgb()
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    expected = np.asarray(pal.convert("RGB"))
    path = _write(tmp_path / "palette.png", _encode(pal, "PNG"))
    assert Image.open(path).mode == "P"
    image = load_image(path)
    _assert_rgb8(image, rgb.shape[:2])
    np.testing.assert_array_equal(image, expected)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) <= 16


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path: Path) -> None:
    flat = np.zeros((16, 16, 3), np.uint8)
    flat[:] = (200, 60, 30)
    path = _write(tmp_path / "cmyk.jpg", _encode(Image.fromarray(flat).convert("CMYK"), "JPEG", quality=95))
    assert Image.open(path).mode == "CMYK"
    image = load_image(path)
    _assert_rgb8(image, (16, 16))
    assert np.abs(image.reshape(-1, 3).mean(axis=0) - (200, 60, 30)).max() < 4


def test_jpeg_with_png_extension_loads_by_content(tmp_path: Path) -> None:
    rgb = np.full((20, 20, 3), 120, np.uint8)
    path = _write(tmp_path / "misnamed.png", _encode(Image.fromarray(rgb), "JPEG"))
    image = load_image(path)
    _assert_rgb8(image, (20, 20))
    assert np.abs(image.astype(int) - 120).max() <= 2


def test_bytes_input_decodes_like_a_file(tmp_path: Path) -> None:
    rgb = _rgb()
    data = _encode(Image.fromarray(rgb), "PNG")
    np.testing.assert_array_equal(load_image(data), rgb)
    np.testing.assert_array_equal(load_image(bytearray(data)), rgb)
    np.testing.assert_array_equal(decode_image(data), rgb)


# --- camera frames ------------------------------------------------------------------------------------------


def test_bgr_camera_frame_is_swapped_to_rgb() -> None:
    rgb = _rgb()
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    image = load_image(bgr, bgr=True)
    _assert_rgb8(image, rgb.shape[:2])
    np.testing.assert_array_equal(image, rgb)
    np.testing.assert_array_equal(load_image(rgb), rgb)  # an RGB frame is kept as is


@pytest.mark.parametrize("bgr", [False, True])
@pytest.mark.parametrize("shape", [(24, 32), (24, 32, 1)])
def test_grayscale_camera_frame_is_replicated(shape: tuple[int, ...], bgr: bool) -> None:
    gray = _rgb()[:, :, 2].reshape(shape)
    image = load_image(gray, bgr=bgr)
    _assert_rgb8(image, (24, 32))
    for c in range(3):
        np.testing.assert_array_equal(image[:, :, c], gray.reshape(24, 32))


def test_16bit_camera_frame_is_scaled() -> None:
    frame = np.full((4, 5), 200 * 257, np.uint16)
    image = load_image(frame)
    _assert_rgb8(image, (4, 5))
    assert (image == 200).all()


def test_float_and_16bit_bgr_frames() -> None:
    np.testing.assert_array_equal(load_image(np.array([[0.0, 0.5, 1.0]], np.float32))[0, :, 0], [0, 128, 255])
    bgr16 = np.zeros((2, 3, 3), np.uint16)
    bgr16[..., 0] = 65535  # blue in OpenCV order
    assert tuple(load_image(bgr16, bgr=True)[0, 0]) == (0, 0, 255)


def test_empty_and_unsupported_frames_are_refused() -> None:
    with pytest.raises(ImageLoadError, match="empty frame"):
        load_image(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(ImageLoadError, match="shape"):
        load_image(np.zeros((4, 5, 7), np.uint8))


# --- bad files ----------------------------------------------------------------------------------------------


def _load_error(path: Path) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    err = info.value
    assert err.source == str(path)
    assert str(path) in str(err)
    assert err.reason and err.reason in str(err)
    return err


def test_corrupt_bytes_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "noise.png", np.random.default_rng(1).bytes(2048))
    assert "not a recognised image format" in _load_error(path).reason


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file_is_refused(tmp_path: Path, fmt: str) -> None:
    data = _encode(Image.fromarray(_rgb(64, 64)), fmt)
    path = _write(tmp_path / f"half.{fmt.lower()}", data[: len(data) // 2])
    assert "truncated" in _load_error(path).reason


def test_zero_byte_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.png", b"")
    assert "empty" in _load_error(path).reason


def test_text_file_with_png_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is a shift report, not an image\n" * 10)
    assert "not a recognised image format" in _load_error(path).reason


def test_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "images.png"
    folder.mkdir()
    assert "folder" in _load_error(folder).reason


def test_missing_file_is_refused(tmp_path: Path) -> None:
    assert "no such file" in _load_error(tmp_path / "gone.png").reason


def test_unusable_path_is_an_image_load_error(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 300 + ".png")  # longer than any file system allows
    _load_error(path)


@pytest.mark.parametrize("pillow_check", [True, False])
def test_absurdly_large_image_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pillow_check: bool
) -> None:
    path = _write(tmp_path / "huge.png", _png_claiming(20000, 20000))
    with monkeypatch.context() as m:
        m.setattr(Image, "MAX_IMAGE_PIXELS", None)
        with Image.open(path) as header:
            assert header.size == (20000, 20000)  # the crafted header is valid
    if not pillow_check:  # with Pillow's own bomb check off, our limit alone must refuse it
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    start = time.perf_counter()
    err = _load_error(path)
    assert time.perf_counter() - start < 0.5
    assert "too large" in err.reason or "megapixels" in err.reason
    assert "20000x20000" in err.reason or "400000000" in err.reason


def test_pixel_limit_is_the_documented_one() -> None:
    # 95 MP is under MAX_PIXELS (100 MP): it must not be refused as too large. The file has no real pixel
    # data, so it fails later, as truncated or damaged, which shows the size check let it through.
    assert MAX_PIXELS == 100_000_000
    with pytest.raises(ImageLoadError) as info:
        decode_image(_png_claiming(10000, 9500), "almost.png")
    assert "too large" not in info.value.reason and "megapixels" not in info.value.reason


def test_max_pixels_argument_lowers_the_limit(tmp_path: Path) -> None:
    path = _write(tmp_path / "small.png", _encode(Image.fromarray(_rgb(100, 100)), "PNG"))
    assert load_image(path).shape == (100, 100, 3)
    with pytest.raises(ImageLoadError, match="megapixels"):
        load_image(path, max_pixels=5000)


def test_bytes_errors_name_the_source() -> None:
    with pytest.raises(ImageLoadError) as info:
        load_image(b"GIF89a nonsense")
    assert info.value.source == "<bytes>"
    with pytest.raises(ImageLoadError, match="frame_0007"):
        decode_image(b"", name="frame_0007")


# --- batches and listing ------------------------------------------------------------------------------------


def test_batch_reports_a_bad_file_and_continues(tmp_path: Path) -> None:
    good = _encode(Image.fromarray(_rgb()), "PNG")
    paths = [
        _write(tmp_path / "a.png", good),
        _write(tmp_path / "b.png", good[: len(good) // 2]),
        _write(tmp_path / "c.png", good),
    ]
    results = list(iter_images(paths))
    assert [r[0] for r in results] == paths
    (_, img_a, fail_a), (_, img_b, fail_b), (_, img_c, fail_c) = results
    assert fail_a is None and fail_c is None
    np.testing.assert_array_equal(img_a, img_c)
    assert img_b is None
    assert fail_b.path == str(paths[1]) and "truncated" in fail_b.reason


def test_list_images_filters_and_sorts(tmp_path: Path) -> None:
    for name in ("b.PNG", "a.jpg", "c.tiff", ".hidden.png", "notes.txt", "d.bmp"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.png").write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.tiff", "d.bmp"]
    assert [p.name for p in list_images(tmp_path, recursive=True)] == ["a.jpg", "b.PNG", "c.tiff", "d.bmp", "e.png"]
    assert list_images(tmp_path / "missing") == []


# --- real images --------------------------------------------------------------------------------------------


@pytest.mark.dataset
def test_real_mtd_images_load(mtd_root: Path) -> None:
    paths = list_images(mtd_root / "train" / "good")[:3]
    paths += [list_images(d)[0] for d in sorted((mtd_root / "test").iterdir())]
    for path in paths:
        image = load_image(path)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert min(image.shape[:2]) >= 100 and max(image.shape[:2]) <= 700
        # MTD is grayscale: the three channels are identical copies
        np.testing.assert_array_equal(image[:, :, 0], image[:, :, 1])
        np.testing.assert_array_equal(image[:, :, 0], image[:, :, 2])
        assert image.std() > 1  # real content, not a blank decode


# --- fuzzing ------------------------------------------------------------------------------------------------


def _seed_files() -> list[bytes]:
    rgb = _rgb(12, 16, seed=3)
    img = Image.fromarray(rgb)
    return [
        _encode(img, "PNG"),
        _encode(img, "JPEG"),
        _encode(img, "BMP"),
        _encode(img, "TIFF"),
        _encode(img.convert("L"), "PNG"),
        _encode(Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257), "TIFF"),
    ]


SEEDS = _seed_files()


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            data[pos] = draw(st.integers(0, 255))
    return bytes(data)


@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")  # Pillow's notes on damaged TIFF tags
@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=512), _mutated()))
def test_decode_fuzz_raises_only_image_load_error(data: bytes) -> None:
    # a lower pixel limit keeps a mutated header from allocating hundreds of MB on a shared machine
    try:
        image = decode_image(data, name="fuzz.bin", max_pixels=4_000_000)
    except ImageLoadError as err:
        assert err.source == "fuzz.bin" and err.reason
        return
    assert image.dtype == np.uint8
    assert image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] > 0 and image.shape[1] > 0
