"""Fixtures of the line I/O tests: a real predictor, OK and NG part images, and a private log.

The station inspects with a real predictor: the session's tiny model from tests/core/conftest.py, or, for quick
local runs, the 'tiles' category of ``LLAD_GUI_TEST_HOME`` (see tests/gui/conftest.py). The OK part is the good
training image the model scores lowest, the NG part the generated defect image it scores highest.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.data.io import list_images
from core.log import InspectionLog
from core.types import Verdict


@pytest.fixture(scope="session")
def line_predictor(request):
    from core.predictor import Predictor

    reuse = os.environ.get("LLAD_GUI_TEST_HOME")
    if reuse and (Path(reuse) / "recipes" / "tiles" / "recipe.json").exists():
        from core.recipes import RecipeStore

        predictor = Predictor.from_recipe(RecipeStore(Path(reuse) / "recipes").get("tiles"), device="cpu")
    else:
        predictor = Predictor(request.getfixturevalue("trained"), category="tiles", version="test", device="cpu")
    predictor.warm_up()
    return predictor


@pytest.fixture(scope="session")
def parts(line_predictor, parts_root) -> dict[str, Path]:
    """Generated images: 'ok' (scored OK) and 'ng' (scored NG) by the session's model."""
    good = list_images(parts_root / "train" / "good")[:6]
    defects = [p for d in ("blob", "crack", "scratch") for p in list_images(parts_root / "test" / d)[:3]]
    ok = min(good, key=lambda p: line_predictor.predict(str(p)).score)
    ng = max(defects, key=lambda p: line_predictor.predict(str(p)).score)
    assert line_predictor.predict(str(ok)).verdict is Verdict.OK, "precondition: no good image is scored OK"
    assert line_predictor.predict(str(ng)).verdict is Verdict.NG, "precondition: no defect image is scored NG"
    return {"ok": ok, "ng": ng}


@pytest.fixture
def line_log(tmp_path):
    log = InspectionLog(tmp_path / "log.sqlite", synchronous="NORMAL")
    yield log
    log.close()
