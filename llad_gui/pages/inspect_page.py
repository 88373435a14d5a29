"""The Inspect page: the operator's workstation. It wires the widgets of
:class:`~llad_gui.pages.inspect_layout.InspectLayout` to the state and to the running inspection
(:class:`~llad_gui.pages.inspect_run.InspectionRun`: acquisition -> one-slot mailbox -> inference); no model call,
no image reading and no layout here, and what it remembers of the results is a Qt-free
:class:`~core.result_history.ResultHistory`.

Threshold changes re-decide the current result, the recent table and the trend from cached scores
(:meth:`InspectionResult.with_thresholds`); the model does not run again.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from core.data.io import is_image_file
from core.imagestore import save_snapshot
from core.result_history import RateMeter, ResultHistory
from core.sources import SourceStatus, StatusKind
from core.types import InputMode, InspectionResult, Thresholds, Verdict
from llad_gui.pages.inspect_layout import InspectLayout
from llad_gui.pages.inspect_run import InspectionRun
from llad_gui.widgets.first_start import missing_model_text
from llad_gui.widgets.result_view import ViewMode
from llad_gui.workers.acquisition import CAMERA_KINDS, SourceSpec


class InspectPage(QWidget):
    """Inspection workstation. Signals for the main window's status bar:

    - ``sourceChanged(str)``: label of the open source ('' when none);
    - ``rateChanged(float, float)``: inspected frames a second and the last inference milliseconds;
    - ``trainRequested()``: the first-start guide asks for the Train page.
    """

    sourceChanged = Signal(str)
    rateChanged = Signal(float, float)
    trainRequested = Signal()

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.settings = state.settings
        self.history = ResultHistory()  # the latest scores and verdicts, and the last few results whole
        self.rate = RateMeter()
        self.current: InspectionResult | None = None
        self._histogram_mode = None  # the mode whose calibration scores the histogram shows
        self.run = InspectionRun(state, self)
        self._build()
        self._wire()
        self._restore()
        self._model_changed()

    # ---- layout -------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.stack = InspectLayout()
        for name in ("guide", "source_bar", "banner", "view_controls", "view", "recent", "verdict", "thresholds"):
            setattr(self, name, getattr(self.stack, name))
        self.histogram, self.trend, self.workspace = self.stack.histogram, self.stack.trend, self.stack.workspace
        self.side_panel, self.splitters = self.stack.side_panel, self.stack.splitters
        self.source_bar.recipe_provider = self.state.recipe  # camera settings are kept with the category
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.setAcceptDrops(True)
        self._save_timer = QTimer(self, singleShot=True, interval=600)

    def _wire(self) -> None:
        s = self.state
        self.guide.trainRequested.connect(self.trainRequested)
        self.source_bar.openRequested.connect(self.open_source)
        self.source_bar.stopRequested.connect(self.stop_source)
        self.source_bar.stepRequested.connect(self.step)
        self.source_bar.playRequested.connect(self.set_playing)
        self.source_bar.inspectAllRequested.connect(lambda: self.run.play(0.0))
        self.source_bar.lighting.modeChanged.connect(self.set_lighting)
        self.view_controls.changed.connect(self._view_options)
        self.verdict.resetRequested.connect(self.verdict.reset_counts)
        self.thresholds.thresholdsEdited.connect(self._thresholds_edited)
        self.thresholds.resetRequested.connect(s.reset_thresholds)
        self.histogram.thresholdMoved.connect(self._histogram_moved)
        self.recent.entryActivated.connect(self._show_entry)
        self._save_timer.timeout.connect(s.save_thresholds)
        s.thresholdsChanged.connect(self._thresholds_changed)
        s.inputModeChanged.connect(self.source_bar.lighting.set_mode)
        s.modelChanged.connect(self._model_changed)
        s.modelLoading.connect(lambda name: self.verdict.show_idle("LOADING"))
        s.categoryChanged.connect(lambda _: self._model_changed())
        s.categoriesChanged.connect(self._model_changed)
        self.run.resultReady.connect(self.add_result)
        self.run.status.connect(self._source_status)
        self.run.position.connect(self.source_bar.set_position)
        self.run.playing.connect(self.source_bar.set_playing)
        self.run.runningChanged.connect(self._running_changed)
        self.run.failed.connect(lambda msg: s.message.emit(f"inspection error: {msg}"))

    def _restore(self) -> None:
        st = self.settings
        self._restoring = True
        self.view_controls.set_view_mode(str(st.value("view/mode", ViewMode.OVERLAY.value)))
        self.view_controls.opacity.setValue(int(st.value("view/opacity", 45)))
        self.view_controls.set_colormap(str(st.value("view/colormap", "turbo")))
        spec = SourceSpec.from_dict(st.value("source/last", {}) or {})
        if spec is not None:
            self.source_bar.set_spec(spec)
        self.source_bar.lighting.set_mode(self.state.input_mode)
        self.stack.remember_proportions(st)
        self._thresholds_changed(self.state.thresholds)
        self._restoring = False
        self._view_options()

    # ---- model and guide ----------------------------------------------------------------------------
    def _model_changed(self) -> None:
        recipe = self.state.recipe()
        has_model = recipe is not None and recipe.active_version is not None
        samples = len(recipe.samples()) if recipe is not None else 0
        self.guide.set_progress(recipe is not None, samples, has_model)
        if has_model:
            self.guide.show_notice("")
        self.stack.setCurrentWidget(self.workspace if has_model else self.guide)
        predictor = self.state.predictor
        if predictor is None:
            self.verdict.show_idle("LOADING" if has_model else "NO MODEL")
            self.histogram.set_scores([], [])
            return
        if self.current is None:
            self.verdict.show_idle("READY")
        self._update_histogram()

    def _update_histogram(self) -> None:
        """The calibration scores of the mode the shown result was inspected in (the category's default mode
        before any result)."""
        predictor = self.state.predictor
        if predictor is None:
            return
        mode = self.current.mode if self.current is not None else getattr(predictor.trained, "default_mode", None)
        self._histogram_mode = mode
        try:
            cal = predictor.post.for_mode(mode or "lowlight")
        except KeyError:
            self.histogram.set_scores([], [])
            return
        self.histogram.set_mode_text(f"{InputMode(mode or 'lowlight').label} mode")
        good = cal.normalize_score(np.asarray(cal.good_scores, dtype=float))
        defect = cal.normalize_score(np.asarray(cal.defect_scores, dtype=float))
        self.histogram.set_scores(good, defect)
        self._thresholds_changed(self.state.thresholds)

    # ---- sources ------------------------------------------------------------------------------------
    def open_source(self, spec: SourceSpec) -> None:
        """Open ``spec`` (replacing the running source); problems are shown, never raised. Without a model to
        judge it, the first-start guide says what to do instead."""
        missing = missing_model_text(self.state.recipe(), spec.label())
        if missing:
            self.guide.show_notice(missing)
            self.stack.setCurrentWidget(self.guide)
            self.state.message.emit(missing)
            return
        if spec.kind not in ("camera", *CAMERA_KINDS) and not (spec.target or spec.files):
            self.banner.show_text("Choose a folder, file or address first.", "bannerAlarm")
            return
        if spec.kind == "paired" and not spec.partner:
            self.banner.show_text("Paired input needs the well-lit folder too.", "bannerAlarm")
            return
        self.banner.hide()
        self.source_bar.set_spec(spec)
        self.settings.setValue("source/last", spec.to_dict())
        self.run.start(spec)
        self.sourceChanged.emit(spec.label())

    def open_files(self, paths: list[str]) -> None:
        """Inspect image files (File > Open, drag and drop); a single folder opens as a folder source."""
        paths = [str(p) for p in paths]
        if len(paths) == 1 and Path(paths[0]).is_dir():
            self.open_source(SourceSpec("folder", paths[0]))
        elif paths:
            self.open_source(SourceSpec("files", paths[0], files=paths))

    def stop_source(self) -> None:
        self.run.stop()
        self.sourceChanged.emit("")

    def step(self, delta: int) -> None:
        if not self.run.step(delta):
            self.state.message.emit("open a folder to step through images")

    def capture(self) -> None:
        """Space: inspect the current image again, or the newest camera frame."""
        if not self.run.capture():
            self.state.message.emit("open a source first")

    def set_playing(self, playing: bool) -> None:
        if not self.run.running:
            self.source_bar.set_playing(False)
            return
        if playing:
            self.run.play(self.source_bar.rate.value())
        else:
            self.run.pause()

    def set_lighting(self, mode) -> None:
        """Inspect as ``mode`` from now on (None = automatic) and, with a source open, the image on screen again
        so the operator sees what the choice does."""
        if mode == self.state.input_mode:
            return
        self.state.set_input_mode(mode)
        if self.run.running and self.current is not None:
            self.run.capture()

    def toggle_play(self) -> None:
        self.set_playing(not self.run.is_playing)

    def _running_changed(self, running: bool) -> None:
        self.source_bar.set_running(running, self.run.indexed)

    def _source_status(self, status: SourceStatus) -> None:
        self.banner.show_status(status)
        if status.kind in (StatusKind.CONNECTED, StatusKind.RECONNECTED):
            self.state.message.emit(status.message)
        elif status.kind is StatusKind.DISCONNECTED:
            self.state.message.emit(f"source disconnected: {status.message}")

    # ---- results ------------------------------------------------------------------------------------
    def add_result(self, result: InspectionResult) -> None:
        """A new result from the inference worker (on the GUI thread)."""
        if result.thresholds != self.state.thresholds and result.verdict is not Verdict.ERROR:
            result = result.with_thresholds(self.state.thresholds)
        entry = self.history.add(result)
        self.show_result(result)
        self.verdict.count(result.verdict, result.score)
        self.recent.add(entry)
        self._update_trend()
        if result.verdict is not Verdict.ERROR and result.mode != self._histogram_mode:
            self._update_histogram()
        fps = self.rate.tick()
        self.rateChanged.emit(fps, result.total_ms)
        if result.verdict is Verdict.ERROR and result.error:
            self.state.message.emit(f"{Path(entry.ref).name}: {result.error}")

    def show_result(self, result: InspectionResult) -> None:
        self.current = result
        self.view.set_result(result)
        self.verdict.show_result(result)

    def _show_entry(self, key: int) -> None:
        result = self.history.result(key)
        if result is None:
            self.state.message.emit("that image is no longer kept; only the latest ones can be shown again")
            return
        self.show_result(result.with_thresholds(self.state.thresholds) if np.isfinite(result.score) else result)

    def _update_trend(self) -> None:
        self.trend.set_history(self.history.scores(), self.history.verdicts(self.state.thresholds))

    # ---- thresholds ---------------------------------------------------------------------------------
    def _thresholds_edited(self, t: Thresholds) -> None:
        self.state.set_thresholds(t, persist=False)
        self._save_timer.start()  # save once the slider rests, not on every step

    def _histogram_moved(self, value: float) -> None:
        t = self.state.thresholds
        self._thresholds_edited(Thresholds(value, t.pixel, t.uncertain_band))

    def _thresholds_changed(self, t: Thresholds) -> None:
        self.thresholds.set_thresholds(t)
        self.histogram.set_threshold(t.image, t.uncertain_band)
        self.trend.set_threshold(t.image)
        self.verdict.redecide(t)
        if self.current is not None and self.current.verdict is not Verdict.ERROR:
            self.show_result(self.current.with_thresholds(t))
        self.recent.redecide(self.history.by_key(), t)
        self._update_trend()

    # ---- view ---------------------------------------------------------------------------------------
    def _view_options(self) -> None:
        c = self.view_controls
        self.view.set_options(
            opacity=c.opacity.value() / 100,
            cmap=c.cmap.currentText(),
            show_overlay=c.overlay.isChecked(),
            show_contours=c.contours.isChecked(),
        )
        self.view.set_mode(c.view_mode)
        if getattr(self, "_restoring", False):
            return
        self.settings.setValue("view/mode", c.view_mode.value)
        self.settings.setValue("view/opacity", c.opacity.value())
        self.settings.setValue("view/colormap", c.cmap.currentText())

    def toggle_overlay(self) -> None:
        self.view_controls.overlay.toggle()

    def snapshot_path(self) -> Path:
        r = self.current
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{stamp}_{r.category or 'none'}_{r.verdict.value}.png" if r else f"{stamp}.png"
        return self.state.home / "snapshots" / name

    def save_snapshot(self, path: Path | None = None) -> Path | None:
        """Save the input with what the view shows beside it; returns the path, or None with no image."""
        r = self.current
        shown = self.view.rendered()
        if r is None or r.frame is None or shown is None:
            self.state.message.emit("nothing to save yet")
            return None
        path = Path(path) if path else self.snapshot_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            save_snapshot(r.frame.image, shown if shown is not r.frame.image else None, path)
        except (OSError, ValueError) as exc:
            self.state.message.emit(f"could not save the snapshot: {exc}")
            return None
        self.state.message.emit(f"snapshot saved: {path}")
        return path

    # ---- drag and drop ------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        urls = event.mimeData().urls()
        if any(u.isLocalFile() for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        paths = [p for p in paths if Path(p).is_dir() or is_image_file(p)]
        if paths:
            self.open_files(paths)
            event.acceptProposedAction()
        else:
            self.state.message.emit("drop image files or a folder")

    def shutdown(self) -> None:
        """Stop both workers (called when the window closes)."""
        self.run.shutdown()
