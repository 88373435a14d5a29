"""Noise floor: the reconstruction map counts in the final map only above what most good pixels reach.

The context decoder cannot predict a part's grain, so on good parts every position of its map (with the feature
density) errs by about the same amount, and that error is noise that blurs what the region terms outline.
:class:`NoiseFloor` bends the map at the 75th percentile of its pixels on good images held out from training: below
it the map fades softly to zero, above it the map rises as before (a softplus with a knee of a quarter of the
pixels' spread), so small defects, which the reconstruction finds far above the floor, keep their contrast. The
percentile sits in the middle of a range that measured alike on MTD's held-out data; a floor under the region
terms as well did not help.

It applies to the map only, after the image score is taken from it, so the image score is unchanged; the region
contrast and the foreign-region head are added after it. Two numbers per mode; until fitted it is the identity,
so models saved before it keep their maps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.model.density import spread
from core.model.stage import Stage


class NoiseFloor(Stage):
    """``knee * softplus((map - level) / knee)`` with ``level`` and ``knee`` from good images' map pixels."""

    #: the share of good pixels the floor lies above
    quantile = 0.75
    #: the knee's width, in units of the good pixels' spread
    softness = 0.25
    setting_names = ("quantile", "softness")

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__(settings)
        self.register_buffer("fitted", torch.zeros(()))
        self.register_buffer("level", torch.zeros(()))
        self.register_buffer("knee", torch.ones(()))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    @torch.no_grad()
    def fit(self, good_pixels: torch.Tensor, sample: int = 2_000_000) -> None:
        """``good_pixels``: the map's values on good images the network did not learn from (any shape)."""
        flat = good_pixels.flatten().float()
        if flat.numel() < 2:
            raise ValueError("a noise floor needs the map of at least one good image")
        if flat.numel() > sample:  # torch.quantile's limit; an even subsample changes the quantile by ~1e-4
            flat = flat[:: flat.numel() // sample + 1]
        self.level.fill_(float(torch.quantile(flat, self.quantile)))
        self.knee.fill_(self.softness * spread(flat))
        self.fitted.fill_(1.0)

    def forward(self, anomaly_map: torch.Tensor) -> torch.Tensor:
        if not self.is_fitted:
            return anomaly_map
        return self.knee * F.softplus((anomaly_map - self.level) / self.knee)
