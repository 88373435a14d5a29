"""Shared fixtures: the repository root and the real MTD dataset (skipped, with the reason, when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
MTD_ROOT = REPO_ROOT.parent / "shared" / "datasets" / "mtd"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def mtd_root() -> Path:
    """The Magnetic Tile Defect dataset in MVTec layout, read in place (never copied into the repo)."""
    if not (MTD_ROOT / "train" / "good").is_dir():
        pytest.skip(f"MTD dataset not found at {MTD_ROOT} (expected ../shared/datasets/mtd beside the repo)")
    return MTD_ROOT
