"""A cancellable background job on its own QThread: the base of the training and evaluation workers.

Imitates the shape of napari's thread workers (started / progress / returned / errored, cooperative quit) with
plain Qt. Subclasses implement :meth:`Job.work`, call :meth:`report` for progress and pass :attr:`cancel_event`
down to core (whose loops check it). ``progress`` is emitted from the worker thread and arrives queued on the
GUI thread; the outcome (``finished``, ``failed`` or ``cancelled``) is delivered on the GUI thread only after
the thread has ended, so whoever reacts to it never sees a thread still running.
"""

from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, QThread, Signal

from core.errors import LladError, TrainingCancelled


class _Thread(QThread):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job

    def run(self) -> None:
        self.job._run_guarded()


class Job(QObject):
    """One run of background work. Signals: started(), progress(object), finished(object), failed(str),
    cancelled(). Exactly one of the last three is emitted per run."""

    started = Signal()
    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self._thread: _Thread | None = None
        self._outcome: tuple = ()

    # ---- to override -------------------------------------------------------------------------------------
    def work(self) -> object:
        raise NotImplementedError

    # ---- for subclasses ----------------------------------------------------------------------------------
    def report(self, value: object) -> None:
        self.progress.emit(value)

    def check_cancel(self) -> None:
        if self.cancel_event.is_set():
            raise TrainingCancelled("cancelled")

    # ---- control -----------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.is_running():
            raise RuntimeError("this job is already running")
        self.cancel_event.clear()
        self._thread = _Thread(self)
        self._thread.finished.connect(self._deliver)
        self._thread.start()
        self.started.emit()

    def cancel(self) -> None:
        """Ask the work to stop at its next check; ``cancelled`` follows once it has."""
        self.cancel_event.set()

    def is_running(self) -> bool:
        return self._thread is not None

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the thread ends (for shutdown); the outcome is still delivered by the event loop."""
        thread = self._thread
        return True if thread is None else thread.wait(msecs)

    def shutdown(self, msecs: int = 30_000) -> None:
        """Cancel, wait, and deliver the outcome now (closing a page or a test teardown)."""
        if self._thread is None:
            return
        self.cancel()
        if self._thread.wait(msecs):
            self._deliver()

    # ---- internals ---------------------------------------------------------------------------------------
    def _run_guarded(self) -> None:
        try:
            result = self.work()
        except TrainingCancelled:
            self._outcome = ("cancelled",)
        except LladError as exc:
            self._outcome = ("failed", str(exc))
        except Exception as exc:  # an unexpected fault is reported, never lost in a thread
            traceback.print_exc()
            self._outcome = ("failed", f"{type(exc).__name__}: {exc}")
        else:
            self._outcome = ("finished", result)

    def _deliver(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return  # already delivered by shutdown()
        thread.wait()
        thread.deleteLater()
        outcome, self._outcome = self._outcome, ()
        if not outcome:
            return
        if outcome[0] == "finished":
            self.finished.emit(outcome[1])
        elif outcome[0] == "failed":
            self.failed.emit(outcome[1])
        else:
            self.cancelled.emit()
