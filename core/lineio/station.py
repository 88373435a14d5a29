"""The station: what runs one inspection when the line asks for it, whatever link the request came in on.

:class:`Station` takes a frame (given, as with REST ``/inspect``) or acquires one (a trigger), runs the predictor,
logs the result and returns a :class:`~core.lineio.payload.LineResult`. It blocks, so the hub runs it on a
worker thread, never on its event loop. Failures (no model, no frame, the model raising) become results with the
ERROR verdict and an error code, so the line always gets an answer and the log keeps a row.

:class:`SourceAcquirer` gets a frame for a trigger from a source nobody else reads (a folder, a list of files),
replayed from the start when it runs out, which makes a folder of real part images a stand-in camera. A camera
on software trigger is read by its own thread and triggered by
:class:`~core.lineio.camera_trigger.CameraTriggerAcquirer`, which waits for its frame with a timeout.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable

import numpy as np

from core.log import InspectionLog
from core.sources.base import FrameSource, LoadProblem, SourceStatus, StatusKind
from core.types import Frame, InputMode, InspectionResult, Thresholds, Verdict

from .payload import ErrorCode, LineResult, line_result


class AcquisitionError(Exception):
    """No frame could be had for a trigger (the source ended, failed to load, or the camera was not ready)."""


class AcquisitionTimeout(AcquisitionError):
    """The camera took the trigger but its frame did not arrive in time."""


class SourceAcquirer:
    """One frame a call from an open, finite ``source``, replayed from its start when it runs out.

    A live source (a camera) is refused: its reads wait for frames without end, so a trigger could hang.
    """

    def __init__(self, source: FrameSource) -> None:
        if source.live:
            raise ValueError(f"{source.name} is live: trigger a camera with CameraTriggerAcquirer")
        self.source = source
        self._lock = threading.Lock()

    def __call__(self) -> Frame:
        with self._lock:
            rewound = False
            while True:
                event = self.source.read()
                if isinstance(event, Frame):
                    return event
                if isinstance(event, LoadProblem):
                    raise AcquisitionError(f"{event.path}: {event.reason}")
                ended = event is None or (isinstance(event, SourceStatus) and event.kind is StatusKind.END)
                if ended:
                    seek = getattr(self.source, "seek", None)
                    if rewound or seek is None or self.source.stopped:
                        raise AcquisitionError(f"source {self.source.name} has no more frames")
                    seek(0)
                    rewound = True


class Station:
    """Runs one inspection for the line and logs it (see the module docstring).

    ``predictor`` is a :class:`~core.predictor.Predictor` or a callable returning the current one (or None when
    no model is loaded). ``acquire`` returns a frame for a trigger. Without a ``log``, ids count from 1.
    ``on_result(result, line_result)`` is told each inspection (on the inspecting thread), e.g. to show it.
    """

    def __init__(
        self,
        predictor,
        acquire: Callable[[], Frame] | None = None,
        log: InspectionLog | None = None,
        station: str = "line-1",
        category: str = "",
        on_result: Callable[[InspectionResult, LineResult], None] | None = None,
    ) -> None:
        self._predictor = predictor if callable(predictor) and not hasattr(predictor, "predict") else lambda: predictor
        self.acquire = acquire
        self.log = log
        self.station = station
        self.category = category
        self.on_result = on_result
        self._ids = itertools.count(1)

    @property
    def has_model(self) -> bool:
        return self._predictor() is not None

    def inspect(self, frame: Frame | None = None, origin: str = "") -> LineResult:
        """Inspect ``frame`` (or an acquired one); never raises for a failed inspection, returns an ERROR result."""
        predictor = self._predictor()
        if predictor is None:
            return self._failure(ErrorCode.NO_MODEL, "no trained model is loaded", origin, frame)
        if frame is None:
            if self.acquire is None:
                return self._failure(ErrorCode.NO_FRAME, "no image source is set up for triggers", origin, None)
            try:
                frame = self.acquire()
            except AcquisitionTimeout as exc:
                return self._failure(ErrorCode.CAMERA_TIMEOUT, str(exc), origin, None)
            except Exception as exc:  # a camera can fail in many ways; the line gets one clear answer
                return self._failure(ErrorCode.NO_FRAME, f"no image: {exc}", origin, None)
        try:
            result = predictor.predict(frame)
        except Exception as exc:
            return self._failure(ErrorCode.INSPECTION_FAILED, f"inspection failed: {exc}", origin, frame)
        return self._finish(result, origin, ErrorCode.NONE)

    def _failure(self, code: ErrorCode, message: str, origin: str, frame: Frame | None) -> LineResult:
        predictor = self._predictor()
        result = InspectionResult(
            score=float("nan"),
            raw_score=float("nan"),
            verdict=Verdict.ERROR,
            anomaly_map=np.zeros((0, 0), np.float32),
            illumination_map=None,
            thresholds=getattr(predictor, "thresholds", None) or Thresholds(),
            mode=InputMode.LOWLIGHT,
            frame=frame,
            category=getattr(predictor, "category", "") or self.category,
            model_version=getattr(predictor, "version", ""),
            error=message,
        )
        return self._finish(result, origin, code)

    def _finish(self, result: InspectionResult, origin: str, code: ErrorCode) -> LineResult:
        source = result.frame.source if result.frame is not None else origin
        row_id = self.log.record(result, source=source) if self.log is not None else next(self._ids)
        reported = line_result(result, row_id, station=self.station, origin=origin, error_code=code, source=source)
        if self.on_result is not None:
            with contextlib.suppress(Exception):  # a viewer's fault must not cost the line its answer
                self.on_result(result, reported)
        return reported
