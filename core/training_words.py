"""What a running or finished training says to people: the share done, the status line, the summary of a new
version.

Kept in core, apart from the Train page, so the page only lays the words out, and the CLI or a test can word a
training the same way without Qt.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from core.version_text import whole_part_check_text

if TYPE_CHECKING:  # the words need no model code
    from core.training import TrainEvent

STAGE_NAMES = {
    "load": "Loading images",
    "train": "Training",
    "calibrate": "Calibrating on held-out images",
    "done": "Done",
}


def duration_text(seconds: float | None) -> str:
    """``"42 s"`` or ``"3 min 05 s"``; a dash when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def progress_percent(event: TrainEvent) -> int:
    """The whole training's share done at ``event``, 0-99 (100 is for the saved version): the steps take about
    85 % of the time, loading and calibration share the rest."""
    if event.stage == "load":
        return 1
    if event.stage == "train":
        return 5 + int(85 * event.fraction)
    if event.stage == "calibrate":
        return 90 + int(9 * event.fraction)
    return 99


def progress_text(event: TrainEvent) -> str:
    """One status line for ``event``."""
    if event.stage == "train":
        return (
            f"Training: step {event.step} of {event.total} · loss {event.loss:.3f} · "
            f"about {duration_text(event.eta)} left"
        )
    if event.stage == "load":
        return f"{STAGE_NAMES['load']}: {event.message}"
    if event.stage == "calibrate":
        return f"{STAGE_NAMES['calibrate']}: {event.message}"
    return "Saving the new version…"


def summary_sentences(stats: dict, lighting: str = "") -> list[str]:
    """The sentences that present a newly trained version from its saved ``stats``; ``lighting``: the
    calibrated lighting range in words (empty when the version has none)."""
    rate = stats.get("synthetic_defect_detection_rate")
    rate_text = "–" if rate is None else f"{rate:.0%}"
    topped = stats.get("topped_up_from")
    first = (
        f"Topped up from {topped} with {len(stats.get('topup_new_samples') or [])} new good samples"
        if topped
        else f"Trained on {stats.get('train_images')} images"
    )
    out = [
        f"{first}, threshold calibrated on {stats.get('holdout_images')} held-out good images; "
        f"final loss {stats.get('final_loss', float('nan')):.3f}; "
        f"{rate_text} of synthetic defects caught at the calibrated threshold."
    ]
    if check := whole_part_check_text(stats):
        out.append(check)
    if lighting:
        out.append(f"Calibrated for {lighting}; frames outside that go to CHECK.")
    out.append("Activate it to inspect with it; any earlier version can be reactivated below.")
    return out
