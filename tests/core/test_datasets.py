"""Dataset layouts: the real MTD folder in MVTec layout, and small folders each test builds in ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.datasets import (
    MVTecSet,
    is_mvtec,
    read_good_bad,
    read_good_folder,
    read_labelled,
    read_mvtec,
    read_paired,
)
from core.errors import DatasetError

MTD_TYPES = ["blowhole", "break", "crack", "fray", "good", "uneven"]
MTD_DEFECTS = ["blowhole", "break", "crack", "fray", "uneven"]


def _image(path: Path, value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(path)
    return path


def _mvtec(root: Path) -> Path:
    """A tiny MVTec category: 3 train images, 2 good and 3 defective test images, one without a mask."""
    for name in ("000.png", "001.png", "002.png"):
        _image(root / "train" / "good" / name)
    for name in ("000.png", "001.png"):
        _image(root / "test" / "good" / name)
    _image(root / "test" / "scratch" / "000.png")
    _image(root / "test" / "scratch" / "001.png")
    _image(root / "test" / "dent" / "000.png")
    _image(root / "ground_truth" / "scratch" / "000_mask.png", 255)
    _image(root / "ground_truth" / "dent" / "000_mask.png", 255)
    (root / "license.txt").write_text("not an image")
    return root


# --- MVTec layout -------------------------------------------------------------------------------------------


@pytest.mark.dataset
def test_real_mtd_folder_reads_as_mvtec(mtd_root: Path) -> None:
    data = read_mvtec(mtd_root)
    assert isinstance(data, MVTecSet)
    assert len(data.train) == 761
    assert all(s.label == 0 and s.defect_type == "good" and s.mask is None for s in data.train)
    assert sorted({s.defect_type for s in data.test}) == MTD_TYPES
    assert data.defect_types == MTD_DEFECTS
    good = [s for s in data.test if s.defect_type == "good"]
    bad = [s for s in data.test if s.label == 1]
    assert len(good) == 191 and len(bad) == 392
    assert all(s.label == 0 and s.mask is None for s in good)
    for s in bad:
        assert s.mask is not None, f"no mask found for {s.path}"
        assert s.mask.is_file()
        assert s.mask.parent.name == s.defect_type == s.path.parent.name
        assert s.mask.name == f"{s.path.stem}_mask.png"
    assert is_mvtec(mtd_root)


def test_small_mvtec_folder(tmp_path: Path) -> None:
    data = read_mvtec(_mvtec(tmp_path / "widget"))
    assert [s.path.name for s in data.train] == ["000.png", "001.png", "002.png"]
    assert data.defect_types == ["dent", "scratch"]
    by_name = {(s.defect_type, s.path.name): s for s in data.test}
    assert len(by_name) == 5
    assert by_name[("good", "000.png")].label == 0
    assert by_name[("scratch", "000.png")].label == 1
    assert by_name[("scratch", "000.png")].mask == tmp_path / "widget" / "ground_truth" / "scratch" / "000_mask.png"
    assert by_name[("scratch", "001.png")].mask is None  # missing mask: kept, without a mask
    assert by_name[("dent", "000.png")].mask.name == "000_mask.png"


def test_mvtec_wrong_layouts_raise_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a folder"):
        read_mvtec(tmp_path / "missing")
    _image(tmp_path / "flat" / "a.png")
    with pytest.raises(DatasetError, match="MVTec"):
        read_mvtec(tmp_path / "flat")
    (tmp_path / "empty" / "train" / "good").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images"):
        read_mvtec(tmp_path / "empty")


# --- plain folder -------------------------------------------------------------------------------------------


def test_good_folder_lists_images_only(tmp_path: Path) -> None:
    for name in ("b.png", "a.jpg", "c.bmp"):
        _image(tmp_path / name)
    (tmp_path / "readme.txt").write_text("x")
    _image(tmp_path / "sub" / "d.png")
    samples = read_good_folder(tmp_path)
    assert [s.path.name for s in samples] == ["a.jpg", "b.png", "c.bmp"]
    assert all(s.label == 0 and s.mask is None for s in samples)
    assert [s.path.name for s in read_good_folder(tmp_path, recursive=True)] == ["a.jpg", "b.png", "c.bmp", "d.png"]


def test_good_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="holds no images"):
        read_good_folder(tmp_path / "empty")
    with pytest.raises(DatasetError, match="not a folder"):
        read_good_folder(tmp_path / "missing")
    file = _image(tmp_path / "single.png")
    with pytest.raises(DatasetError, match="not a folder"):
        read_good_folder(file)


# --- paired folders -----------------------------------------------------------------------------------------


def test_paired_folders_match_by_stem_and_report_the_rest(tmp_path: Path) -> None:
    for name in ("a.png", "b.png", "c.png"):
        _image(tmp_path / "bright" / name)
    for name in ("a.jpg", "b.png", "d.png"):  # extensions may differ
        _image(tmp_path / "dark" / name)
    paired = read_paired(tmp_path / "bright", tmp_path / "dark")
    assert [(s.path.name, s.partner.name) for s in paired.pairs] == [("a.png", "a.jpg"), ("b.png", "b.png")]
    assert [p.name for p in paired.only_welllit] == ["c.png"]
    assert [p.name for p in paired.only_lowlight] == ["d.png"]
    report = paired.report()
    assert "2 pairs" in report
    assert "1 well-lit images without a low-light partner (e.g. c.png)" in report
    assert "1 low-light images without a well-lit partner (e.g. d.png)" in report


def test_paired_folders_fully_matched_report_only_pairs(tmp_path: Path) -> None:
    for folder in ("bright", "dark"):
        _image(tmp_path / folder / "x.png")
    paired = read_paired(tmp_path / "bright", tmp_path / "dark")
    assert paired.report() == "1 pairs"
    assert paired.only_welllit == [] and paired.only_lowlight == []


def test_paired_duplicate_stems_are_reported_not_dropped(tmp_path: Path) -> None:
    _image(tmp_path / "bright" / "a.bmp")
    _image(tmp_path / "bright" / "a.png")  # same stem twice: only one can be the partner
    _image(tmp_path / "dark" / "a.png")
    paired = read_paired(tmp_path / "bright", tmp_path / "dark")
    assert [(s.path.name, s.partner.name) for s in paired.pairs] == [("a.bmp", "a.png")]
    assert [p.name for p in paired.only_welllit] == ["a.png"]
    assert "1 well-lit images without a low-light partner" in paired.report()


def test_paired_folders_without_any_match_raise(tmp_path: Path) -> None:
    _image(tmp_path / "bright" / "a.png")
    _image(tmp_path / "dark" / "b.png")
    with pytest.raises(DatasetError, match="no image names match") as info:
        read_paired(tmp_path / "bright", tmp_path / "dark")
    assert "a.png" in str(info.value) and "b.png" in str(info.value)
    with pytest.raises(DatasetError, match="low-light folder"):
        read_paired(tmp_path / "bright", tmp_path / "nowhere")


# --- good/bad folder ----------------------------------------------------------------------------------------


def test_good_bad_folder_with_masks(tmp_path: Path) -> None:
    _image(tmp_path / "good" / "g1.png")
    _image(tmp_path / "good" / "g2.png")
    _image(tmp_path / "bad" / "b1.png")
    _image(tmp_path / "bad" / "b2.png")
    _image(tmp_path / "masks" / "b1_mask.png", 255)
    samples = read_good_bad(tmp_path)
    assert [(s.path.name, s.label) for s in samples] == [("g1.png", 0), ("g2.png", 0), ("b1.png", 1), ("b2.png", 1)]
    masks = {s.path.name: s.mask for s in samples}
    assert masks["b1.png"] == tmp_path / "masks" / "b1_mask.png"
    assert masks["b2.png"] is None and masks["g1.png"] is None


def test_good_bad_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "good").mkdir()
    with pytest.raises(DatasetError, match="good/ and bad/"):
        read_good_bad(tmp_path)
    (tmp_path / "bad").mkdir()
    with pytest.raises(DatasetError, match="hold no images"):
        read_good_bad(tmp_path)


# --- labelled: whichever layout the folder has --------------------------------------------------------------


def test_labelled_reads_the_mvtec_test_split(tmp_path: Path) -> None:
    root = _mvtec(tmp_path / "widget")
    samples = read_labelled(root)
    assert samples == read_mvtec(root).test
    assert sum(s.label for s in samples) == 3
    assert all("train" not in s.path.parts for s in samples)


def test_labelled_reads_a_good_bad_folder(tmp_path: Path) -> None:
    _image(tmp_path / "good" / "g.png")
    _image(tmp_path / "bad" / "b.png")
    samples = read_labelled(tmp_path)
    assert [(s.path.name, s.label) for s in samples] == [("g.png", 0), ("b.png", 1)]


@pytest.mark.dataset
def test_labelled_on_real_mtd(mtd_root: Path) -> None:
    samples = read_labelled(mtd_root)
    assert len(samples) == 191 + 392
    assert sum(s.label for s in samples) == 392


def test_labelled_wrong_layouts_raise(tmp_path: Path) -> None:
    _image(tmp_path / "flat" / "a.png")
    with pytest.raises(DatasetError, match="good/ and bad/"):
        read_labelled(tmp_path / "flat")
    _image(tmp_path / "train_only" / "train" / "good" / "a.png")
    with pytest.raises(DatasetError, match="test holds no images"):
        read_labelled(tmp_path / "train_only")
    with pytest.raises(DatasetError, match="not a folder"):
        read_labelled(tmp_path / "missing")
