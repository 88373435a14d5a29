"""A bounded queue of results for one sink (MQTT, webhook), drained by a sender that retries until it succeeds.

Why: a sink that is slow or down must never hold up inspection. :meth:`Outbox.put` never waits; the sender task
retries the oldest result with a growing pause while the receiver is down and keeps the order. When the queue is
full the oldest result is dropped, and what is dropped (or still queued at shutdown) is handed to ``on_dropped``,
which the hub writes to the inspection log as undelivered. :class:`QueuedLink` is a link that sends through one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

from .hub import Link
from .payload import LineResult


class Outbox:
    """FIFO of :class:`LineResult` for ``send``; see the module docstring."""

    def __init__(
        self,
        send: Callable[[LineResult], Awaitable[None]],
        *,
        size: int,
        on_dropped: Callable[[LineResult, str], None],
        on_sent: Callable[[LineResult], None] = lambda r: None,
        on_error: Callable[[Exception], None] = lambda e: None,
        retry_delay: float = 0.5,
        retry_delay_max: float = 10.0,
    ) -> None:
        self._send = send
        self._queue: deque[LineResult] = deque()
        self.size = size
        self._on_dropped, self._on_sent, self._on_error = on_dropped, on_sent, on_error
        self.retry_delay, self.retry_delay_max = retry_delay, retry_delay_max
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def put(self, result: LineResult) -> None:
        """Queue ``result``; if the queue is full, the oldest one is dropped (and reported) to make room."""
        if len(self._queue) >= self.size:
            self._on_dropped(self._queue.popleft(), f"queue full ({self.size} results waiting)")
        self._queue.append(result)
        self._wake.set()

    def retry_now(self) -> None:
        """End the current pause after a failure (e.g. the receiver reconnected)."""
        self._wake.set()

    async def _run(self) -> None:
        delay = self.retry_delay
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            head = self._queue[0]
            try:
                await self._send(head)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._on_error(exc)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                delay = min(delay * 2, self.retry_delay_max)
                continue
            if self._queue and self._queue[0] is head:
                self._queue.popleft()
            delay = self.retry_delay
            self._on_sent(head)

    async def close(self) -> None:
        """Stop sending; whatever is still queued is reported as not delivered."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue:
            self._on_dropped(self._queue.popleft(), "not delivered before the line link was stopped")


class QueuedLink(Link):
    """A link that only reports results (MQTT, webhook): :meth:`publish` queues in an :class:`Outbox` and returns;
    a subclass says how one result is sent (:meth:`_send`, raising while the receiver is down)."""

    sent_text = "sent"  # what the last message says of a delivered result

    def __init__(self, hub, retry_delay: float, retry_delay_max: float) -> None:
        super().__init__(hub)
        self.outbox = Outbox(
            self._send,
            size=hub.config.queue_size,
            on_dropped=self.dropped,
            on_sent=self._sent,
            on_error=self._failed,
            retry_delay=retry_delay,
            retry_delay_max=retry_delay_max,
        )

    async def publish(self, result: LineResult) -> None:
        self.outbox.put(result)
        self.update(queued=len(self.outbox))

    async def _send(self, result: LineResult) -> None:
        raise NotImplementedError

    def _sent(self, result: LineResult) -> None:
        self.message(
            f"{self.sent_text} result {result.inspection_id}",
            status="connected",
            sent=self.state.sent + 1,
            queued=len(self.outbox),
            error="",
        )

    def _failed(self, exc: Exception) -> None:
        reason = str(exc) or type(exc).__name__
        self.update(status="error", error=f"{reason}; {len(self.outbox)} queued, retrying", queued=len(self.outbox))
