"""What a category asks of its industrial camera, kept in the recipe so the line finds the same camera again.

:class:`CameraSettings` is plain data (no camera library is imported here): which back-end, which camera
(serial number; the ``.cti`` producer for GenICam), and the acquisition settings an integrator sets per part:
exposure, gain, pixel format, frame rate and the trigger (free run, software trigger, hardware line + edge).
A value left at ``None`` / ``""`` keeps what the camera has, so a recipe never fights a camera it does not know.
``features`` are further GenICam features by name (set last, in order), for what the form does not cover.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum

BACKENDS = {"basler": "Basler camera", "genicam": "GenICam camera"}
TRIGGER_EDGES = ("RisingEdge", "FallingEdge", "AnyEdge")


def _version(package: str) -> str:
    """The installed version of ``package`` ('' when unknown), for the self-test and the about box."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return ""


class TriggerMode(str, Enum):
    """How a frame is started: the camera's own clock, :meth:`trigger` from software, or an input line."""

    FREE_RUN = "free_run"
    SOFTWARE = "software"
    HARDWARE = "hardware"


@dataclass
class CameraSettings:
    """One category's camera. ``serial`` empty = the first camera of the back-end; ``producer`` is the GenTL
    ``.cti`` file (GenICam back-end only)."""

    backend: str = "basler"
    serial: str = ""
    producer: str = ""
    exposure_us: float | None = None
    gain_db: float | None = None
    pixel_format: str = ""
    frame_rate: float | None = None
    trigger: TriggerMode = TriggerMode.FREE_RUN
    trigger_line: str = "Line1"
    trigger_edge: str = "RisingEdge"
    features: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown camera back-end {self.backend!r} (expected one of {', '.join(BACKENDS)})")
        self.trigger = TriggerMode(self.trigger)
        if self.trigger_edge not in TRIGGER_EDGES:
            raise ValueError(f"trigger edge {self.trigger_edge!r} is not one of {', '.join(TRIGGER_EDGES)}")
        for name, value in (("exposure", self.exposure_us), ("frame rate", self.frame_rate)):
            if value is not None and not value > 0:
                raise ValueError(f"the {name} must be above 0, not {value}")

    def describe(self) -> str:
        """A short line for a status bar: back-end, camera and trigger."""
        who = f"serial {self.serial}" if self.serial else "first camera"
        trig = {"free_run": "free run", "software": "software trigger"}.get(self.trigger.value)
        trig = trig or f"hardware trigger {self.trigger_line} {self.trigger_edge}"
        return f"{BACKENDS[self.backend]} ({who}, {trig})"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["trigger"] = self.trigger.value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CameraSettings:
        """Settings from a recipe's JSON; unknown keys (a newer LLAD's) are ignored, bad values raise ValueError."""
        if not isinstance(d, dict):
            raise ValueError("camera settings must be a JSON object")

        def number(key: str) -> float | None:
            v = d.get(key)
            return None if v is None else float(v)

        features = d.get("features") or {}
        if not isinstance(features, dict):
            raise ValueError("camera 'features' must be a JSON object of name: value")
        return cls(
            backend=str(d.get("backend", "basler")),
            serial=str(d.get("serial", "") or ""),
            producer=str(d.get("producer", "") or ""),
            exposure_us=number("exposure_us"),
            gain_db=number("gain_db"),
            pixel_format=str(d.get("pixel_format", "") or ""),
            frame_rate=number("frame_rate"),
            trigger=TriggerMode(d.get("trigger", TriggerMode.FREE_RUN.value)),
            trigger_line=str(d.get("trigger_line", "Line1") or "Line1"),
            trigger_edge=str(d.get("trigger_edge", "RisingEdge") or "RisingEdge"),
            features={str(k): str(v) for k, v in features.items()},
        )
