"""The Inspect page's widgets on their own, with real results built from arrays: outlines without the heatmap,
the heatmap drawn over the brightened image for dark frames, a colour bar and a caption that follow the
colormap, the reason an NG part with nothing outlined is NG, thresholds above 4 typed into the number box, the
latest-parts table following new rows after the operator scrolled or clicked, and counters that follow the
thresholds, count CHECK apart and leave ERROR out of the yield."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.data.lowlight import enhance_lowlight
from core.types import Frame, InputMode, InspectionResult, Thresholds, Verdict
from core.visualize import colorize
from llad_gui.widgets.recent_results import HistoryEntry, RecentResults
from llad_gui.widgets.result_view import ResultView, ViewMode
from llad_gui.widgets.threshold_panel import ThresholdPanel
from llad_gui.widgets.verdict_panel import VerdictPanel


def _result(score: float = 1.5, peak: float = 1.8, mode: InputMode = InputMode.WELLLIT, dark: bool = False):
    """A 64 x 64 grey part with a square of ``peak`` in its anomaly map, scored ``score``."""
    rng = np.random.default_rng(0)
    level = 25 if dark else 140
    image = np.clip(rng.normal(level, 4, (64, 64, 3)), 0, 255).astype(np.uint8)
    amap = np.full((64, 64), 0.2, np.float32)
    amap[20:36, 20:36] = peak
    t = Thresholds()
    return InspectionResult(
        score=score,
        raw_score=score,
        verdict=t.decide(score),
        anomaly_map=amap,
        illumination_map=None,
        thresholds=t,
        mode=mode,
        frame=Frame(image, source="test", ref="/parts/p1.png"),
    )


def test_outlines_stay_when_the_heatmap_is_unticked(qtbot):
    view = ResultView()
    qtbot.addWidget(view)
    result = _result()
    view.set_result(result)
    view.set_options(show_overlay=False, show_contours=True)
    shown = view.rendered()
    assert not np.array_equal(shown, result.frame.image), "the outline is drawn without the heatmap"
    inside = shown[24:32, 24:32]
    assert np.array_equal(inside, result.frame.image[24:32, 24:32]), "but no heatmap colour inside"
    view.set_options(show_contours=False)
    assert np.array_equal(view.rendered(), result.frame.image)


def test_dark_frames_get_their_heatmap_over_the_brightened_image(qtbot):
    view = ResultView()
    qtbot.addWidget(view)
    dark = _result(score=0.3, peak=0.1, mode=InputMode.LOWLIGHT, dark=True)
    view.set_result(dark)
    view.set_options(opacity=0.0, show_contours=False)
    shown = view.rendered()
    brightened = enhance_lowlight(dark.frame.image)
    assert np.array_equal(shown, brightened)
    assert shown.mean() > dark.frame.image.mean() + 10
    assert "brightened" in view.caption_text()
    view.set_mode(ViewMode.INPUT)  # the input view stays the image as captured
    assert np.array_equal(view.rendered(), dark.frame.image)


@pytest.mark.parametrize("cmap", ["turbo", "inferno", "hot"])
def test_colour_bar_and_caption_follow_the_colormap(qtbot, cmap):
    view = ResultView()
    qtbot.addWidget(view)
    view.set_result(_result())
    view.set_options(cmap=cmap)
    bar = view.colour_bar
    assert bar.isVisibleTo(view)
    expected = colorize(np.linspace(0.0, 2.0, 256)[None, :], cmap)[0]
    assert np.array_equal(bar.colours(), expected)
    caption = view.caption_text()
    assert "blue" not in caption and "red" not in caption
    assert "colour bar" in caption
    view.set_mode(ViewMode.INPUT)
    assert not bar.isVisibleTo(view)


def test_ng_with_nothing_outlined_says_the_whole_image_score_decided(qtbot):
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    spread = _result(score=1.4, peak=0.6)  # NG, yet no pixel reaches the pixel threshold
    panel.show_result(spread)
    assert panel.verdict.text() == "NG"
    assert "whole-image score" in panel.detail.text() and "no single place" in panel.detail.text()
    local = _result(score=1.4, peak=1.8)
    panel.show_result(local)
    assert "whole-image score" not in panel.detail.text()


def test_threshold_typed_above_four_is_kept(qtbot):
    panel = ThresholdPanel()
    qtbot.addWidget(panel)
    edited = []
    panel.thresholdsEdited.connect(edited.append)
    box = panel.image.box
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "6.5")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert panel.thresholds().image == pytest.approx(6.5)
    assert edited[-1].image == pytest.approx(6.5)
    assert panel.image.slider.value() == panel.image.slider.maximum()  # the slider pins at its end
    panel.set_thresholds(Thresholds(9.0, 1.0, 0.0))
    assert box.value() == pytest.approx(9.0)


def test_latest_parts_follow_new_rows_after_scrolling_and_clicking(qtbot):
    table = RecentResults(limit=50)
    qtbot.addWidget(table)
    table.resize(500, 160)
    table.show()
    qtbot.waitExposed(table)
    for k in range(40):
        table.add(HistoryEntry(k, 1e9 + k, f"/p/{k}.png", 0.5, Verdict.OK))
    qtbot.waitUntil(lambda: table.verticalScrollBar().maximum() > 0)
    table.verticalScrollBar().setValue(table.verticalScrollBar().maximum())
    rect = table.visualItemRect(table.item(30, 1))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert table.verticalScrollBar().value() > 0
    table.add(HistoryEntry(99, 2e9, "/p/newest.png", 1.5, Verdict.NG))
    assert table.item(0, 1).text() == "newest.png"
    assert table.verticalScrollBar().value() == 0
    assert table.viewport().rect().contains(table.visualItemRect(table.item(0, 1)).center())


def test_counters_follow_thresholds_count_check_and_leave_errors_out_of_the_yield(qtbot):
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    t = Thresholds(1.0, 1.0, 0.2)
    panel.redecide(t)
    for score in (0.1, 0.5, 0.9, 1.2, float("nan")):
        panel.count(Verdict.ERROR if score != score else t.decide(score), score)
    shown = {k: panel.counts[k].text() for k in panel.counts}
    assert shown == {"inspected": "5", "ok": "2", "ng": "1", "check": "1", "error": "1", "yield": "50.0 %"}
    panel.redecide(Thresholds(0.4, 1.0, 0.0))  # the threshold moves: the counters follow, as the table does
    shown = {k: panel.counts[k].text() for k in panel.counts}
    assert shown == {"inspected": "5", "ok": "1", "ng": "3", "check": "0", "error": "1", "yield": "25.0 %"}
    panel.reset_counts()
    assert panel.counts["inspected"].text() == "0" and panel.counts["yield"].text() == "–"
