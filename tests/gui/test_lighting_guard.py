"""The lighting guard in the GUI: a frame far darker than the active model was calibrated for shows CHECK with the
reason in the verdict panel and in the log, while a normally lit one is decided by its score."""

from __future__ import annotations

import cv2

from core.data.io import list_images, load_image
from core.data.lowlight import change_exposure
from core.lighting import TOO_DARK
from core.types import Verdict
from llad_gui.workers.acquisition import SourceSpec


def test_a_far_darker_frame_shows_check_with_its_reason(qtbot, window, tmp_path, parts_root):
    page, state = window.inspect, window.state
    lighting = state.predictor.post.lighting
    assert lighting is not None
    tile = load_image(list_images(parts_root / "test" / "good")[0])
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a_well.png"), tile[:, :, ::-1])
    cv2.imwrite(str(folder / "b_dark.png"), change_exposure(tile, 0.05 * lighting.exposure_min)[:, :, ::-1])
    page.open_source(SourceSpec("folder", str(folder)))
    qtbot.waitUntil(lambda: len(page.history) >= 1, timeout=60_000)
    page.run.play(0.0)
    qtbot.waitUntil(lambda: len(page.history) >= 2, timeout=60_000)
    qtbot.waitUntil(lambda: not page.run.is_playing)
    assert page.current.frame.ref.endswith("b_dark.png")
    assert page.verdict.verdict.text() == "CHECK"
    assert TOO_DARK in page.verdict.detail.text()
    assert page.history[-1].reason == TOO_DARK and page.history[0].reason == ""
    assert page.recent.verdicts()[0] == "CHECK"
    # a threshold moved afterwards re-decides the scores but keeps the dark frame's CHECK
    page.thresholds.image.box.setValue(4.0)
    assert page.verdict.verdict.text() == "CHECK" and page.recent.verdicts()[0] == "CHECK"
    qtbot.waitUntil(lambda: len(state.log.query(category="tiles")) >= 2, timeout=10_000)
    logged = {r.image_ref.rsplit("/", 1)[-1]: r for r in state.log.query(category="tiles")}
    assert logged["b_dark.png"].reason == TOO_DARK and logged["b_dark.png"].verdict is Verdict.UNCERTAIN
    assert logged["a_well.png"].reason == ""
