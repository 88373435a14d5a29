"""One input mode's scoring after the network: its fitted stages, in the order they run.

The network reconstructs well-lit features; what makes a map and an image score of them is fitted on good parts
after training, per input mode, by :mod:`core.postprocess.fitting`. :class:`ModeScoring` holds those stages
(:data:`STAGES`, each a :class:`~core.model.stage.Stage` with its settings) and runs them as one step; a
:class:`~core.postprocess.PostProcessor` keeps one per mode and saves their tensors and settings with the recipe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from core.model.anomaly_map import AnomalyMapGenerator, PositionBaseline, ResidualWhitening
from core.model.density import FeatureDensity
from core.model.foreign_region import ForeignRegion
from core.model.image_density import ImageDensity
from core.model.image_gate import ImageGate
from core.model.region_contrast import RegionContrast

STAGES: tuple[tuple[str, str], ...] = (
    ("whitening", "the residual's Mahalanobis length (dark-input modes), else its cosine distance"),
    ("baseline", "each grid position's discrepancy as a z-score over good parts"),
    ("density", "how unlike good parts' local features the target's are, added to the discrepancy"),
    ("map", "smoothing and upsampling of the map, and the map's score (its top share less its median)"),
    ("region_contrast", "where a region differs from the rest of its own part, added to the map"),
    ("foreign_region", "where a region looks taken from another part, added to the map"),
    ("image_density", "how unusual the whole part's texture is, in the image score"),
    ("gate", "the map scaled by how far the image score is from good parts'"),
)
"""The stages of one mode's scoring, in the order they run, with what each does."""


class ModeScoring(nn.Module):
    """The stages of :data:`STAGES` for one input mode, on a network of ``channels`` per scale and a ``grid`` of
    grid x grid cells; ``settings``: each stage's saved settings (``None``: the code's defaults)."""

    def __init__(self, channels: Sequence[int], grid: int, settings: Mapping[str, Mapping] | None = None) -> None:
        super().__init__()
        self.channels, self.grid = tuple(int(c) for c in channels), int(grid)
        s = dict(settings or {})
        unknown = set(s) - {name for name, _ in STAGES}
        if unknown:
            raise ValueError(f"no scoring stage {sorted(unknown)}")
        # made in this order: the foreign-region head's layers draw their first weights from torch's global stream
        self.whitening = ResidualWhitening(self.channels, s.get("whitening"))
        self.baseline = PositionBaseline(len(self.channels), self.grid, s.get("baseline"))
        self.density = FeatureDensity(self.channels, s.get("density"))
        self.map = AnomalyMapGenerator(s.get("map"))
        self.region_contrast = RegionContrast(s.get("region_contrast"))
        self.foreign_region = ForeignRegion(self.channels, s.get("foreign_region"))
        self.image_density = ImageDensity(s.get("image_density"))
        self.gate = ImageGate(s.get("gate"))

    def stages(self) -> list[tuple[str, nn.Module]]:
        """(name, stage) in the order they run."""
        return [(name, getattr(self, name)) for name, _ in STAGES]

    def settings(self) -> dict[str, dict]:
        """Every stage's settings, by stage name."""
        return {name: stage.settings() for name, stage in self.stages()}

    def forward(
        self,
        recon: Sequence[torch.Tensor],
        targets_on_grid: Sequence[torch.Tensor],
        target_feats: Sequence[torch.Tensor],
        captured: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(map (B, 1, H, W), image score (B,)) from the reconstruction and the target features on its grid, the
        encoder's target features and the images as captured (:func:`core.preprocess.captured_images`), whose size
        the map takes. The image score is the map's before the map terms, with the image density's part."""
        amap, score = self.map(recon, targets_on_grid, captured.shape[-2:], self.baseline, self.whitening, self.density)
        amap = self.region_contrast.add_to(amap, target_feats[-1])
        amap = self.foreign_region.add_to(amap, target_feats, captured)
        if self.image_density.is_fitted:
            score = self.image_density.combine(score, self.image_density.summaries(target_feats))
        return self.gate(amap, score), score


def scoring_for(
    channels: Sequence[int], grid: int, modes: Sequence[str], settings: Mapping[str, Mapping] | None = None
) -> nn.ModuleDict:
    """A :class:`ModeScoring` for each of ``modes`` (in that order), each with its saved ``settings`` if given."""
    settings = settings or {}
    return nn.ModuleDict({m: ModeScoring(channels, grid, settings.get(m)) for m in modes})
