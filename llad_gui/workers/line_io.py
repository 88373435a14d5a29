"""Wiring between the GUI and the line links: starts and stops a :class:`~core.lineio.LineHub` for the current
category, and turns the hub's thread callbacks into Qt signals for the Line I/O page.

The hub's settings are kept per category (``<home>/lineio/<category>.json``). Its station inspects with the
category's loaded predictor and logs to the application's inspection log. Once :meth:`LineIOController.attach`
ties it to the Inspect page's running inspection, a trigger takes its picture with the camera open there when
that camera is on software trigger (the acquisition worker hands the frame over, see
:mod:`core.lineio.camera_trigger`), else from the configured trigger images (a folder replayed in turn); the
page shows each line inspection, and every result the page itself logs is published on the running links.
Starting and stopping bind and release ports, which can take a moment, so both run on the thread pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.errors import LladError
from core.lineio import (
    AcquisitionError,
    CameraTriggerAcquirer,
    LineConfig,
    LineConfigStore,
    LineHub,
    LinkState,
    SourceAcquirer,
    Station,
)
from core.lineio.payload import LineResult, line_result
from core.sources import IndustrialCameraSource, TriggerMode
from core.sources.folder import FolderSource
from core.types import Frame, InspectionResult
from llad_gui.workers.tasks import run_in_pool

NO_TRIGGER_IMAGE = (
    "no image for a trigger: open a camera on software trigger on the Inspect page, or choose trigger images"
)


class LineIOController(QObject):
    """Owns the line hub of the current category.

    Signals:
        linkState(object): a :class:`~core.lineio.LinkState` changed (emitted from the hub's thread: queued).
        runningChanged(bool): the hub started (True) or stopped (False).
        failed(str): starting failed or the settings could not be saved; the message is for the operator.
        inspected(object): an :class:`InspectionResult` a line trigger inspected (from the inspecting thread).
    """

    linkState = Signal(object)
    runningChanged = Signal(bool)
    failed = Signal(str)
    inspected = Signal(object)

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.store = LineConfigStore(Path(state.home) / "lineio")
        self.key = state.category or "station"
        self.config = self._load(self.key)
        self.hub: LineHub | None = None
        self._source: FolderSource | None = None
        self.busy = False  # a start or stop is under way
        self._starting: tuple | None = None
        self._closed = False
        self._run = None  # the Inspect page's InspectionRun, once attached
        state.categoryChanged.connect(self._category_changed)

    def attach(self, run, show: Callable[[InspectionResult], None] | None = None) -> None:
        """Work with the Inspect page's ``run`` (an :class:`~llad_gui.pages.inspect_run.InspectionRun`): its
        camera on software trigger takes the line's pictures, and each result it logs is published; ``show`` is
        given each line inspection on the GUI thread."""
        self._run = run
        run.inference.on_recorded = self._publish_inspected
        if show is not None:
            self.inspected.connect(show)

    def triggered_camera(self) -> IndustrialCameraSource | None:
        """The Inspect page's camera when it is open and on software trigger (any thread)."""
        worker = self._run.acquisition if self._run is not None else None
        try:
            source = worker.source if worker is not None and worker.isRunning() else None
        except RuntimeError:  # the worker's Qt object is being deleted: the source has just been closed
            return None
        if isinstance(source, IndustrialCameraSource) and source.settings.trigger is TriggerMode.SOFTWARE:
            return source
        return None

    def _acquirer(self, folder: SourceAcquirer | None, timeout: float) -> Callable[[], Frame]:
        def acquire() -> Frame:
            camera = self.triggered_camera()
            if camera is not None:
                return CameraTriggerAcquirer(camera, self._run.triggered, timeout)()
            if folder is not None:
                return folder()
            raise AcquisitionError(NO_TRIGGER_IMAGE)

        return acquire

    def _line_inspected(self, result: InspectionResult, reported: LineResult) -> None:
        if result.frame is not None and result.anomaly_map.size:
            self.inspected.emit(result)
        else:  # nothing to show: say why the line got an error
            self.state.message.emit(f"line trigger ({reported.payload.get('origin')}): {result.error}")

    def _publish_inspected(self, result: InspectionResult, row_id: int) -> None:
        """A result the Inspect page logged: report it on the running links (called on the inference thread;
        publishing only queues it on the hub's loop, so a sink that is down never holds up inspection)."""
        hub = self.hub
        if hub is None:
            return
        reported = line_result(result, row_id, station=self.config.station, origin="inspect page")
        with contextlib.suppress(LladError):  # stopped in between
            hub.publish(reported)

    @property
    def running(self) -> bool:
        return self.hub is not None

    def _load(self, key: str) -> LineConfig:
        try:
            return self.store.load(key)
        except LladError as exc:
            self.failed.emit(str(exc))
            return LineConfig(station=key)

    def _category_changed(self, name: str) -> None:
        was_running = self.running
        self.stop(then=lambda: self._switch(name, was_running))

    def _switch(self, name: str, start: bool) -> None:
        self.key = name or "station"
        self.config = self._load(self.key)
        self.runningChanged.emit(False)
        if start:
            self.start()

    def save(self, config: LineConfig) -> bool:
        """Keep ``config`` for the current category; applied at the next start (restarts a running hub)."""
        try:
            self.store.save(self.key, config)
        except LladError as exc:
            self.failed.emit(str(exc))
            return False
        self.config = config
        if self.running:
            self.stop(then=self.start)
        return True

    def start(self) -> None:
        if self.running or self.busy:
            return
        self.busy = True
        config = self.config

        def start() -> tuple[LineHub, FolderSource | None]:
            source = None
            if config.trigger_source:
                source = FolderSource(config.trigger_source, name="line trigger")
                source.open()
            folder = SourceAcquirer(source) if source is not None else None
            station = Station(
                lambda: self.state.predictor,
                self._acquirer(folder, config.camera_timeout),
                log=self.state.log,
                station=config.station,
                category=self.key,
                on_result=self._line_inspected,
            )
            hub = LineHub(config, station, on_state=self._hub_state)
            try:
                hub.start(timeout=120.0)  # OPC UA alone can take half a minute on a busy PC
            except BaseException:
                hub.stop()
                if source is not None:
                    source.close()
                raise
            self._starting = (hub, source)  # so shutdown() can stop it before started() is delivered
            return hub, source

        def started(value) -> None:
            self._starting = None
            self.busy = False
            if self._closed:
                return
            self.hub, self._source = value
            self.runningChanged.emit(True)

        def failed(message: str) -> None:
            self.busy = False
            self.failed.emit(f"line links not started: {message}")

        run_in_pool(start, started, failed, pool=self.state.pool)

    def stop(self, then=None) -> None:
        """Stop the hub off the GUI thread; ``then()`` runs on the GUI thread afterwards."""
        hub, source, self.hub, self._source = self.hub, self._source, None, None
        if hub is None:
            if then is not None:
                then()
            return
        self.busy = True

        def stop() -> None:
            hub.stop()
            if source is not None:
                source.close()

        def done(_=None) -> None:
            self.busy = False
            self.runningChanged.emit(False)
            if then is not None:
                then()

        run_in_pool(stop, done, lambda msg: (self.failed.emit(msg), done()), pool=self.state.pool)

    def shutdown(self) -> None:
        """Stop at once, waiting here (the window is closing)."""
        self._closed = True
        self.state.pool.waitForDone(10000)
        for hub, source in {(self.hub, self._source), self._starting or (None, None)}:
            if hub is not None:
                hub.stop()
            if source is not None:
                source.close()
        self.hub = self._source = self._starting = None

    def _hub_state(self, link_state: LinkState) -> None:
        self.linkState.emit(link_state)
