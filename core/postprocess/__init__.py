"""The post-processor: everything that turns the network's output into scores, maps and verdicts, saved as one.

The network (:class:`~core.model.net.LowLightAnomalyNet`) returns reconstructed features and the illumination map.
After it, per input mode, come the scoring stages fitted on good parts
(:class:`~core.postprocess.scoring.ModeScoring`: whitening, position baseline, feature density, map, region
contrast, foreign-region head, image density, image gate), then the calibration that normalises raw scores and maps
to 0 = typical good part and 1 = threshold, aware of each frame's noise
(:class:`~core.calibration.ModeCalibration`), and the lighting range the lighting guard checks frames against
(:class:`~core.lighting.LightingRange`).

:meth:`PostProcessor.to_dict` holds every stage's settings and the calibration's numbers (JSON, in the recipe's
``model.json``); :meth:`PostProcessor.state_dict` the stages' tensors (beside the network's weights). A loaded
post-processor is made from the saved settings, so no default in the code changes a saved model's scores.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from core.calibration import ModeCalibration
from core.lighting import LightingRange
from core.postprocess.scoring import STAGES, ModeScoring, scoring_for
from core.types import InputMode

__all__ = ["STAGES", "ModeScoring", "PostProcessor"]


class PostProcessor:
    """Per input mode, the scoring stages (``scoring``, fitted by calibration; ``None`` where only the numbers
    were read) and the calibration (``modes``); and the lighting range the model was calibrated over
    (``lighting``; ``None``: no guard)."""

    def __init__(
        self,
        modes: dict[str, ModeCalibration] | None = None,
        lighting: LightingRange | None = None,
        scoring: nn.ModuleDict | None = None,
    ) -> None:
        self.modes: dict[str, ModeCalibration] = dict(modes or {})
        self.lighting = lighting
        self.scoring = scoring

    @classmethod
    def for_network(cls, channels, grid: int) -> PostProcessor:
        """An unfitted post-processor for a network of ``channels`` per scale and a ``grid``-cell map, every stage
        with the code's default settings."""
        return cls(scoring=scoring_for(channels, grid, [m.value for m in InputMode]))

    def for_mode(self, mode: InputMode) -> ModeCalibration:
        key = InputMode(mode).value
        if key in self.modes:
            return self.modes[key]
        # a mode never calibrated (e.g. paired input on a recipe trained without pairs) borrows the closest one
        for fallback in (InputMode.LOWLIGHT.value, InputMode.WELLLIT.value, InputMode.PAIRED.value):
            if fallback in self.modes:
                return self.modes[fallback]
        raise KeyError("the post-processor holds no calibration")

    def stage(self, mode: InputMode, name: str) -> nn.Module:
        """The scoring stage ``name`` (see :data:`STAGES`) of ``mode``."""
        if self.scoring is None:
            raise KeyError("this post-processor was read without its scoring stages")
        return getattr(self.scoring[InputMode(mode).value], name)

    def stages(self, mode: InputMode) -> list[tuple[str, object]]:
        """Everything that makes ``mode``'s result, in order: the scoring stages, its calibration and the lighting
        guard's range."""
        scoring = [] if self.scoring is None else self.scoring[InputMode(mode).value].stages()
        return [*scoring, ("calibration", self.modes.get(InputMode(mode).value)), ("lighting", self.lighting)]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The scoring stages' tensors (empty without them), keyed ``<mode>.<stage>.<name>``."""
        return {} if self.scoring is None else dict(self.scoring.state_dict())

    def to_dict(self) -> dict:
        """The calibration's numbers, the lighting range and every scoring stage's settings (plain JSON)."""
        scoring = None
        if self.scoring is not None:
            first = next(iter(self.scoring.values()))
            scoring = {
                "channels": list(first.channels),
                "grid": first.grid,
                "settings": {mode: s.settings() for mode, s in self.scoring.items()},
            }
        return {
            "modes": {k: v.to_dict() for k, v in self.modes.items()},
            "lighting": None if self.lighting is None else self.lighting.to_dict(),
            "scoring": scoring,
        }

    @classmethod
    def from_dict(cls, d: dict, state: Mapping[str, torch.Tensor] | None = None) -> PostProcessor:
        """What :meth:`to_dict` gave, with the scoring stages made from their saved settings and loaded with
        ``state`` (:meth:`state_dict`) when it is given; without it, only the numbers (enough for thresholds)."""
        modes = {}
        for k, v in d["modes"].items():
            InputMode(k)  # refuse unknown modes
            modes[k] = ModeCalibration.from_dict(v)
        lighting = d.get("lighting")
        scoring = None
        saved = d.get("scoring")
        if state is not None and saved is not None:
            settings = saved["settings"]
            for mode in settings:
                InputMode(mode)
            scoring = scoring_for(saved["channels"], saved["grid"], list(settings), settings)
            scoring.load_state_dict(dict(state), strict=True)
            scoring.eval()
        return cls(modes, None if lighting is None else LightingRange.from_dict(lighting), scoring)
