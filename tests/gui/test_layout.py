"""Every page fits a 1024 x 768 panel: the window can be that small, each page's buttons lie inside it and are
not hidden behind another widget, the score never overlaps the verdict, an unreadable image keeps the image
area's size, and the splitters' proportions come back after a restart."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QAbstractButton, QToolBar

from llad_gui.workers.acquisition import SourceSpec

from .conftest import open_window

PANEL = (1024, 768)


def _inside(window, widget) -> bool:
    """Visible, not clipped away, and wholly within the window."""
    if not widget.isVisible() or widget.visibleRegion().isEmpty():
        return False
    top_left = widget.mapTo(window, widget.rect().topLeft())
    return window.rect().contains(QRect(top_left, widget.size()))


def _key_buttons(window) -> dict[str, list]:
    inspect, train = window.inspect, window.pages["Train"]
    keys = {
        "Inspect": [inspect.source_bar.open, inspect.verdict.reset, inspect.thresholds.reset, inspect.view],
        "Train": [train.train_button, train.cancel_button, train.import_button, train.activate_button],
        "Log": [],
        "Evaluate": [],
    }
    evaluate = window.pages["Evaluate"]
    keys["Evaluate"] = [b for b in (getattr(evaluate, "run_button", None),) if b is not None]
    log = window.pages["Log"]
    keys["Log"] = [b for b in (getattr(log, "export_button", None), getattr(log, "wrong_button", None)) if b]
    for title in window.pages:  # pages added later are checked for their buttons too
        keys.setdefault(title, [])
    return keys


def test_every_page_fits_1024_by_768(qtbot, gui_home):
    state, window = open_window(qtbot, gui_home)
    try:
        hint = window.minimumSizeHint()
        assert hint.width() <= PANEL[0] and hint.height() <= PANEL[1], f"the window needs {hint}"
        window.resize(*PANEL)
        qtbot.waitUntil(lambda: (window.width(), window.height()) == PANEL)
        for title, buttons in _key_buttons(window).items():
            window.show_page(title)
            qtbot.waitUntil(lambda t=title: window.current_page() is window.pages[t])
            page = window.pages[title]
            outside = [b.text() for b in page.findChildren(QAbstractButton) if b.isVisible() and not _inside(window, b)]
            assert not outside, f"{title}: buttons outside the 1024 x 768 window: {outside}"
            for b in buttons:
                name = b.text() if isinstance(b, QAbstractButton) else type(b).__name__
                assert _inside(window, b), f"{title}: {name} is not visible"
        bar = window.findChild(QToolBar, "mainToolbar")
        hidden = [a.text() for a in bar.actions() if a.isVisible() and not _inside(window, bar.widgetForAction(a))]
        assert not hidden, f"toolbar actions behind the overflow arrow at 1024 px: {hidden}"
        verdict = window.inspect.verdict
        window.show_page("Inspect")
        assert verdict.score.geometry().top() >= verdict.verdict.geometry().bottom(), "score overlaps the verdict"
        assert min(verdict.reset.height(), window.pages["Train"].train_button.height()) >= 34, "touch-sized buttons"
    finally:
        window.close()
        state.close()


def test_an_error_keeps_the_image_area_and_splitters_are_remembered(qtbot, gui_home, tmp_path):
    state, window = open_window(qtbot, gui_home)
    try:
        window.resize(*PANEL)
        page = window.inspect
        qtbot.waitUntil(lambda: page.view.height() > 0)
        before = page.view.stack.height()
        assert before >= 150
        (tmp_path / "broken.png").write_bytes(b"not an image")
        page.open_source(SourceSpec("files", str(tmp_path / "broken.png"), files=[str(tmp_path / "broken.png")]))
        qtbot.waitUntil(lambda: len(page.history) >= 1, timeout=60_000)
        assert page.view.stack.currentWidget() is page.view.placeholder
        assert page.view.stack.height() == before, "the error text took the image's place"
        split = page.splitters["inspect/split"]
        sizes = split.sizes()
        split.moveSplitter(sizes[0] - 80, 1)
        moved = split.sizes()
        assert moved != sizes
    finally:
        window.close()
        state.close()
    state, window = open_window(qtbot, gui_home)
    try:
        window.resize(*PANEL)
        assert window.inspect.splitters["inspect/split"].sizes() == moved
    finally:
        window.close()
        state.close()
