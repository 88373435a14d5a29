"""The line hub: one asyncio loop on a worker thread hosts every line link, and all of them share one station.

Links (Modbus TCP, OPC UA, MQTT, webhook, REST) are started on the hub's loop; each one can ask for an
inspection with :meth:`LineHub.trigger` and each one is told every result. Only one inspection runs at a time:
a trigger while busy raises :class:`LineBusy` (the running one goes on). The inspection itself runs on a separate
worker thread, so a link's network traffic is never held up by the model, and a sink that is down never holds up
an inspection (sinks queue, see :mod:`core.lineio.outbox`). Results that could not be delivered go to the
inspection log's ``undelivered`` table.

No Qt here: the GUI passes ``on_state`` and gets each :class:`LinkState` as it changes (called on the hub's
thread; the GUI forwards it with a queued signal).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from core.errors import LladError
from core.log import InspectionLog
from core.types import Frame

from .config import LineConfig
from .payload import ErrorCode, LineResult
from .station import Station


class LineBusy(LladError):
    """A trigger arrived while an inspection was running; that inspection goes on and reports as usual."""

    code = ErrorCode.BUSY


@dataclass(frozen=True)
class LinkState:
    """What the Line I/O page shows for one link. ``status``: off, starting, listening, connected, error."""

    name: str
    status: str = "off"
    address: str = ""
    clients: int = 0
    last_message: str = ""
    last_time: float = 0.0
    sent: int = 0
    queued: int = 0
    undelivered: int = 0
    error: str = ""


class Link:
    """Base of a line link: started and stopped on the hub's loop, told each result and each busy change."""

    name = "link"

    def __init__(self, hub: LineHub) -> None:
        self.hub = hub
        self.config = hub.config.link(self.name)  # this link's section of the station's LineConfig
        self.state = LinkState(self.name)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, result: LineResult) -> None:
        """Report ``result``; must not wait on the network (queue instead)."""

    async def status_changed(self) -> None:
        """The hub's ready/busy state changed."""

    def update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)
        self.hub._state_changed(self.state)

    def message(self, text: str, **changes: Any) -> None:
        self.update(last_message=text, last_time=time.time(), **changes)

    def dropped(self, result: LineResult, reason: str) -> None:
        """A result this link will not deliver: record it in the log, count it."""
        self.hub.record_undelivered(self.name, result, reason)
        self.update(undelivered=self.state.undelivered + 1, error=reason)


_LINK_CLASSES = {
    "modbus": ("modbus", "ModbusLink"),
    "opcua": ("opcua", "OpcUaLink"),
    "mqtt": ("mqtt", "MqttLink"),
    "webhook": ("webhook", "WebhookLink"),
    "rest": ("rest", "RestLink"),
}


def link_class(name: str) -> type[Link]:
    """The link class for ``name``, imported only when used, so each link's library is needed only by it."""
    module, cls = _LINK_CLASSES[name]
    return getattr(importlib.import_module(f"core.lineio.{module}"), cls)


