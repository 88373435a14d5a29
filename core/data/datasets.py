"""Dataset layouts LLAD reads.

- :func:`read_mvtec`: MVTec AD layout (``train/good``, ``test/<type>``, ``ground_truth/<type>/<stem>_mask.png``).
- :func:`read_good_folder`: a plain folder of good images.
- :func:`read_paired`: two folders of well-lit and low-light images matched by file stem; unmatched names are
  reported, not silently dropped.
- :func:`read_good_bad`: a folder with ``good/`` and ``bad/`` sub-folders, for evaluation.
- :func:`read_labelled`: either of the two labelled layouts, whichever the folder has.

Readers list files only; images are decoded when used, so a bad file is reported where it is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.data.io import list_images
from core.errors import DatasetError


@dataclass(frozen=True)
class Sample:
    """One image of a dataset. ``label`` 0 = good, 1 = defective; ``mask`` is a ground-truth mask path."""

    path: Path
    label: int = 0
    defect_type: str = "good"
    mask: Path | None = None
    partner: Path | None = None  # low-light image of the same part, for paired data


@dataclass
class PairedSet:
    """Matched pairs and what could not be matched."""

    pairs: list[Sample]
    only_welllit: list[Path] = field(default_factory=list)
    only_lowlight: list[Path] = field(default_factory=list)

    def report(self) -> str:
        parts = [f"{len(self.pairs)} pairs"]
        if self.only_welllit:
            parts.append(
                f"{len(self.only_welllit)} well-lit images without a low-light partner "
                f"(e.g. {self.only_welllit[0].name})"
            )
        if self.only_lowlight:
            parts.append(
                f"{len(self.only_lowlight)} low-light images without a well-lit partner "
                f"(e.g. {self.only_lowlight[0].name})"
            )
        return "; ".join(parts)


@dataclass
class MVTecSet:
    """Train (good) and test (good + defective, with masks where present) samples of one category."""

    root: Path
    train: list[Sample]
    test: list[Sample]

    @property
    def defect_types(self) -> list[str]:
        return sorted({s.defect_type for s in self.test if s.label == 1})


def _require_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise DatasetError(f"{what} {path} is not a folder")


def _find_mask(gt_dir: Path, stem: str) -> Path | None:
    for name in (f"{stem}_mask.png", f"{stem}.png", f"{stem}_mask.bmp", f"{stem}_mask.tif"):
        candidate = gt_dir / name
        if candidate.is_file():
            return candidate
    return None


def is_mvtec(root: str | Path) -> bool:
    root = Path(root)
    return (root / "train" / "good").is_dir() or (root / "test" / "good").is_dir()


def read_mvtec(root: str | Path) -> MVTecSet:
    """Read one MVTec AD category folder."""
    root = Path(root)
    _require_dir(root, "dataset folder")
    if not is_mvtec(root):
        raise DatasetError(f"{root} is not in MVTec AD layout: expected train/good/ and test/<type>/ folders")
    train = [Sample(p) for p in list_images(root / "train" / "good")]
    test: list[Sample] = []
    test_dir = root / "test"
    if test_dir.is_dir():
        for type_dir in sorted(d for d in test_dir.iterdir() if d.is_dir()):
            good = type_dir.name == "good"
            for p in list_images(type_dir):
                mask = None if good else _find_mask(root / "ground_truth" / type_dir.name, p.stem)
                test.append(Sample(p, 0 if good else 1, type_dir.name, mask))
    if not train and not test:
        raise DatasetError(f"{root} holds no images in train/good or test/")
    return MVTecSet(root, train, test)


def read_good_folder(folder: str | Path, recursive: bool = False) -> list[Sample]:
    """All images of a folder of good parts."""
    folder = Path(folder)
    _require_dir(folder, "image folder")
    images = list_images(folder, recursive=recursive)
    if not images:
        raise DatasetError(f"{folder} holds no images (PNG, JPEG, BMP or TIFF)")
    return [Sample(p) for p in images]


def _by_stem(paths: list[Path]) -> tuple[dict[str, Path], list[Path]]:
    """First image of each stem, and the others with a stem already taken (e.g. ``a.png`` beside ``a.bmp``)."""
    first: dict[str, Path] = {}
    extra: list[Path] = []
    for p in paths:
        if p.stem in first:
            extra.append(p)
        else:
            first[p.stem] = p
    return first, extra


def read_paired(welllit: str | Path, lowlight: str | Path) -> PairedSet:
    """Match well-lit and low-light images by file stem (extensions may differ)."""
    welllit, lowlight = Path(welllit), Path(lowlight)
    _require_dir(welllit, "well-lit folder")
    _require_dir(lowlight, "low-light folder")
    wl, wl_extra = _by_stem(list_images(welllit))
    ll, ll_extra = _by_stem(list_images(lowlight))
    pairs = [Sample(wl[k], partner=ll[k]) for k in sorted(wl.keys() & ll.keys())]
    result = PairedSet(
        pairs,
        sorted([wl[k] for k in wl.keys() - ll.keys()] + wl_extra),
        sorted([ll[k] for k in ll.keys() - wl.keys()] + ll_extra),
    )
    if not pairs:
        raise DatasetError(f"no image names match between {welllit} and {lowlight}: {result.report()}")
    return result


def read_good_bad(root: str | Path) -> list[Sample]:
    """A folder with ``good/`` and ``bad/`` (optionally ``masks/`` with ``<stem>_mask.png``)."""
    root = Path(root)
    _require_dir(root, "evaluation folder")
    if not (root / "good").is_dir() or not (root / "bad").is_dir():
        raise DatasetError(f"{root} needs both good/ and bad/ sub-folders")
    masks = root / "masks"
    samples = [Sample(p, 0) for p in list_images(root / "good")]
    samples += [
        Sample(p, 1, "bad", _find_mask(masks, p.stem) if masks.is_dir() else None) for p in list_images(root / "bad")
    ]
    if not samples:
        raise DatasetError(f"{root}/good and {root}/bad hold no images")
    return samples


def read_labelled(root: str | Path) -> list[Sample]:
    """Evaluation samples from an MVTec category (its test split) or a good/bad folder."""
    root = Path(root)
    if is_mvtec(root):
        test = read_mvtec(root).test
        if not test:
            raise DatasetError(f"{root}/test holds no images")
        return test
    return read_good_bad(root)
