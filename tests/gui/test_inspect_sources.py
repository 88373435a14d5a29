"""More inputs of the Inspect page: paired folders with the side-by-side view, a hot folder, NG images kept
automatically, and a model fault that becomes an ERROR row instead of a dead worker."""

from __future__ import annotations

import shutil

import cv2
import pytest

from core.data.io import list_images
from core.types import InputMode, Thresholds, Verdict
from llad_gui.workers.acquisition import SourceSpec

from .conftest import wait_results


def test_paired_folders_show_low_light_beside_well_lit(qtbot, window, tmp_path, parts_root):
    well, low = tmp_path / "well", tmp_path / "low"
    well.mkdir()
    low.mkdir()
    for p in list_images(parts_root / "test" / "good")[:2]:
        image = cv2.imread(str(p))
        cv2.imwrite(str(well / f"{p.stem}.png"), image)
        cv2.imwrite(str(low / f"{p.stem}.png"), (image * 0.25).astype("uint8"))
    page = window.inspect
    page.set_lighting(InputMode.WELLLIT)  # a lighting choice does not undo the pairing
    page.open_source(SourceSpec("paired", str(low), str(well)))
    wait_results(qtbot, page, 1)
    frame = page.current.frame
    assert frame.partner is not None and frame.image.mean() < frame.partner.mean()
    assert page.current.mode is InputMode.PAIRED and "inspected as paired" in page.verdict.detail.text()
    page.view_controls.set_view_mode("paired")
    shown = page.view.rendered()
    assert shown.shape[1] > 2 * frame.image.shape[1]
    assert "well-lit" in page.view.caption.text()


def test_hot_folder_inspects_new_images_and_keeps_ng_ones(qtbot, window, tmp_path, parts_root):
    state, page = window.state, window.inspect
    ng_folder = tmp_path / "ng-images"
    window.set_ng_folder(str(ng_folder))
    state.set_thresholds(Thresholds(0.01, 1.0, 0.0))  # nearly everything is NG: its image must be kept
    hot = tmp_path / "hot"
    hot.mkdir()
    page.open_source(SourceSpec("hotfolder", str(hot)))
    qtbot.waitUntil(lambda: "watching" in page.banner.text(), timeout=10_000)
    bad = list_images(parts_root / "test" / "scratch")[0]
    shutil.copy(bad, hot / bad.name)
    wait_results(qtbot, page, 1, timeout=30_000)
    result = page.current
    assert result.frame.ref.endswith(bad.name)
    if result.verdict is Verdict.NG:
        qtbot.waitUntil(lambda: len(list(ng_folder.rglob("*.png"))) == 1, timeout=10_000)
    rows = list(state.log.query(category="tiles"))
    assert rows[0].image_ref.endswith(bad.name)
    assert state.settings.value("ng_folder") == str(ng_folder)
    assert state.image_store.max_bytes == 5_000_000_000  # NG images never fill the disk (setting ng_max_gb)


def test_a_model_fault_is_an_error_row_and_the_run_goes_on(qtbot, window, tmp_path, parts_root):
    folder = tmp_path / "parts"
    folder.mkdir()
    for p in list_images(parts_root / "test" / "good")[:3]:
        shutil.copy(p, folder / p.name)
    predictor = window.state.predictor
    real = predictor.predict_batch
    calls = {"n": 0}

    def fails_once(items, mode=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated fault in the model")
        return real(items, mode)

    predictor.predict_batch = fails_once
    page = window.inspect
    page.open_source(SourceSpec("folder", str(folder)))
    page.run.play(0.0)
    wait_results(qtbot, page, 3)
    verdicts = [e.verdict for e in page.history]
    assert verdicts[1] is Verdict.ERROR and verdicts[0] is not Verdict.ERROR and verdicts[2] is not Verdict.ERROR
    assert "simulated fault" in page.history[1].error
    assert "simulated fault" in window.statusBar().currentMessage()
    logged = [r for r in window.state.log.query(category="tiles") if r.verdict is Verdict.ERROR]
    assert any("simulated fault" in r.error for r in logged)


@pytest.mark.parametrize("text,kind", [("0", "camera"), ("rtsp://u:pw@cam/1", "stream"), ("clip.avi", "video")])
def test_source_guess_from_the_command_line(text, kind):
    spec = SourceSpec.guess(text)
    assert spec.kind == kind
    assert "pw" not in spec.label()
