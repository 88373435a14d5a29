"""The Evaluate page without any data set: a category trained on generated parts (as the self-test draws them),
a good/ + bad/ folder of generated parts with blotches, then issue 33 bug 3 (Suggest enabled after the run, the
text following Apply) and the threshold assistant with the test set drawn, in the default suite."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.data.defects import blotch_defect
from core.recipes import RecipeStore
from core.selftest import generated_part
from core.training import preset, run_fit
from llad_gui.pages.evaluate_page import EvaluatePage
from llad_gui.state import AppState

TIMEOUT = 240_000


@pytest.fixture(scope="module")
def generated_home(tmp_path_factory):
    """An LLAD home with 'parts' trained (5 tiny steps) on 12 generated parts and active."""
    home = tmp_path_factory.mktemp("generated-home")
    recipe = RecipeStore(home / "recipes").create("parts")
    rng = np.random.default_rng(3)
    for i in range(12):
        recipe.add_sample(generated_part(rng), stem=f"good{i:02d}")
    recipe.save_version(run_fit(recipe.samples(), preset("tiny", steps=5), calibration_defects=6), activate=True)
    return home


@pytest.fixture
def labelled(tmp_path):
    """4 good and 4 blotched generated parts in good/ + bad/."""
    rng = np.random.default_rng(11)
    for kind in ("good", "bad"):
        (tmp_path / "labelled" / kind).mkdir(parents=True)
        for i in range(4):
            part = generated_part(rng)
            if kind == "bad":
                part, _ = blotch_defect(part, rng)
            cv2.imwrite(str(tmp_path / "labelled" / kind / f"{kind}{i}.png"), part[:, :, ::-1])
    return tmp_path / "labelled"


@pytest.fixture
def page(qtbot, generated_home, tmp_path, monkeypatch):
    from llad_gui.app import make_application

    make_application()  # the application's style sheet: widget sizes as on the line
    home = tmp_path / "home"
    shutil.copytree(generated_home, home)
    monkeypatch.setenv("LLAD_HOME", str(home))
    state = AppState(home)
    state.set_category("parts")
    p = EvaluatePage(state)
    qtbot.addWidget(p)
    p.resize(1024, 768)
    p.show()
    yield p
    p.shutdown()
    state.close()


def test_suggest_after_evaluation_apply_and_the_assistant(qtbot, page, labelled):
    assert page.calibration is not None and page.assistant.tradeoff.usable  # the version's own calibration
    page.folder_edit.setText(str(labelled))
    with qtbot.waitSignal(page.evaluationFinished, timeout=TIMEOUT) as done:
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    evaluation = done.args[0]
    assert evaluation.report.counts == {"good": 4, "defective": 4, "unreadable": 0}
    assert page.suggest_button.isEnabled()  # bug 3: it stayed disabled
    assert "test set" in [c.name for c in page.assistant.tradeoff.curves()]

    page.frr_spin.setValue(0.0)
    qtbot.mouseClick(page.suggest_button, Qt.MouseButton.LeftButton)
    s = page.suggestion
    assert s is not None and s.false_reject_rate == 0.0 and f"{s.threshold:.3f}" != "1.000"
    with qtbot.waitSignal(page.state.thresholdsChanged):
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    assert f"Now: {s.threshold:.3f}" in page.suggestion_label.text()  # bug 3: it still said 1.000
    assert int(page.confusion_cells["fp"].text()) == 0
    assert page.assistant.thresholds.image == pytest.approx(s.threshold)  # the assistant's point followed
    # with the results and the assistant filled in, the page still fits a 1024 px panel: the assistant's column
    # (480 px at first) had needed 599, and the window grew to 1149
    assert page.assistant.minimumSizeHint().width() <= 480, page.assistant.minimumSizeHint()
    assert page.minimumSizeHint().width() <= 1000, page.minimumSizeHint()
