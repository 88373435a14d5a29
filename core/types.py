"""The data that travels from a source to the views and the log: frames, thresholds, results.

One :class:`InspectionResult` is produced per inspected frame and carries everything a view, the log or the
CLI needs, so nobody has to run the model again to redraw or re-decide.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from core.lighting import FrameLighting


class Verdict(str, Enum):
    """Decision for one part. ``UNCERTAIN`` is the band just below the NG threshold that wants a human look."""

    OK = "OK"
    NG = "NG"
    UNCERTAIN = "UNCERTAIN"
    ERROR = "ERROR"


class InputMode(str, Enum):
    """How the model is fed (see ``core/model/net.py`` for what each compares).

    - ``LOWLIGHT``: only a low-light image (the usual case on a dim line).
    - ``WELLLIT``: only a well-lit image (ordinary lighting).
    - ``PAIRED``: a low-light and a well-lit image of the same part.
    """

    LOWLIGHT = "lowlight"
    WELLLIT = "welllit"
    PAIRED = "paired"

    @property
    def label(self) -> str:
        """The mode as named in text for people: "low-light", "well-lit", "paired"."""
        return {"lowlight": "low-light", "welllit": "well-lit"}.get(self.value, self.value)


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on the *normalised* scales (1.0 = the calibrated threshold).

    ``uncertain_band`` widens the decision into three bands: score >= image -> NG,
    image - band <= score < image -> UNCERTAIN, else OK. A band of 0 gives a plain OK/NG decision.
    """

    image: float = 1.0
    pixel: float = 1.0
    uncertain_band: float = 0.0

    def decide(self, score: float) -> Verdict:
        if not np.isfinite(score):
            return Verdict.ERROR
        if score >= self.image:
            return Verdict.NG
        if self.uncertain_band > 0 and score >= self.image - self.uncertain_band:
            return Verdict.UNCERTAIN
        return Verdict.OK

    def to_dict(self) -> dict[str, float]:
        return {"image": self.image, "pixel": self.pixel, "uncertain_band": self.uncertain_band}

    @classmethod
    def from_dict(cls, d: dict) -> Thresholds:
        return cls(
            image=float(d.get("image", 1.0)),
            pixel=float(d.get("pixel", 1.0)),
            uncertain_band=float(d.get("uncertain_band", 0.0)),
        )


def decide(thresholds: Thresholds, score: float, reason: str = "") -> Verdict:
    """The verdict of ``score``; UNCERTAIN (shown as CHECK) whenever there is a ``reason`` the score cannot be
    trusted, such as lighting outside the calibrated range, so such frames go to a person instead of a flood of
    NG."""
    verdict = thresholds.decide(score)
    return Verdict.UNCERTAIN if reason and verdict is not Verdict.ERROR else verdict


@dataclass
class Frame:
    """One image from a source. ``image`` is RGB uint8 (H, W, 3); ``partner`` is the well-lit image of the same
    part when the input is paired (``image`` is then the low-light one)."""

    image: np.ndarray
    source: str = ""
    ref: str = ""
    index: int = 0
    timestamp: float = field(default_factory=time.time)
    partner: np.ndarray | None = None


@dataclass
class InspectionResult:
    """Everything decided about one frame.

    ``score`` and ``anomaly_map`` are normalised (1.0 = calibrated threshold, 0 ~ a typical good part);
    ``raw_score`` is the model's own number. ``illumination_map`` is the model's estimate in [0, 1] at input
    resolution. ``timings`` are milliseconds per stage. ``reason`` says why a frame the model was not calibrated
    for (``"too dark for this model"``, ``"noisier than calibrated"``) gets UNCERTAIN (CHECK) whatever its score;
    ``lighting`` is the frame's measured exposure and noise (:class:`core.lighting.FrameLighting`), when measured.
    """

    score: float
    raw_score: float
    verdict: Verdict
    anomaly_map: np.ndarray
    illumination_map: np.ndarray | None
    thresholds: Thresholds
    mode: InputMode
    timings: dict[str, float] = field(default_factory=dict)
    frame: Frame | None = None
    category: str = ""
    model_version: str = ""
    error: str = ""
    reason: str = ""
    lighting: FrameLighting | None = None

    @property
    def total_ms(self) -> float:
        return float(sum(self.timings.values()))

    def with_thresholds(self, thresholds: Thresholds) -> InspectionResult:
        """Re-decide from the cached score without running the model again (a lighting ``reason`` still holds)."""
        return replace(self, thresholds=thresholds, verdict=decide(thresholds, self.score, self.reason))

    def region_mask(self) -> np.ndarray:
        """Pixels above the pixel threshold (bool, input resolution)."""
        return self.anomaly_map >= self.thresholds.pixel
