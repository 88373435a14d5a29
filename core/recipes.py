"""Per-category recipes on disk: samples, model versions, thresholds; atomic, versioned, never executable.

Layout of one category (``<recipes>/<name>/``)::

    recipe.json                 schema version, active model version, user thresholds, created/updated times,
                                the category's industrial camera settings (optional key ``camera``)
    samples/good/               good images collected by the operator (PNG)
    samples/lowlight/           optional low-light partners, same file stem as their good image
    samples/excluded.json       names excluded from training (kept on disk, not used)
    versions/v001/              one trained model
        weights.safetensors     network tensors only (a file that cannot run code)
        model.json              architecture, training settings, calibration, statistics, weights SHA-256

Every write is atomic: JSON files go to a temporary file that is flushed, fsynced and renamed over the old one;
a version is built in a hidden temporary folder and renamed into place only when complete, and the active
pointer in ``recipe.json`` moves only after that. A crash at any point leaves the previous state loadable.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import RecipeError
from core.fsio import atomic_write_bytes, atomic_write_json, fsync_dir, read_json
from core.types import Thresholds

SCHEMA_VERSION = 1
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
VERSION_RE = re.compile(r"^v(\d{3,})$")


def validate_name(name: str) -> str:
    """Return the stripped name or raise RecipeError saying what is wrong with it."""
    if not isinstance(name, str):
        raise RecipeError("a category name must be text")
    stripped = name.strip()
    if not stripped:
        raise RecipeError("a category name cannot be empty")
    if "/" in stripped or "\\" in stripped or ".." in stripped:
        raise RecipeError(f"category name {name!r} must not contain '/', '\\' or '..'")
    if not NAME_RE.match(stripped) or stripped.endswith("."):
        raise RecipeError(
            f"category name {name!r} may use letters, digits, space, '_', '-' and '.', start with a letter or "
            "digit, not end with '.', and be at most 64 characters"
        )
    if stripped.split(".")[0].lower() in _RESERVED:
        raise RecipeError(f"category name {name!r} is reserved by the operating system")
    return stripped


@dataclass
class VersionInfo:
    """Summary of one model version, for lists and the activation dialog."""

    version: str
    created: str
    sample_count: int
    preset: str
    stats: dict
    path: Path


class Recipe:
    """One category folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = root.name

    # ---- metadata -------------------------------------------------------------------------------------
    @property
    def meta_path(self) -> Path:
        return self.root / "recipe.json"

    def meta(self) -> dict:
        meta = read_json(self.meta_path)
        schema = meta.get("schema_version")
        if not isinstance(schema, int):
            raise RecipeError(f"{self.meta_path} has no schema version")
        if schema > SCHEMA_VERSION:
            raise RecipeError(
                f"category {self.name!r} was written by a newer LLAD (schema {schema}, this one reads up to "
                f"{SCHEMA_VERSION}); update the application"
            )
        return meta

    def _update_meta(self, **changes) -> dict:
        meta = self.meta()
        meta.update(changes)
        meta["updated"] = _now()
        atomic_write_json(self.meta_path, meta)
        return meta

    @property
    def active_version(self) -> str | None:
        return self.meta().get("active_version")

    def thresholds(self) -> Thresholds:
        return Thresholds.from_dict(self.meta().get("thresholds") or {})

    def set_thresholds(self, thresholds: Thresholds) -> None:
        self._update_meta(thresholds=thresholds.to_dict())

    def reset_thresholds(self) -> Thresholds:
        """Back to the calibrated defaults (1.0 on the normalised scales); keeps the uncertain band."""
        band = self.thresholds().uncertain_band
        t = Thresholds(1.0, 1.0, band)
        self.set_thresholds(t)
        return t

    def camera_settings(self):
        """The category's industrial camera (:class:`core.sources.CameraSettings`), or None if it has none.

        Raises RecipeError when the stored settings are damaged."""
        from core.sources.camera_settings import CameraSettings

        data = self.meta().get("camera")
        if data is None:
            return None
        try:
            return CameraSettings.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"category {self.name!r} has damaged camera settings: {exc}") from None

    def set_camera_settings(self, settings) -> None:
        """Store (or with None, forget) the category's camera settings; readers that predate them ignore the key."""
        self._update_meta(camera=settings.to_dict() if settings is not None else None)

    # ---- inspection mask ------------------------------------------------------------------------------
    def roi(self):
        """The category's inspection mask (:class:`core.roi.RoiMask`; empty: the whole image) that the next
        training uses. Each version keeps the mask it was trained with (:meth:`version_roi`)."""
        from core.roi import RoiMask

        return RoiMask.from_dict(self.meta().get("roi"))

    def set_roi(self, mask) -> None:
        """Save ``mask`` (validated) as the category's inspection mask; it applies from the next training."""
        mask.validate()
        self._update_meta(roi=None if mask.is_empty else mask.to_dict())

    def version_roi(self, version: str):
        """The inspection mask ``version`` was trained and calibrated with (what inspection with it applies)."""
        from core.roi import RoiMask

        return RoiMask.from_dict(read_json(self.versions_dir / version / "model.json").get("stats", {}).get("roi"))

    # ---- samples ---------------------------------------------------------------------------------------
    @property
    def good_dir(self) -> Path:
        return self.root / "samples" / "good"

    @property
    def lowlight_dir(self) -> Path:
        return self.root / "samples" / "lowlight"

    def excluded(self) -> set[str]:
        path = self.root / "samples" / "excluded.json"
        if not path.exists():
            return set()
        return set(read_json(path).get("excluded", []))

    def set_excluded(self, names: set[str]) -> None:
        atomic_write_json(self.root / "samples" / "excluded.json", {"excluded": sorted(names)})

    def add_sample(self, image: np.ndarray, lowlight: np.ndarray | None = None, stem: str | None = None) -> Path:
        """Store a good sample (RGB uint8) and optionally its low-light partner; returns the good image path."""
        import cv2

        stem = stem or time.strftime("%Y%m%d-%H%M%S") + f"-{time.perf_counter_ns() % 1_000_000:06d}"
        for folder, img in ((self.good_dir, image), (self.lowlight_dir, lowlight)):
            if img is None:
                continue
            ok, buf = cv2.imencode(".png", np.ascontiguousarray(img[:, :, ::-1]))
            if not ok:
                raise RecipeError("could not encode the sample as PNG")
            atomic_write_bytes(folder / f"{stem}.png", buf.tobytes())
        return self.good_dir / f"{stem}.png"

    def import_samples(self, paths, lowlight_paths=None) -> list[Path]:
        """Copy image files in as good samples (content is checked when trained on).

        ``lowlight_paths`` are low-light partners, matched to ``paths`` by file stem. A good image whose name is
        taken is stored as ``<stem>-N``, and its partner follows it under the same new stem, so a partner never
        lands on (or overwrites) another sample's. Partners without a good image of their stem are skipped.
        """
        partners = {Path(p).stem: Path(p) for p in lowlight_paths or []}
        out = []
        self.good_dir.mkdir(parents=True, exist_ok=True)
        for p in paths:
            p = Path(p)
            dest = self.good_dir / p.name
            n = 1
            while dest.exists() or any(self.lowlight_dir.glob(f"{dest.stem}.*")):
                dest = self.good_dir / f"{p.stem}-{n}{p.suffix}"
                n += 1
            shutil.copy2(p, dest)
            out.append(dest)
            partner = partners.get(p.stem)
            if partner is not None:
                self.lowlight_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy2(partner, self.lowlight_dir / f"{dest.stem}{partner.suffix}")
        return out

    def samples(self, include_excluded: bool = False):
        """Good samples as :class:`core.data.datasets.Sample` (with low-light partners matched by stem)."""
        from core.data.datasets import Sample
        from core.data.io import list_images

        excluded = set() if include_excluded else self.excluded()
        partners = {p.stem: p for p in list_images(self.lowlight_dir)}
        return [Sample(p, partner=partners.get(p.stem)) for p in list_images(self.good_dir) if p.name not in excluded]

    def delete_sample(self, name: str) -> None:
        path = self.good_dir / Path(name).name
        path.unlink(missing_ok=True)
        for partner in self.lowlight_dir.glob(f"{path.stem}.*"):
            partner.unlink(missing_ok=True)

    # ---- versions --------------------------------------------------------------------------------------
    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    def versions(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        names = [d.name for d in self.versions_dir.iterdir() if d.is_dir() and VERSION_RE.match(d.name)]
        return sorted(names, key=lambda n: int(VERSION_RE.match(n).group(1)))

    def version_info(self, version: str) -> VersionInfo:
        meta = read_json(self.versions_dir / version / "model.json")
        return VersionInfo(
            version=version,
            created=meta.get("created", ""),
            sample_count=int(meta.get("stats", {}).get("train_images", 0))
            + int(meta.get("stats", {}).get("holdout_images", 0)),
            preset=meta.get("train_config", {}).get("preset", ""),
            stats=meta.get("stats", {}),
            path=self.versions_dir / version,
        )

    def save_version(self, trained, activate: bool = False) -> str:
        """Write a trained model as the next version (atomically); activate it if asked."""
        from core.checkpoint import write_version

        self.versions_dir.mkdir(parents=True, exist_ok=True)
        existing = [int(VERSION_RE.match(v).group(1)) for v in self.versions()]
        version = f"v{(max(existing) + 1) if existing else 1:03d}"
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.versions_dir))
        try:
            write_version(tmp, trained)
            fsync_dir(tmp)
            os.rename(tmp, self.versions_dir / version)
            fsync_dir(self.versions_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if activate:
            self.activate(version)
        return version

    def activate(self, version: str) -> None:
        if version not in self.versions():
            raise RecipeError(f"category {self.name!r} has no version {version!r}")
        from core.checkpoint import read_version

        read_version(self.versions_dir / version)  # refuse to activate something that does not load
        self._update_meta(active_version=version)

    def load(self, version: str | None = None):
        """Load a version (the active one by default) as a :class:`core.training.TrainedModel`."""
        from core.checkpoint import read_version

        version = version or self.active_version
        if not version:
            raise RecipeError(f"category {self.name!r} has no trained model yet")
        if version not in self.versions():
            raise RecipeError(f"category {self.name!r}: model version {version} is missing")
        return read_version(self.versions_dir / version)

    def cleanup_incomplete(self) -> int:
        """Remove half-written version folders left by a crash; returns how many."""
        n = 0
        if self.versions_dir.is_dir():
            for d in self.versions_dir.iterdir():
                if d.is_dir() and d.name.startswith(".tmp-"):
                    shutil.rmtree(d, ignore_errors=True)
                    n += 1
        return n


class RecipeStore:
    """All categories under one folder (see :func:`core.paths.recipes_dir`)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        name = validate_name(name)
        path = (self.root / name).resolve()
        if path.parent != self.root.resolve():
            raise RecipeError(f"category name {name!r} escapes the recipes folder")
        return path

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(d.name for d in self.root.iterdir() if d.is_dir() and (d / "recipe.json").exists())

    def exists(self, name: str) -> bool:
        return (self._path(name) / "recipe.json").exists()

    def get(self, name: str) -> Recipe:
        path = self._path(name)
        if not (path / "recipe.json").exists():
            raise RecipeError(f"no category named {name!r} in {self.root}")
        recipe = Recipe(path)
        recipe.meta()
        return recipe

    def create(self, name: str) -> Recipe:
        path = self._path(name)
        if path.exists():
            raise RecipeError(f"a category named {path.name!r} already exists")
        for other in self.names():
            if other.lower() == path.name.lower():
                raise RecipeError(f"a category named {other!r} already exists (names ignore case)")
        (path / "samples" / "good").mkdir(parents=True)
        (path / "versions").mkdir()
        now = _now()
        atomic_write_json(
            path / "recipe.json",
            {
                "schema_version": SCHEMA_VERSION,
                "name": path.name,
                "created": now,
                "updated": now,
                "active_version": None,
                "thresholds": Thresholds().to_dict(),
            },
        )
        return Recipe(path)

    def rename(self, old: str, new: str) -> Recipe:
        src = self.get(old).root
        dst = self._path(new)
        if dst.exists() and dst != src:
            raise RecipeError(f"a category named {dst.name!r} already exists")
        os.rename(src, dst)
        recipe = Recipe(dst)
        recipe._update_meta(name=dst.name)
        return recipe

    def duplicate(self, name: str, new: str) -> Recipe:
        src = self.get(name).root
        dst = self._path(new)
        if dst.exists():
            raise RecipeError(f"a category named {dst.name!r} already exists")
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            shutil.copytree(src, tmp / "copy", ignore=shutil.ignore_patterns(".tmp-*"))
            os.rename(tmp / "copy", dst)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        recipe = Recipe(dst)
        recipe._update_meta(name=dst.name, created=_now())
        return recipe

    def delete(self, name: str) -> None:
        src = self.get(name).root
        trash = self.root / f".deleted-{src.name}-{int(time.time())}"
        os.rename(src, trash)  # atomic disappearance, then the slow part
        shutil.rmtree(trash, ignore_errors=True)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
