"""Fixtures for model tests: one small real training run on MTD images, shared by the whole session."""

from __future__ import annotations

import pytest

from core.data.datasets import read_mvtec
from core.training import preset, run_fit

TINY_STEPS = 30


@pytest.fixture(scope="session")
def mtd(mtd_root):
    return read_mvtec(mtd_root)


@pytest.fixture(scope="session")
def trained_run(mtd):
    """(TrainedModel, events): the tiny preset on 20 real good MTD images."""
    events = []
    model = run_fit(mtd.train[:20], preset("tiny", steps=TINY_STEPS), on_event=events.append)
    return model, events


@pytest.fixture(scope="session")
def trained(trained_run):
    return trained_run[0]


@pytest.fixture()
def store(tmp_path):
    from core.recipes import RecipeStore

    return RecipeStore(tmp_path / "recipes")