class LineHub:
    """Hosts the enabled links of ``config`` on one event loop thread; see the module docstring."""

    def __init__(
        self,
        config: LineConfig,
        station: Station,
        log: InspectionLog | None = None,
        on_state: Callable[[LinkState], None] | None = None,
    ) -> None:
        config.validate()
        self.config = config
        self.station = station
        self.log = log if log is not None else station.log
        self.on_state = on_state
        self.links: dict[str, Link] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.recent: deque[LineResult] = deque(maxlen=max(1, config.queue_size))
        self.undelivered_count = 0
        self.busy = False
        self.busy_origin = ""
        self.last: LineResult | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="llad-line-inspect")
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    # ---- life cycle (any thread) ------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        """Start the loop thread and every enabled link; returns once each is listening or has failed."""
        if self._thread is not None:
            return
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="llad-line-io", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise LladError("the line links did not start in time")

    def _run(self, started: threading.Event) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main(started))
        finally:
            self.loop.close()

    async def _main(self, started: threading.Event) -> None:
        self._stopped = asyncio.Event()
        for name in _LINK_CLASSES:
            if not self.config.link(name).enabled:
                continue
            try:
                self.links[name] = link = link_class(name)(self)
            except ImportError as exc:
                self._state_changed(LinkState(name, status="error", error=f"not available: {exc}"))
                continue
            link.update(status="starting")
            try:
                await link.start()
            except Exception as exc:  # a port in use must not keep the other links down
                link.update(status="error", error=f"cannot start: {exc}")
        started.set()
        await self._stopped.wait()
        for link in self.links.values():
            try:
                await link.stop()
            except Exception as exc:
                link.update(status="error", error=f"stop failed: {exc}")
            link.update(status="off", clients=0)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every link (queued results are logged as undelivered) and the loop thread."""
        if self._thread is None:
            return
        if self.loop is not None and self._stopped is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)
        self._thread = None
        # an inspection still waiting for its camera finishes on its own; closing must not wait for the part
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> LineHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- inspections ------------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return not self.busy and self.station.has_model

    async def trigger(self, origin: str, frame: Frame | None = None) -> LineResult:
        """Run one inspection (of ``frame``, or of an acquired one) and report it on every link.

        Raises :class:`LineBusy` while another inspection runs. Call on the hub's loop.
        """
        if self.busy:
            raise LineBusy(f"busy: inspection requested by {self.busy_origin} is still running")
        self.busy, self.busy_origin = True, origin
        try:
            await self._status_changed()
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._executor, self.station.inspect, frame, origin)
        finally:
            self.busy, self.busy_origin = False, ""
        await self._dispatch(result)
        return result

    def trigger_threadsafe(self, origin: str, frame: Frame | None = None) -> concurrent.futures.Future:
        """:meth:`trigger` from another thread; the future gives the :class:`LineResult` or raises LineBusy."""
        return asyncio.run_coroutine_threadsafe(self.trigger(origin, frame), self._require_loop())

    def publish(self, result: LineResult) -> None:
        """Report a result inspected elsewhere (e.g. the GUI's live inspection) on every link; returns at once,
        from any thread. It is marked unsolicited: the Modbus link shows it without raising *result valid*."""
        unsolicited = replace(result, solicited=False)
        asyncio.run_coroutine_threadsafe(self._dispatch(unsolicited), self._require_loop())

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self.loop is None or self._thread is None:
            raise LladError("the line hub is not running")
        return self.loop

    async def _dispatch(self, result: LineResult) -> None:
        self.last = result
        self.recent.append(result)
        for link in list(self.links.values()):
            try:
                await link.publish(result)
            except Exception as exc:  # one broken link must not keep the result from the others
                link.update(status="error", error=f"publish failed: {exc}")
        await self._status_changed()

    async def _status_changed(self) -> None:
        for link in list(self.links.values()):
            try:
                await link.status_changed()
            except Exception as exc:
                link.update(status="error", error=f"status update failed: {exc}")

    # ---- reporting --------------------------------------------------------------------------------------
    def record_undelivered(self, link: str, result: LineResult, reason: str) -> None:
        self.undelivered_count += 1
        if self.log is not None:
            # the log itself failing is reported by the log's own users; it must not stop the line
            with contextlib.suppress(LladError):
                self.log.record_undelivered(link, result.to_json(), reason, result.inspection_id)

    def _state_changed(self, state: LinkState) -> None:
        if self.on_state is not None:
            self.on_state(state)

    def states(self) -> dict[str, LinkState]:
        return {name: link.state for name, link in self.links.items()}

    def status(self) -> dict[str, Any]:
        """The station's state as JSON-ready data (REST ``/status``)."""
        last = self.last
        return {
            "station": self.config.station,
            "ready": self.ready,
            "busy": self.busy,
            "model_loaded": self.station.has_model,
            "last_id": last.inspection_id if last else None,
            "last_verdict": last.verdict.value if last else None,
            "undelivered": self.undelivered_count,
            "links": {name: asdict(s) for name, s in self.states().items()},
        }

    def results_since(self, since_id: int) -> list[dict[str, Any]]:
        """Payloads of the recent results with an id above ``since_id``, oldest first."""
        return [r.payload for r in self.recent if r.inspection_id > since_id]
