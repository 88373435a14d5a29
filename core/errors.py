"""Typed errors that the CLI and the GUI turn into one clear message each, never a traceback."""

from __future__ import annotations

from pathlib import Path


class LladError(Exception):
    """Base of every error this package raises on purpose."""


class ImageLoadError(LladError):
    """An image could not be read; names the file and the reason."""

    def __init__(self, source: str | Path, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"cannot load image {self.source}: {reason}")


class BackboneWeightsError(LladError):
    """The pretrained encoder's weights are missing, damaged or do not fit the architecture."""


class DatasetError(LladError):
    """A dataset folder does not have the expected layout."""


class RecipeError(LladError):
    """A recipe (category) is missing, damaged, foreign or has an invalid name."""


class TrainingCancelled(LladError):
    """Raised inside the training loop when the caller asked it to stop."""


class LogError(LladError):
    """The inspection log cannot be opened, migrated, written or exported (names the file and the reason)."""
