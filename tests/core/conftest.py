"""Fixtures for model tests: one small training run on generated parts shared by the whole session, and the real
MTD data set for the tests marked ``dataset``."""

from __future__ import annotations

import pytest

from core.data.datasets import read_mvtec
from core.training import preset, run_fit

TINY_STEPS = 30


@pytest.fixture(scope="session")
def generated(parts_root):
    """The generated data set (see :func:`core.data.synthetic_parts.write_parts_dataset`)."""
    return read_mvtec(parts_root)


@pytest.fixture(scope="session")
def mtd(mtd_root):
    return read_mvtec(mtd_root)


@pytest.fixture(scope="session")
def trained_run(generated):
    """(TrainedModel, events): the tiny preset on 20 generated good parts."""
    events = []
    model = run_fit(generated.train[:20], preset("tiny", steps=TINY_STEPS), on_event=events.append)
    return model, events


@pytest.fixture(scope="session")
def trained(trained_run):
    return trained_run[0]


@pytest.fixture()
def store(tmp_path):
    from core.recipes import RecipeStore

    return RecipeStore(tmp_path / "recipes")
