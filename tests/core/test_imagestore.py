"""The image store: what is kept, where, atomically, and how retention bounds the disk it uses."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from core.data.io import array_sha256, load_image
from core.imagestore import ImageStore, save_snapshot
from core.types import Verdict

DAY1 = datetime(2024, 5, 1, 23, 59, 59, 250000, tzinfo=UTC).timestamp()
DAY = 86400.0


def _img(seed: int, h: int = 32, w: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_ng_images_are_saved_losslessly_in_dated_folders(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    img = _img(0)
    path = store.save(img, "bottle", Verdict.NG, when=DAY1)
    assert path is not None and path.parent == tmp_path / "2024-05-01"
    assert re.fullmatch(r"20240501T235959\.250Z_bottle_NG_[0-9a-f]{8}\.png", path.name)
    assert path.name.endswith(f"_{array_sha256(img)[:8]}.png")
    assert np.array_equal(load_image(path), img)
    assert store.file_count == 1 and store.total_bytes == path.stat().st_size
    assert _files(tmp_path) == [path]  # no temporary file left behind


def test_which_verdicts_are_kept(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "a")
    assert store.save(_img(1), "bottle", Verdict.OK) is None
    assert store.save(_img(1), "bottle", Verdict.UNCERTAIN) is not None
    assert store.save(_img(1), "bottle", Verdict.OK, force=True) is not None
    assert store.file_count == 2
    every = ImageStore(tmp_path / "b", save_all=True)
    assert all(every.wants(v) for v in Verdict)
    only_ng = ImageStore(tmp_path / "c", keep=[Verdict.NG])
    assert not only_ng.wants(Verdict.UNCERTAIN) and only_ng.wants(Verdict.NG)


def test_odd_category_names_and_collisions(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    img = _img(2)
    a = store.save(img, "../etc/pass wd", Verdict.NG, when=DAY1, sha256="f" * 64)
    b = store.save(img, "../etc/pass wd", Verdict.NG, when=DAY1, sha256="f" * 64)
    c = store.save(img, "../etc/pass wd", Verdict.NG, when=DAY1, sha256="f" * 64)
    assert a.parent == b.parent == c.parent == tmp_path / "2024-05-01"
    assert a.name == "20240501T235959.250Z_etc_pass_wd_NG_ffffffff.png"
    assert b.name == a.stem + "_1.png" and c.name == a.stem + "_2.png"
    assert store.file_count == 3


def test_retention_by_file_count_deletes_oldest_and_empty_day_folders(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, max_files=3)
    paths = [store.save(_img(i), "screw", Verdict.NG, when=DAY1 + i * DAY) for i in range(5)]
    assert all(p is not None for p in paths)
    assert _files(tmp_path) == sorted(paths[2:])
    assert not (tmp_path / "2024-05-01").exists() and not (tmp_path / "2024-05-02").exists()
    assert store.file_count == 3
    assert store.total_bytes == sum(p.stat().st_size for p in paths[2:])


def test_retention_by_bytes_keeps_the_newest(tmp_path: Path) -> None:
    size = len(_img(0).tobytes())  # random pixels do not compress: each PNG is a bit larger than this
    store = ImageStore(tmp_path, max_bytes=int(2.5 * size))
    paths = [store.save(_img(i), "cable", Verdict.NG, when=DAY1 + i) for i in range(6)]
    kept = _files(tmp_path)
    assert kept == sorted(paths[-2:])
    assert store.total_bytes == sum(p.stat().st_size for p in kept) <= 2.5 * size
    tiny = ImageStore(tmp_path / "tiny", max_bytes=10)
    newest = tiny.save(_img(9), "cable", Verdict.NG)
    assert _files(tmp_path / "tiny") == [newest]  # the image just saved is never deleted


def test_saves_do_not_rescan_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ImageStore(tmp_path, max_files=2)

    def no_scan(*_a: object, **_k: object) -> None:
        raise AssertionError("save rescanned the folder")

    monkeypatch.setattr(os, "scandir", no_scan)
    for i in range(4):
        store.save(_img(i), "bottle", Verdict.NG, when=DAY1 + i)
    monkeypatch.undo()
    assert store.file_count == 2 and len(_files(tmp_path)) == 2


def test_a_new_store_picks_up_existing_files_and_ignores_foreign_ones(tmp_path: Path) -> None:
    first = ImageStore(tmp_path)
    saved = [first.save(_img(i), "bottle", Verdict.NG, when=DAY1 + i) for i in range(3)]
    foreign = [tmp_path / "notes.txt", tmp_path / "2024-05-01" / "holiday.png", tmp_path / "misc" / "x.png"]
    for p in foreign:
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"not ours")
    stale = tmp_path / "2024-05-01" / ".20240501T000000.000Z_bottle_NG_00000000.png.abcd1234.tmp"
    stale.write_bytes(b"half a png")

    second = ImageStore(tmp_path, max_files=2)
    assert not stale.exists()
    assert second.file_count == 3 and second.total_bytes == sum(p.stat().st_size for p in saved)
    newest = second.save(_img(7), "bottle", Verdict.NG, when=DAY1 + 10)
    assert _files(tmp_path) == sorted([*foreign, saved[2], newest])


def test_bad_input_leaves_nothing_behind(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    with pytest.raises(ValueError, match="RGB uint8"):
        store.save(np.zeros((8, 8), np.float32), "bottle", Verdict.NG)
    assert _files(tmp_path) == [] and store.file_count == 0


def test_default_root_comes_from_llad_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAD_HOME", str(tmp_path / "home"))
    path = ImageStore().save(_img(0), "bottle", Verdict.NG)
    assert path.is_relative_to(tmp_path / "home" / "images")


def test_save_snapshot_side_by_side(tmp_path: Path) -> None:
    img, overlay = _img(0, 30, 40), _img(1, 30, 20)
    out = save_snapshot(img, overlay, tmp_path / "snap.png")
    got = load_image(out)
    assert got.shape == (30, 60, 3)
    assert np.array_equal(got[:, :40], img) and np.array_equal(got[:, 40:], overlay)

    alone = load_image(save_snapshot(img, None, tmp_path / "alone.png"))
    assert np.array_equal(alone, img)

    half = load_image(save_snapshot(img, _img(2, 15, 20), tmp_path / "resized.png"))
    assert half.shape == (30, 80, 3)  # the overlay is scaled to the image's height

    jpg = save_snapshot(img, overlay, tmp_path / "snap.jpg")
    assert jpg.read_bytes()[:2] == b"\xff\xd8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone.png", "resized.png", "snap.jpg", "snap.png"]
