"""Shared fixtures: the repository root, a generated data set of parts in MVTec layout (the default suite's
data), and the real MTD data set for the tests marked ``dataset``.

A test that asks for ``mtd_root`` is marked ``dataset`` here if it was not already; when ../shared/datasets is
absent those tests are skipped with the reason, and the terminal summary counts every skip by its reason, so a
run that skipped something says so in its last lines.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS_ROOT = REPO_ROOT.parent / "shared" / "datasets"
MTD_ROOT = DATASETS_ROOT / "mtd"
NO_MTD = f"needs the MTD data set at {MTD_ROOT} (../shared/datasets/mtd beside the repo; CI has it)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    have_mtd = (MTD_ROOT / "train" / "good").is_dir()
    for item in items:
        if "mtd_root" in getattr(item, "fixturenames", ()) and item.get_closest_marker("dataset") is None:
            item.add_marker(pytest.mark.dataset)
        if item.get_closest_marker("dataset") is not None and not have_mtd:
            item.add_marker(pytest.mark.skip(reason=NO_MTD))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """One line a reason: how many tests were skipped and why (the ``-ra`` list names each one)."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.write_sep("=", f"{sum(reasons.values())} skipped", yellow=True)
        for reason, n in reasons.most_common():
            terminalreporter.write_line(f"{n:4d} skipped: {reason}")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def parts_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated parts in MVTec layout (60 good to train on; 10 good and 6 each of band, blob, crack and scratch
    to test, with masks), written once a session under tmp."""
    from core.data.synthetic_parts import write_parts_dataset

    return write_parts_dataset(tmp_path_factory.mktemp("parts"), seed=0)


@pytest.fixture(scope="session")
def mtd_root() -> Path:
    """The Magnetic Tile Defect data set in MVTec layout, read in place (never copied into the repo)."""
    if not (MTD_ROOT / "train" / "good").is_dir():
        pytest.skip(NO_MTD)
    return MTD_ROOT
