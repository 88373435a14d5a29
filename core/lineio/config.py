"""Settings of the line links (Modbus TCP, OPC UA, MQTT, webhook, REST), one set per station or category.

Each link is switched on or off on its own. A set is kept as JSON in ``<home>/lineio/<key>.json`` (written
atomically), where the key is a station name or a category name, so a category can bring its own line setup.
:meth:`LineConfig.validate` refuses settings that would be unsafe or cannot work, e.g. a REST API bound to a
non-loopback interface without an API key.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.errors import LladError
from core.fsio import atomic_write_json

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class LineConfigError(LladError):
    """Line I/O settings that cannot be used (names the setting and why)."""


@dataclass
class Endpoint:
    """What every link but the webhook has: switched on or off, and a host and TCP port (listened on by the
    servers, connected to by the MQTT client)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 0


@dataclass
class ModbusConfig(Endpoint):
    """Modbus TCP server; see docs/operator-guide.md for the register map."""

    port: int = 5020
    buffer_results: bool = False  # keep results until the PLC acknowledges each one
    buffer_size: int = 16


@dataclass
class OpcUaConfig(Endpoint):
    """OPC UA server with the Ready/Busy/Verdict/... variables and a Trigger method."""

    port: int = 4840
    namespace: str = "urn:llad-inspector:line"


@dataclass
class MqttConfig(Endpoint):
    """Publishes one JSON result per inspection; an optional command topic triggers an inspection."""

    port: int = 1883
    topic: str = "llad/{station}/result"
    command_topic: str = ""  # e.g. "llad/{station}/command"; empty = no commands
    qos: int = 1
    username: str = ""
    password: str = ""


@dataclass
class WebhookConfig:
    """POSTs the same JSON as MQTT to ``url``; retried while the receiver is down."""

    enabled: bool = False
    url: str = ""
    timeout: float = 2.0
    retry_delay: float = 0.5  # first pause after a failure; doubles up to retry_delay_max
    retry_delay_max: float = 10.0


@dataclass
class RestConfig(Endpoint):
    """Local HTTP API: POST /inspect, POST /trigger, GET /status, GET /results."""

    port: int = 8765
    api_key: str = ""  # required when host is not loopback
    max_upload_mb: float = 20.0


_SECTIONS = {
    "modbus": ModbusConfig,
    "opcua": OpcUaConfig,
    "mqtt": MqttConfig,
    "webhook": WebhookConfig,
    "rest": RestConfig,
}
LINKS: tuple[str, ...] = tuple(_SECTIONS)
"""The link names, in the order the GUI shows them."""


@dataclass
class LineConfig:
    """Every link's settings for one station. ``queue_size`` bounds each sink's queue of undelivered results."""

    station: str = "line-1"
    queue_size: int = 1000
    trigger_source: str = ""  # folder of images a trigger inspects in turn when the GUI has no triggerable camera
    camera_timeout: float = 2.0  # seconds a camera on software trigger has to become ready and send its frame
    modbus: ModbusConfig = field(default_factory=ModbusConfig)
    opcua: OpcUaConfig = field(default_factory=OpcUaConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    rest: RestConfig = field(default_factory=RestConfig)

    def link(self, name: str) -> Any:
        return getattr(self, name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LineConfig:
        """Build from JSON-like data; unknown keys are ignored so older LLADs can read newer files."""
        config = cls(
            station=str(d.get("station", "line-1")),
            queue_size=int(d.get("queue_size", 1000)),
            trigger_source=str(d.get("trigger_source", "")),
            camera_timeout=float(d.get("camera_timeout", 2.0)),
        )
        for name, section in _SECTIONS.items():
            given = d.get(name) or {}
            known = {f.name for f in fields(section)}
            setattr(config, name, section(**{k: v for k, v in given.items() if k in known}))
        return config

    def validate(self) -> None:
        """Raise :class:`LineConfigError` for settings that cannot work or would be unsafe."""
        if self.queue_size < 1:
            raise LineConfigError("queue_size must be at least 1")
        if not 0 < self.camera_timeout <= 600:
            raise LineConfigError(f"camera_timeout must be above 0 and at most 600 s, not {self.camera_timeout}")
        for name in LINKS:
            section = self.link(name)
            if isinstance(section, Endpoint) and not 0 <= int(section.port) <= 65535:
                port = section.port
                raise LineConfigError(f"{name}: port {port} is not a TCP port (0-65535)")
        if self.rest.enabled and self.rest.host not in LOOPBACK and not self.rest.api_key:
            raise LineConfigError(
                f"rest: an API key is required to bind to {self.rest.host}; without one the API stays on 127.0.0.1"
            )
        if self.webhook.enabled and not re.match(r"^https?://", self.webhook.url):
            raise LineConfigError(f"webhook: url {self.webhook.url!r} must start with http:// or https://")
        if self.modbus.buffer_size < 1:
            raise LineConfigError("modbus: buffer_size must be at least 1")
        if self.mqtt.qos not in (0, 1, 2):
            raise LineConfigError(f"mqtt: qos must be 0, 1 or 2, not {self.mqtt.qos}")


class LineConfigStore:
    """Line settings kept per station or category under ``root`` (``<home>/lineio``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if not re.fullmatch(r"[\w.\- ]{1,100}", key) or key.strip(". ") == "":
            raise LineConfigError(f"{key!r} is not a usable station or category name")
        return self.root / f"{key}.json"

    def load(self, key: str) -> LineConfig:
        """The saved settings for ``key``, or the defaults (every link off) when none were saved."""
        path = self.path(key)
        if not path.exists():
            return LineConfig(station=key)
        try:
            return LineConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise LineConfigError(f"cannot read line settings {path}: {exc}") from None

    def save(self, key: str, config: LineConfig) -> Path:
        config.validate()
        path = self.path(key)
        try:
            atomic_write_json(path, config.to_dict())
        except OSError as exc:
            raise LineConfigError(f"cannot save line settings {path}: {exc}") from None
        return path
