"""The main window: menus, toolbar (category, open, play, snapshot), the pages, and the status bar. Thin on
purpose: each page does its own work; this file only places them and routes shortcuts."""

from __future__ import annotations

import importlib

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QToolBar,
    QWidget,
)

from core.types import Verdict
from llad_gui.pages.inspect_page import InspectPage
from llad_gui.resources import icon_path
from llad_gui.widgets.category_combo import CategoryCombo
from llad_gui.widgets.lighting import LIGHTING
from llad_gui.widgets.result_view import VIEW_LABELS

OTHER_PAGES = (
    ("Train", "llad_gui.pages.train_page", "TrainPage"),
    ("Evaluate", "llad_gui.pages.evaluate_page", "EvaluatePage"),
    ("Log", "llad_gui.pages.log_page", "LogPage"),
    ("Line I/O", "llad_gui.pages.line_io_page", "LineIOPage"),
)


def load_page(module: str, cls: str, state, parent=None):
    """The page ``module.cls(state)``. A page that cannot be imported raises (ImportError, AttributeError): a
    broken build must fail loudly at start-up, never show an empty tab as "not available"."""
    return getattr(importlib.import_module(module), cls)(state, parent)


#: pages laid out to fit 1024 x 768 themselves, as the Inspect page is
SELF_FITTING = {"Evaluate"}


def scrolled(page: QWidget) -> QScrollArea:
    """``page`` in a frameless scroll area: on a small panel a page taller or wider than the window scrolls
    instead of pushing the window past the screen (the Inspect page is laid out to fit 1024 x 768 itself)."""
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


TOOLBAR_TEXT = {
    "open": "Image…",
    "open_folder": "Folder…",
    "capture": "Inspect",
    "play": "Play / pause",
    "snapshot": "Snapshot",
    "overlay": "Heatmap",
    "add_good": "+ Good sample",
}
"""The toolbar's words for its actions (the menus keep the full ones)."""


