"""The base of every fitted scoring stage after the network: its settings belong to the model, not to the code.

A stage (a feature density, a foreign-region head, an image gate, ...) is tuned by a few numbers: a shrinkage, a
window, a weight, a clamp. They are class attributes, the defaults, so the code reads as before; but each stage
copies them into itself when it is made, and :class:`~core.postprocess.PostProcessor` saves them beside the stage's
tensors and makes the stage from the saved ones when a recipe is loaded. A default changed in the code then changes
what new trainings do and leaves every saved model scoring as it was calibrated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from torch import nn


def _plain(value: Any) -> Any:
    """``value`` as JSON keeps it (tuples become lists)."""
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else value


def _as_default(value: Any, default: Any) -> Any:
    """A saved ``value`` in the type of its ``default`` (JSON gives lists for tuples and ints for whole floats)."""
    if isinstance(default, tuple):
        return tuple(_as_default(v, d) for v, d in zip(value, default)) if len(value) == len(default) else tuple(value)
    if isinstance(default, bool):
        return bool(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, int):
        return int(value)
    return value


class Stage(nn.Module):
    """A scoring stage whose settings (:attr:`setting_names`, class attributes holding the defaults) are copied into
    each instance, read back with :meth:`settings` and restored by passing them to the constructor."""

    #: the class attributes that are this stage's settings
    setting_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        given = dict(settings or {})
        unknown = set(given) - set(self.setting_names)
        if unknown:
            raise ValueError(f"{type(self).__name__} has no setting {sorted(unknown)}")
        for name in self.setting_names:
            default = getattr(type(self), name)
            value = _as_default(given[name], default) if name in given else default
            object.__setattr__(self, name, value)  # an instance attribute: it shadows the class default

    def settings(self) -> dict[str, Any]:
        """Every setting of this stage, as JSON keeps it."""
        return {name: _plain(getattr(self, name)) for name in self.setting_names}
