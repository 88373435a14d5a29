"""Run a short function on Qt's thread pool and get its result (or its error message) back on the GUI thread.

For work of a second or two (loading a model, reading a folder). Long work with progress and cancelling has
its own worker in this package.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.errors import LladError


class _Relay(QObject):
    succeeded = Signal(object)
    failed = Signal(str)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], object], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay

    def run(self) -> None:
        try:
            result = self.fn()
        except LladError as exc:
            self.relay.failed.emit(str(exc))
        except Exception as exc:  # an unexpected fault is reported, never lost in a thread
            traceback.print_exc()
            self.relay.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.relay.succeeded.emit(result)


_live: set[_Relay] = set()


def run_in_pool(
    fn: Callable[[], object],
    on_done: Callable[[object], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    pool: QThreadPool | None = None,
) -> None:
    """Run ``fn()`` on ``pool``; ``on_done(result)`` or ``on_error(message)`` is called on the GUI thread."""
    relay = _Relay()
    _live.add(relay)  # keep the relay alive until it has delivered

    def finish(*_):
        _live.discard(relay)

    if on_done is not None:
        relay.succeeded.connect(on_done)
    if on_error is not None:
        relay.failed.connect(on_error)
    relay.succeeded.connect(finish)
    relay.failed.connect(finish)
    (pool or QThreadPool.globalInstance()).start(_Task(fn, relay))
