"""Inference off the GUI thread, fed through a one-slot mailbox so the newest frame always wins.

The acquisition worker drops frames into a :class:`Mailbox`. A live source (camera, stream, hot folder)
*replaces* whatever is waiting, so when the model is slower than the camera the older frames are dropped and
the view never lags behind the line; a folder or a video file *waits* for the slot, so every image is
inspected. :class:`InferenceWorker` takes one item at a time, runs the predictor, records the result in the
inspection log, keeps NG/uncertain images through the image store, and hands the result to the GUI.

Nothing can crash the loop: an unreadable image (a :class:`~core.sources.LoadProblem`) and any exception in
the model become a result with verdict ERROR that is logged and shown like any other.
"""

from __future__ import annotations

import threading
import time
import traceback

import numpy as np
from PySide6.QtCore import QThread, Signal

from core.sources import LoadProblem
from core.types import Frame, InputMode, InspectionResult, Thresholds, Verdict


class Mailbox:
    """A thread-safe single slot. ``put(item, wait=False)`` overwrites (counting the drop); ``wait=True`` blocks
    until the slot is free. ``close()`` wakes every waiter; a closed mailbox accepts and returns nothing."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: object | None = None
        self._full = False
        self._closed = False
        self.dropped = 0

    def put(self, item: object, wait: bool = False, stop: threading.Event | None = None) -> bool:
        """Deliver ``item``; returns False if the mailbox closed (or ``stop`` was set) before it could."""
        with self._cond:
            while wait and self._full and not self._closed and not (stop and stop.is_set()):
                self._cond.wait(0.1)
            if self._closed or (stop and stop.is_set()):
                return False
            if self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> object | None:
        """The waiting item (emptying the slot), or None after ``timeout`` seconds or when closed."""
        with self._cond:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._full and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            self._cond.notify_all()
            return item

    def clear(self) -> None:
        with self._cond:
            self._item, self._full = None, False
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed, self._item, self._full = False, None, False


def error_result(
    message: str, frame: Frame | None, thresholds: Thresholds, category: str = "", version: str = ""
) -> InspectionResult:
    """A result that says the part could not be judged (shown grey, logged with verdict ERROR)."""
    shape = frame.image.shape[:2] if frame is not None else (1, 1)
    return InspectionResult(
        score=float("nan"),
        raw_score=float("nan"),
        verdict=Verdict.ERROR,
        anomaly_map=np.zeros(shape, np.float32),
        illumination_map=None,
        thresholds=thresholds,
        mode=InputMode.LOWLIGHT,
        frame=frame,
        category=category,
        model_version=version,
        error=message,
    )


def problem_frame(problem: LoadProblem) -> Frame:
    """A tiny placeholder frame that carries where an unreadable item came from (for the log and the table)."""
    return Frame(image=np.zeros((1, 1, 3), np.uint8), source=problem.source, ref=problem.path, index=problem.index)


class InferenceWorker(QThread):
    """Runs the predictor on whatever the mailbox holds; see the module docstring.

    ``state`` is the :class:`~llad_gui.state.AppState`; its ``predictor``, ``thresholds``, ``input_mode``,
    ``log`` and ``image_store`` are read at the moment each item is processed, so a model or threshold change applies to
    the next frame without restarting anything.

    Signals:
        resultReady(object): an :class:`InspectionResult` (verdict ERROR for unreadable or failed items).
        failed(str): an unexpected exception while inspecting (also delivered as an ERROR result).
    """

    resultReady = Signal(object)
    failed = Signal(str)

    def __init__(self, state, mailbox: Mailbox, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.mailbox = mailbox
        self.save_images = True
        self.record = True
        self.on_recorded = None  # (result, log row id), on this thread: the line links publish it
        self._stop = threading.Event()

    def stop(self) -> None:
        """Finish after the current item (cooperative); returns at once."""
        self._stop.set()
        self.mailbox.close()

    def run(self) -> None:
        while not self._stop.is_set() and not self.isInterruptionRequested():
            item = self.mailbox.get(timeout=0.2)
            if item is None:
                continue
            result = self.inspect(item)
            if self._stop.is_set():
                break
            self.resultReady.emit(result)

    def inspect(self, item: Frame | LoadProblem) -> InspectionResult:
        """Inspect one item on this thread; never raises."""
        state = self.state
        predictor = state.predictor
        thresholds = state.thresholds
        mode = state.input_mode  # None = automatic; a frame with a well-lit partner is paired regardless
        category = state.category
        version = getattr(predictor, "version", "")
        if isinstance(item, LoadProblem):
            result = error_result(
                f"cannot read image: {item.reason}", problem_frame(item), thresholds, category, version
            )
        elif predictor is None:
            # shown grey, but not logged: a camera without a model would fill the log with rows nobody judged
            msg = f"no trained model for category {category!r}" if category else "no category chosen"
            return error_result(msg, item, thresholds, category)
        else:
            try:
                result = predictor.predict(item, mode)
            except Exception as exc:  # any fault in the model is one ERROR row, never a dead worker
                traceback.print_exc()
                message = f"{type(exc).__name__}: {exc}"
                self.failed.emit(message)
                result = error_result(message, item, thresholds, category, version)
        self._keep(result)
        return result

    def _keep(self, result: InspectionResult) -> None:
        """Save the image of an NG/uncertain part and log the result; a failure here is reported, not fatal."""
        saved = ""
        frame = result.frame
        try:
            if self.save_images and frame is not None and result.verdict in (Verdict.NG, Verdict.UNCERTAIN):
                store = self.state.image_store
                if store.wants(result.verdict):
                    path = store.save(frame.image, result.category or "uncategorised", result.verdict)
                    saved = str(path or "")
            if self.record:
                row_id = self.state.log.record(result, saved_image=saved)
                if self.on_recorded is not None:
                    self.on_recorded(result, row_id)
        except Exception as exc:  # a full disk must not stop the line
            self.failed.emit(f"could not save or log the result: {exc}")
