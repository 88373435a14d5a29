"""Webhook sink: POSTs each result's JSON to a URL, with a timeout, and retries while the receiver is down.

Results wait in a bounded :class:`~core.lineio.outbox.Outbox`, are sent oldest first, and a result is taken off
the queue only when the receiver answered 2xx. Any other answer, a timeout or a refused connection is retried
after a pause that doubles up to ``retry_delay_max``. What the queue had to drop is logged as undelivered.
"""

from __future__ import annotations

import httpx

from .outbox import QueuedLink
from .payload import LineResult


class WebhookError(Exception):
    """The receiver answered, but not with 2xx."""


class WebhookLink(QueuedLink):
    """POST of the result JSON to ``config.webhook.url``."""

    name = "webhook"
    sent_text = "delivered"

    def __init__(self, hub) -> None:
        config = hub.config.webhook
        super().__init__(hub, config.retry_delay, config.retry_delay_max)
        self.client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self.client = httpx.AsyncClient(timeout=self.config.timeout)
        self.outbox.start()
        self.update(status="listening", address=self.config.url, error="")

    async def stop(self) -> None:
        await self.outbox.close()
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def _send(self, result: LineResult) -> None:
        assert self.client is not None
        response = await self.client.post(
            self.config.url, content=result.to_json(), headers={"Content-Type": "application/json"}
        )
        if not 200 <= response.status_code < 300:
            raise WebhookError(f"HTTP {response.status_code} from {self.config.url}")
