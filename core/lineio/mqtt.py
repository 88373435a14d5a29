"""MQTT link: publishes one JSON result per inspection and, optionally, takes trigger commands on a topic.

The paho-mqtt client runs its own network thread and reconnects by itself. Results wait in a bounded
:class:`~core.lineio.outbox.Outbox` and leave it once the broker has acknowledged them (QoS 1 and 2) or once they
were written to the socket (QoS 0); while the broker is away they are retried, and what the queue had to drop is
logged as undelivered.

Topics (``{station}`` is replaced by the station name):
    ``topic`` (default ``llad/{station}/result``): the result JSON, the fields of the log row.
    ``command_topic`` (optional): a message ``trigger`` (or ``{"command": "trigger"}``) runs an inspection;
    the answer goes to ``<command_topic>/reply``: ``{"ok": true, "id": ...}`` or ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .hub import LineBusy
from .outbox import QueuedLink
from .payload import LineResult

PUBLISH_TIMEOUT = 5.0


class MqttLink(QueuedLink):
    """Publishes results to an MQTT broker; see the module docstring for the topics."""

    name = "mqtt"
    sent_text = "published"

    def __init__(self, hub) -> None:
        super().__init__(hub, retry_delay=0.2, retry_delay_max=5.0)
        station = hub.config.station
        self.topic = self.config.topic.replace("{station}", station)
        self.command_topic = self.config.command_topic.replace("{station}", station)
        self.client: mqtt.Client | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"llad-{self.hub.config.station}")
        if self.config.username:
            client.username_pw_set(self.config.username, self.config.password or None)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.connect_async(self.config.host, self.config.port)
        client.loop_start()
        self.client = client
        self.outbox.start()
        self.update(status="starting", address=f"{self.config.host}:{self.config.port} {self.topic}")

    async def stop(self) -> None:
        await self.outbox.close()
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    # ---- paho callbacks: on paho's thread, handed to the hub's loop ---------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._call(self.update, status="error", error=f"broker refused: {reason_code}")
            return
        if self.command_topic:
            client.subscribe(self.command_topic, qos=1)
        self._call(self._connected)

    def _connected(self) -> None:
        self.message("connected to the broker", status="connected", clients=1, error="")
        self.outbox.retry_now()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._call(self.update, status="error" if reason_code.is_failure else "off", clients=0, error="disconnected")

    def _on_message(self, client, userdata, msg) -> None:
        if self.loop is not None and not self.loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._command(msg.payload), self.loop)

    def _call(self, fn, *args, **kwargs) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(lambda: fn(*args, **kwargs))

    # ---- commands and results ---------------------------------------------------------------------------
    async def _command(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").strip()
        try:
            command = json.loads(text).get("command", "") if text.startswith("{") else text
        except (ValueError, AttributeError):
            command = ""
        if str(command).lower() != "trigger":
            self._reply({"ok": False, "error": f"unknown command {text[:80]!r}; send 'trigger'"})
            return
        self.message("trigger command")
        try:
            result = await self.hub.trigger("mqtt")
        except LineBusy as exc:
            self._reply({"ok": False, "error": str(exc), "error_code": int(exc.code)})
            return
        self._reply({"ok": True, "id": result.inspection_id, "verdict": result.verdict.value})

    def _reply(self, body: dict) -> None:
        if self.client is not None:
            self.client.publish(f"{self.command_topic}/reply", json.dumps(body), qos=1)

    async def _send(self, result: LineResult) -> None:
        if self.client is None or not self.client.is_connected():
            raise ConnectionError("not connected to the broker")
        info = self.client.publish(self.topic, result.to_json(), qos=self.config.qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(mqtt.error_string(info.rc))
        deadline = time.monotonic() + PUBLISH_TIMEOUT
        while not info.is_published():
            if time.monotonic() > deadline:
                raise TimeoutError("the broker did not acknowledge in time")
            await asyncio.sleep(0.005)
