"""What the line is told about one inspection: :class:`LineResult` and its JSON payload.

Every link reports the same thing. The JSON payload has the fields of the inspection log's row (``id`` is the
log's row id when the result was logged) plus ``station`` and ``origin`` (which link or page asked for it), so a
line's MES can join what it received with the log. Non-finite numbers become ``null``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from core.log import row_fields
from core.types import InspectionResult, Verdict


class ErrorCode(IntEnum):
    """Error codes reported to the line (Modbus register, OPC UA ``ErrorCode``, JSON ``error_code``)."""

    NONE = 0
    BUSY = 1  # a trigger arrived while an inspection was running; the running one goes on
    NOT_ENABLED = 2  # a Modbus trigger while "trigger enable" is off
    INSPECTION_FAILED = 3  # the model or the camera failed on this part (verdict ERROR)
    BAD_WRITE = 4  # a Modbus write to a read-only or unknown address, or an undefined command bit
    NO_MODEL = 5  # the category has no trained model loaded
    BUFFER_FULL = 6  # Modbus result buffer full: the PLC must acknowledge before the next trigger
    NO_FRAME = 7  # no image could be acquired for a trigger (camera not connected or not ready)
    CAMERA_TIMEOUT = 8  # the camera took the trigger but its frame did not arrive within the timeout


VERDICT_CODES: dict[str, int] = {"": 0, "OK": 1, "NG": 2, "UNCERTAIN": 3, "ERROR": 4}
"""Verdicts as numbers for registers: 0 = no result yet."""


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class LineResult:
    """One inspection as the line sees it: id, verdict, score, error code and the JSON payload.

    ``solicited`` is False for a result the line did not ask for (inspected on the Inspect page, only reported):
    it is sent like any other, but never answers a PLC's trigger.
    """

    inspection_id: int
    verdict: Verdict
    score: float
    category: str = ""
    error_code: ErrorCode = ErrorCode.NONE
    error: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    solicited: bool = True

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK

    @property
    def score_x1000(self) -> int:
        """The score times 1000 as an unsigned 16-bit register value (clamped; 0 when not finite)."""
        if not math.isfinite(self.score):
            return 0
        return max(0, min(65535, round(self.score * 1000)))

    def to_json(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True)


def line_result(
    result: InspectionResult,
    inspection_id: int,
    *,
    station: str,
    origin: str,
    error_code: ErrorCode = ErrorCode.NONE,
    **where: Any,
) -> LineResult:
    """The :class:`LineResult` of ``result``; ``where`` as :class:`core.log.PendingRecord`'s fields (source, ...)."""
    if error_code is ErrorCode.NONE and result.verdict is Verdict.ERROR:
        error_code = ErrorCode.INSPECTION_FAILED
    fields_ = {k: _json_safe(v) for k, v in row_fields(result, **where).items()}
    payload = {"id": inspection_id, **fields_, "station": station, "origin": origin, "error_code": int(error_code)}
    return LineResult(
        inspection_id=inspection_id,
        verdict=result.verdict,
        score=float(result.score),
        category=result.category,
        error_code=error_code,
        error=result.error,
        payload=payload,
    )
