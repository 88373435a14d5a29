"""The Inspect page in the real main window for what an operator hits: an unreadable image (ERROR) or a frame
without a model is never added as a good sample; blank and tiny images are flagged on import; a folder opened
without a category says what to do; the counters follow the thresholds; the histogram says which lighting
mode it shows; the log gets each image's SHA-256."""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import cv2
import numpy as np

from core.data.io import list_images
from core.types import InputMode, Verdict
from llad_gui.workers.acquisition import SourceSpec

from .conftest import open_window, wait_results


def test_an_error_frame_is_not_added_as_a_good_sample(qtbot, window, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    recipe = window.state.recipe()
    before = len(recipe.samples(include_excluded=True))
    page = window.inspect
    page.open_source(SourceSpec("folder", str(folder)))
    wait_results(qtbot, page, 1)
    assert page.current.verdict is Verdict.ERROR
    window.actions_by_name["add_good"].trigger()
    assert len(recipe.samples(include_excluded=True)) == before
    assert "not added" in window.statusBar().currentMessage()


def test_blank_tiny_and_repeated_samples_are_flagged_or_refused(qtbot, window, tmp_path, parts_root):
    train = window.pages["Train"]
    folder = tmp_path / "import"
    folder.mkdir()
    good = list_images(parts_root / "train" / "good")[20]
    shutil.copy(good, folder / "a_good.png")
    shutil.copy(good, folder / "b_same.png")
    cv2.imwrite(str(folder / "c_blank.png"), np.full((200, 200, 3), 17, np.uint8))
    cv2.imwrite(str(folder / "d_tiny.png"), np.random.default_rng(0).integers(0, 255, (20, 24, 3), np.uint8))
    with qtbot.waitSignal(train.gallery.thumbnailsLoaded, timeout=30_000):
        train.import_folder(folder)
    qtbot.waitUntil(lambda: "c_blank.png" in train.gallery.flagged(), timeout=30_000)
    flagged = train.gallery.flagged()
    assert set(flagged) == {"c_blank.png", "d_tiny.png"}
    assert flagged["c_blank.png"].startswith("blank") and flagged["d_tiny.png"].startswith("too small")
    assert "b_same.png" in train.gallery.duplicates() or "a_good.png" in train.gallery.duplicates()
    assert "blank or too small" in train.gallery.dup_label.text()
    count = len(window.state.recipe().samples(include_excluded=True))
    assert train.add_good_sample(np.full((300, 300, 3), 0, np.uint8)) is None  # a black frame is refused
    assert len(window.state.recipe().samples(include_excluded=True)) == count


def test_a_folder_opened_without_a_category_says_what_to_do(qtbot, tmp_path, monkeypatch, parts_root):
    home = tmp_path / "empty-home"
    monkeypatch.setenv("LLAD_HOME", str(home))
    state, window = open_window(qtbot, home, wait_model=False)
    try:
        page = window.inspect
        page.open_files([str(parts_root / "test" / "good")])
        assert page.stack.currentWidget() is page.guide
        assert page.guide.notice.isVisibleTo(page.guide)
        text = page.guide.notice.text()
        assert "no category" in text.lower() and "Train page" in text
        assert not page.run.running
        state.store.create("bracket")
        state.categoriesChanged.emit()
        state.set_category("bracket")
        page.open_files([str(parts_root / "test" / "good")])
        assert "“bracket” has no trained model" in page.guide.notice.text()
    finally:
        window.close()
        state.close()


def test_counters_histogram_mode_and_log_hashes(qtbot, window, tmp_path, parts_root):
    folder = tmp_path / "parts"
    folder.mkdir()
    for p in list_images(parts_root / "test" / "good")[:2] + list_images(parts_root / "test" / "blob")[:2]:
        shutil.copy(p, folder / f"{p.parent.name}_{p.name}")  # the generated sets number each folder from 000
    (folder / "zz_corrupt.png").write_bytes(b"broken")
    page, state = window.inspect, window.state
    page.open_source(SourceSpec("folder", str(folder)))
    page.run.play(0.0)
    wait_results(qtbot, page, 5)
    qtbot.waitUntil(lambda: not page.run.is_playing)
    scores = [e.score for e in page.history if math.isfinite(e.score)]
    assert page.verdict.totals["error"] == 1 and page.verdict.totals["inspected"] == 5
    page.thresholds.image.slider.setValue(1)  # 0.01: every judged part above it is NG
    assert page.verdict.totals["ng"] == sum(s >= 0.01 for s in scores) == page.recent.verdicts().count("NG")
    assert page.verdict.counts["yield"].text() == f"{100 * sum(s < 0.01 for s in scores) / 4:.1f} %"
    shown_mode = InputMode(page._histogram_mode or "lowlight")
    assert page.histogram.mode_text() == f"{shown_mode.label} mode"
    rows = [r for r in state.log.query() if r.image_ref.startswith(str(folder))]
    assert len(rows) == 5
    for r in rows:
        assert r.image_sha256 == hashlib.sha256(Path(r.image_ref).read_bytes()).hexdigest()
