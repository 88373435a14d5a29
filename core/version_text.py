"""Words about a trained version for people, from the statistics saved with it (``model.json``'s ``stats``).

Kept in core so the Train page, the CLI and the docs word a version the same way without importing model code.
"""

from __future__ import annotations

from core.model.image_density import ImageDensity


def whole_part_check_text(stats: dict) -> str:
    """One sentence on whether a version's image density (the whole-part texture check) counts, and what would
    make it count; empty for versions saved before it."""
    weights = stats.get("image_density_weight")
    if not weights:
        return ""
    weight = max(weights.values())
    some, full = (stats.get("image_density_needs") or [None, None])[:2]
    if weight >= ImageDensity.max_weight:
        return "The whole-part texture check is on."
    if weight > 0:
        if full is None:
            return "The whole-part texture check counts partly."
        return f"The whole-part texture check counts partly; from {full} good images from several batches, fully."
    have = stats.get("train_images", 0) + stats.get("holdout_images", 0)
    if some is None:
        return "The whole-part texture check is off with these training settings."
    return (
        f"The whole-part texture check is off: it needs at least {some} good images from several batches "
        f"(this version had {have})."
    )
