"""The Log page on a real SQLite log: rows newest first, filters, auto-refresh on new rows, CSV export of what
the filters show, and an operator override that persists."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QInputDialog

from core.log import InspectionLog
from core.types import InputMode, InspectionResult, Thresholds, Verdict
from llad_gui.pages.log_page import LogPage
from llad_gui.state import AppState

DAY = 86400.0


def _result(category: str, score: float) -> InspectionResult:
    t = Thresholds()
    return InspectionResult(
        score,
        score,
        t.decide(score),
        np.zeros((4, 4), np.float32),
        None,
        t,
        InputMode.LOWLIGHT,
        category=category,
        model_version="v001",
    )


@pytest.fixture
def page(qtbot, tmp_path):
    state = AppState(tmp_path / "home")
    now = time.time()
    for i, (cat, score, age_days) in enumerate(
        [("tiles", 0.2, 3), ("tiles", 1.7, 3), ("bracket", 0.4, 0), ("tiles", 0.1, 0), ("tiles", 2.5, 0)]
    ):
        state.log.record(
            _result(cat, score), source="folder", image_ref=f"/parts/p{i}.png", when=now - age_days * DAY - 60 + i
        )
    p = LogPage(state)
    qtbot.addWidget(p)
    p.show()
    yield p
    p.shutdown()
    state.close()


def _shown(p: LogPage) -> list[str]:
    return [p.model.index(r, 8).data() for r in range(p.model.rowCount())]


def test_rows_newest_first_and_filters(qtbot, page):
    assert _shown(page) == ["p4.png", "p3.png", "p2.png", "p1.png", "p0.png"]
    assert page.model.index(0, 4).data() == "NG" and page.model.index(1, 4).data() == "OK"

    page.category_combo.setCurrentIndex(page.category_combo.findData("bracket"))
    page.category_combo.activated.emit(page.category_combo.currentIndex())
    assert _shown(page) == ["p2.png"]
    assert "of 5 in the log" in page.count_label.text()

    page.category_combo.setCurrentIndex(0)
    page.verdict_combo.setCurrentIndex(page.verdict_combo.findData("NG"))
    page.verdict_combo.activated.emit(page.verdict_combo.currentIndex())
    assert _shown(page) == ["p4.png", "p1.png"]

    page.verdict_combo.setCurrentIndex(0)
    page.from_date.setDate(QDate.currentDate().addDays(-1))
    page.from_check.setChecked(True)
    assert _shown(page) == ["p4.png", "p3.png", "p2.png"]
    page.from_check.setChecked(False)
    page.to_date.setDate(QDate.currentDate().addDays(-2))
    page.to_check.setChecked(True)
    assert _shown(page) == ["p1.png", "p0.png"]


def test_new_rows_appear_by_themselves(qtbot, page):
    page.state.log.record(_result("tiles", 0.3), image_ref="/parts/new.png")
    qtbot.waitUntil(lambda: _shown(page)[:1] == ["new.png"], timeout=10_000)
    assert page.model.total == 6


def test_export_writes_the_filtered_rows(qtbot, page, tmp_path):
    page.verdict_combo.setCurrentIndex(page.verdict_combo.findData("OK"))
    page.verdict_combo.activated.emit(page.verdict_combo.currentIndex())
    out = tmp_path / "export.csv"
    with qtbot.waitSignal(page.exported) as sig:
        assert page.export_csv(out) == 3
    assert sig.args == [str(out), 3]
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["image_ref"] for r in rows] == ["/parts/p0.png", "/parts/p2.png", "/parts/p3.png"]  # oldest first
    assert {r["final_verdict"] for r in rows} == {"OK"}


def test_override_persists(qtbot, page, monkeypatch):
    page.table.selectRow(1)  # p3, OK by the model
    row = page.selected_row()
    assert row.image_ref.endswith("p3.png") and page.wrong_button.isEnabled()
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("chip on the edge", True))
    with qtbot.waitSignal(page.overrideSaved) as sig:
        qtbot.mouseClick(page.wrong_button, Qt.MouseButton.LeftButton)
    assert sig.args == [row.id, "NG"]
    assert page.model.index(1, 4).data() == "NG (operator; model said OK)"
    assert page.model.index(1, 5).data() == "chip on the edge"
    assert page.selected_row().id == row.id  # the selection survives the reload

    with InspectionLog(page.state.log.path) as other:  # a second connection sees it: it is on disk
        saved = other.get(row.id)
    assert saved.override_verdict == Verdict.NG and saved.verdict == Verdict.OK
    assert saved.override_note == "chip on the edge"

    assert page.mark_wrong(row.id, "it was dust") == Verdict.OK  # back to the model's verdict
    assert page.state.log.get(row.id).override_verdict is None


def test_the_uncertain_band_reads_check_as_on_the_inspect_page(qtbot, tmp_path):
    state = AppState(tmp_path / "home")
    t = Thresholds(1.0, 1.0, 0.3)
    result = InspectionResult(0.8, 0.8, t.decide(0.8), np.zeros((4, 4), np.float32), None, t, InputMode.WELLLIT)
    assert result.verdict is Verdict.UNCERTAIN
    state.log.record(result, source="folder", image_ref="/parts/check.png")
    p = LogPage(state)
    qtbot.addWidget(p)
    try:
        assert p.model.index(0, 4).data() == "CHECK"
        texts = [p.verdict_combo.itemText(i) for i in range(p.verdict_combo.count())]
        assert "CHECK" in texts and "UNCERTAIN" not in texts
        p.verdict_combo.setCurrentIndex(p.verdict_combo.findText("CHECK"))
        p.verdict_combo.activated.emit(p.verdict_combo.currentIndex())
        assert _shown(p) == ["check.png"]
    finally:
        p.shutdown()
        state.close()
