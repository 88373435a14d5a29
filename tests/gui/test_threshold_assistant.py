"""The threshold assistant widget around core trade-offs built from known scores: the curves and operating points
it draws, a target false-reject or catch rate turned into a threshold, and the low-catch warning."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.threshold_advice import ScoreSet, TradeOff, curve
from core.types import Thresholds
from llad_gui.widgets.threshold_assistant import ThresholdAssistant

GOOD = np.linspace(-1.0, 0.9, 20)
DEFECT = np.array([0.5, 0.8, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0])


@pytest.fixture
def assistant(qtbot):
    w = ThresholdAssistant()
    qtbot.addWidget(w)
    w.resize(600, 500)
    w.show()
    return w


def test_draws_a_curve_a_set_and_the_operating_point(assistant):
    dark, lit = ScoreSet.of("low-light", GOOD + 0.5, DEFECT), ScoreSet.of("well-lit", GOOD, DEFECT)
    t = TradeOff((dark, lit), reference=ScoreSet.of("test set", [0.1, 1.1], [2.0, 0.3]))
    assistant.set_tradeoff(t)
    assistant.set_thresholds(Thresholds(1.05))
    assert len(assistant.curve_items) == 4 and len(assistant.point_items) == 4  # pooled, two modes, test set
    x, y = assistant.curve_items[2].getData()
    expected = curve(lit)
    np.testing.assert_allclose(x, expected.false_reject * 100)
    np.testing.assert_allclose(y, expected.catch * 100)
    px, py = assistant.point_items[1].getData()  # low-light at 1.05: 4 of 20 darkened good parts rejected
    assert (px[0], py[0]) == pytest.approx((20.0, 80.0))
    assistant.set_thresholds(Thresholds(2.2))
    px, py = assistant.point_items[1].getData()
    assert (px[0], py[0]) == pytest.approx((0.0, 50.0))
    assert "2.200" in assistant.text.text()
    assistant.set_tradeoff(None)  # nothing to show: no curves left, nothing to choose
    assert assistant.curve_items == [] and not assistant.set_button.isEnabled()
    assert not assistant.frr_spin.isEnabled()


def test_picking_a_target_emits_the_threshold_that_meets_it(qtbot, assistant):
    t = TradeOff((ScoreSet.of("low-light", GOOD, DEFECT),))
    assistant.set_tradeoff(t)
    assistant.set_thresholds(Thresholds(1.0, 1.0, 0.1))
    assistant.catch_radio.setChecked(True)
    assistant.catch_spin.setValue(100.0)
    expected = t.threshold_for_catch(1.0, 0.1)
    assert assistant.set_button.text() == f"Set threshold to {expected:.3f}"
    tx, ty = assistant.target_item.getData()
    assert ty[0] == pytest.approx(100.0)
    with qtbot.waitSignal(assistant.thresholdChosen) as chosen:
        qtbot.mouseClick(assistant.set_button, Qt.MouseButton.LeftButton)
    assert chosen.args[0] == pytest.approx(expected)
    assistant.set_thresholds(Thresholds(chosen.args[0], 1.0, 0.1))  # the page applies it and reports back
    assert t.point(assistant.thresholds).catch_rate == 1.0
    assert not assistant.set_button.isEnabled()  # already there

    assistant.frr_radio.setChecked(True)
    assistant.frr_spin.setValue(0.0)
    with qtbot.waitSignal(assistant.thresholdChosen) as chosen:
        qtbot.mouseClick(assistant.set_button, Qt.MouseButton.LeftButton)
    assert t.point(Thresholds(chosen.args[0], 1.0, 0.1)).false_reject_rate == 0.0


def test_warns_in_words_when_few_defects_are_caught(assistant):
    weak = TradeOff((ScoreSet.of("low-light", GOOD, np.r_[np.zeros(9), 2.0]),))
    assistant.set_tradeoff(weak)
    assistant.set_thresholds(Thresholds(1.0))
    assert assistant.warning.isVisible()
    assert "catches about 1 in 10 synthetic defects at this threshold" in assistant.warning.text()
    assistant.set_thresholds(Thresholds(-0.5))  # lower it: most defects caught, but many good parts rejected
    assert "catches" not in assistant.warning.text() and "rejects" in assistant.warning.text()
    assistant.set_tradeoff(TradeOff((ScoreSet.of("low-light", GOOD, DEFECT),)))
    assistant.set_thresholds(Thresholds(1.0))
    assert not assistant.warning.isVisible() and "80% of synthetic defects are caught" in assistant.text.text()