class MainWindow(QMainWindow):
    """Pages in tabs (Inspect, Train, Evaluate, Log); the Inspect page's actions live in the menus."""

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("LLAD Inspector")
        icon = icon_path("llad.svg")
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        others = {title: load_page(module, cls, state) for title, module, cls in OTHER_PAGES}  # before threads start
        self.inspect = InspectPage(state)
        # line triggers use the Inspect page's camera and show there; the page's results go to the line
        others["Line I/O"].controller.attach(self.inspect.run, self.inspect.add_result)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.inspect, "Inspect")
        self.pages = {"Inspect": self.inspect, **others}
        self._tab_of = {"Inspect": self.inspect}
        for title, page in others.items():
            # the Evaluate page scrolls its own left column: in an outer scroll area its word-wrapped labels would
            # size it by their preferred height and push the assistant's controls below a 768 px panel
            self._tab_of[title] = page if title in SELF_FITTING else scrolled(page)
            self.tabs.addTab(self._tab_of[title], title)
        self.setCentralWidget(self.tabs)
        self._status_bar()
        self._actions()
        self._menus()
        self._toolbar()
        self.inspect.trainRequested.connect(lambda: self.show_page("Train"))
        geometry = state.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)  # a common panel size; everything also fits 1024 x 768

    def show_page(self, title: str) -> None:
        self.tabs.setCurrentWidget(self._tab_of[title])

    def current_page(self) -> QWidget:
        """The page on the current tab (the other pages sit in a scroll area)."""
        tab = self.tabs.currentWidget()
        return tab.widget() if isinstance(tab, QScrollArea) else tab

    # ---- status bar ---------------------------------------------------------------------------------
    def _status_bar(self) -> None:
        bar = self.statusBar()
        self.source_label = QLabel("no source")
        self.model_label = QLabel("")
        self.fps_label = QLabel("– fps")
        self.ms_label = QLabel("– ms")
        for w in (self.source_label, self.model_label, self.fps_label, self.ms_label):
            w.setObjectName("statusField")
            bar.addPermanentWidget(w)
        self.state.message.connect(lambda text: bar.showMessage(text, 8000))
        self.state.modelError.connect(lambda text: bar.showMessage(f"model not loaded: {text}", 15000))
        self.state.modelChanged.connect(self._model_label)
        self.state.modelLoading.connect(lambda name: self.model_label.setText(f"{name} · loading model…"))
        self.inspect.sourceChanged.connect(lambda s: self.source_label.setText(s or "no source"))
        self.inspect.rateChanged.connect(self._rate)
        self._model_label()

    def _model_label(self) -> None:
        p, cat = self.state.predictor, self.state.category
        if not cat:
            self.model_label.setText("no category")
        elif p is None:
            self.model_label.setText(f"{cat} · no model")
        else:
            self.model_label.setText(f"{cat} · model {p.version}")

    def _rate(self, fps: float, ms: float) -> None:
        self.fps_label.setText(f"{fps:.1f} fps")
        self.ms_label.setText(f"{ms:.0f} ms")

    # ---- actions, menus, toolbar --------------------------------------------------------------------
    def _action(self, text: str, slot, shortcuts=(), tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        keys = [QKeySequence(k) for k in shortcuts]
        if keys:
            action.setShortcuts(keys)
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        names = " or ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
        action.setToolTip(f"{tip or text} ({names})" if names else tip or text)
        action.setStatusTip(tip or text)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work whatever page or menu is showing
        return action

    def _actions(self) -> None:
        page = self.inspect
        a = self.actions_by_name = {}
        a["open"] = self._action("&Open image…", self.open_image, ["Ctrl+O"], "Inspect an image file")
        a["open_folder"] = self._action("Open &folder…", self.open_folder, ["Ctrl+Shift+O"], "Inspect a folder")
        a["snapshot"] = self._action("&Save snapshot", lambda: page.save_snapshot(), ["Ctrl+S"], "Save image + overlay")
        a["ng_folder"] = self._action("NG image &folder…", self.choose_ng_folder, tip="Where NG images are kept")
        a["quit"] = self._action("&Quit", self.close, ["Ctrl+Q"])
        a["capture"] = self._action("&Inspect current", page.capture, ["Space"], "Inspect / capture the current image")
        a["next"] = self._action("&Next image", lambda: page.step(1), ["Right", "N"])
        a["previous"] = self._action("&Previous image", lambda: page.step(-1), ["Left", "P"])
        a["play"] = self._action("&Play / pause", page.toggle_play, ["F5"])
        a["stop"] = self._action("S&top source", page.stop_source, ["Shift+F5"])
        a["reset_counts"] = self._action("&Reset counters", page.verdict.reset_counts, tip="Reset inspected/OK/NG")
        a["overlay"] = self._action("Heatmap &overlay", page.toggle_overlay, ["O"], "Show or hide the heatmap", True)
        a["overlay"].setChecked(page.view_controls.overlay.isChecked())
        page.view_controls.overlay.toggled.connect(a["overlay"].setChecked)
        a["zoom"] = self._action("&Fit image", page.view.reset_zoom, ["Ctrl+0"], "Fit the image in the view")
        a["add_good"] = self._action(
            "Add to &good samples", self.add_current_to_good, ["Ctrl+G"], "Keep the image on screen as a good sample"
        )
        a["shortcuts"] = self._action("&Keyboard shortcuts", self.show_shortcuts, ["F1"])

    def _menus(self) -> None:
        a = self.actions_by_name
        menu = self.menuBar().addMenu("&File")
        for key in ("open", "open_folder", "snapshot", None, "ng_folder", None, "quit"):
            menu.addSeparator() if key is None else menu.addAction(a[key])
        menu = self.menuBar().addMenu("&Inspect")
        for key in ("capture", "next", "previous", "play", "stop", None, "add_good", None, "reset_counts"):
            menu.addSeparator() if key is None else menu.addAction(a[key])
        menu.addSeparator()
        self._lighting_menu(menu.addMenu("&Lighting"))
        menu = self.menuBar().addMenu("&View")
        menu.addAction(a["overlay"])
        menu.addAction(a["zoom"])
        menu.addSeparator()
        group = QActionGroup(self)
        controls = self.inspect.view_controls
        self.view_actions = {}
        for i, (mode, label) in enumerate(VIEW_LABELS.items(), start=1):
            act = self._action(label, lambda _=False, m=mode: controls.set_view_mode(m), [f"Ctrl+{i}"], checkable=True)
            act.setChecked(controls.view_mode == mode)
            group.addAction(act)
            menu.addAction(act)
            self.view_actions[mode] = act
        controls.changed.connect(lambda: self.view_actions[controls.view_mode].setChecked(True))
        menu = self.menuBar().addMenu("&Help")
        menu.addAction(a["shortcuts"])

    def _lighting_menu(self, menu) -> None:
        """Inspect > Lighting: the Inspect page's lighting choice as radio items, kept in step with it."""
        group = QActionGroup(self)
        self.lighting_actions = {}
        for label, mode in LIGHTING:
            act = QAction(label, self, checkable=True)
            act.setStatusTip(f"Inspect as {label.lower()}" if mode else "Decide from each image's brightness")
            act.setChecked(self.state.input_mode == mode)
            act.triggered.connect(lambda _=False, m=mode: self.inspect.set_lighting(m))
            group.addAction(act)
            menu.addAction(act)
            self.lighting_actions[mode] = act
        self.state.inputModeChanged.connect(lambda m: self.lighting_actions[m].setChecked(True))

    def _toolbar(self) -> None:
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.addWidget(QLabel(" Category "))
        self.category_combo = CategoryCombo(self.state)
        bar.addWidget(self.category_combo)
        bar.addSeparator()
        for key, short in TOOLBAR_TEXT.items():  # short words: all seven fit beside the category on a 1024 px panel
            self.actions_by_name[key].setIconText(short)
            bar.addAction(self.actions_by_name[key])
        self.addToolBar(bar)

    def add_current_to_good(self) -> None:
        """The frame on the Inspect page becomes a good sample of the current category (Train page)."""
        result = self.inspect.current
        train = self.pages.get("Train")
        if result is None or result.frame is None:
            self.statusBar().showMessage("No image on screen to add", 4000)
            return
        if result.verdict is Verdict.ERROR:  # unreadable, or no model judged it: not known to be a good part
            self.statusBar().showMessage(f"Image not added: it was not inspected ({result.error})", 6000)
            return
        if not hasattr(train, "add_frame"):
            self.statusBar().showMessage("The Train page is not available", 4000)
            return
        path = train.add_frame(result.frame)
        if path is not None:
            self.statusBar().showMessage(f"Added to the good samples of {self.state.category}: {path.name}", 4000)

    # ---- dialogs ------------------------------------------------------------------------------------
    def open_image(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open images", "", "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff);;All files (*)"
        )
        if paths:
            self.show_page("Inspect")
            self.inspect.open_files(paths)

    def open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if path:
            self.show_page("Inspect")
            self.inspect.open_files([path])

    def choose_ng_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for NG images", str(self.state.image_store.root))
        if path:
            self.set_ng_folder(path)

    def set_ng_folder(self, path: str) -> None:
        try:
            self.state.set_image_folder(path)
        except OSError as exc:
            self.state.message.emit(f"cannot use {path} for NG images: {exc}")
            return
        self.state.message.emit(f"NG images are now saved in {path}")

    def show_shortcuts(self) -> None:
        lines = [
            f"<tr><td><b>{act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)}</b></td>"
            f"<td>{act.text().replace('&', '')}</td></tr>"
            for act in self.actions_by_name.values()
            if not act.shortcut().isEmpty()
        ]
        QMessageBox.information(self, "Keyboard shortcuts", "<table cellpadding=4>" + "".join(lines) + "</table>")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.state.settings.setValue("window/geometry", self.saveGeometry())
        self.inspect.shutdown()
        for page in self.pages.values():
            if page is not self.inspect and hasattr(page, "shutdown"):
                page.shutdown()
        super().closeEvent(event)
