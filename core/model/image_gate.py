"""Image gate: the image score's say in how bright the pixel map is.

The map is read place by place, but whether a part is defective at all is better told by the image score, which
also weighs the texture of the whole part (:class:`~core.model.image_density.ImageDensity`); a good part's map can
still have places as high as a faint defect's. :class:`ImageGate` scales each image's map by ``exp(weight * z)``,
``z`` being how far the image's log score is from good images', in units of their spread (median and scaled median
absolute deviation over the good images held out from training, :func:`core.calibration.log_median_spread`, as the
image threshold measures them), clamped to [-:attr:`ImageGate.z_floor`, :attr:`ImageGate.z_cap`]. A typical good
part's map is left as it is, a part scoring well below good parts' median is dimmed (at most by ``exp(-1.2)``,
about 0.3), and a part scoring far above them is brightened (at most by ``exp(1.0)``). The clamp matters: unclamped,
the maps of the most anomalous parts grow until their defect-free places outrank the defects of other parts.

What the gate carries to the map is the image density's part of the image score: without it the image score is
the map's own top 1 %, and the gate would only sharpen the map by itself, which lowered the map's accuracy on MTD.
So its weight follows the image density's: :attr:`ImageGate.max_weight` times the share of its full weight the
mode's image density has (:meth:`~core.model.image_density.ImageDensity.weight_for`), and 0 where it is left out.

It applies to the map after the image score is taken from it, so image scores are unchanged; the calibration's
pixel statistics are taken on gated maps. Three numbers per mode; until fitted, or with weight 0, it is the
identity, so models saved before it keep their maps.
"""

from __future__ import annotations

import numpy as np
import torch

from core.calibration import log_median_spread
from core.model.stage import Stage

_TINY = 1e-9


class ImageGate(Stage):
    """``map * exp(weight * clamp(z, -z_floor, z_cap))``, ``z`` the image's log-score z-score over good images."""

    #: how much one unit of z moves the map's log, with the image density at its full weight
    max_weight = 0.4
    #: z is clamped at these many spreads below and above good images' median
    z_floor = 3.0
    z_cap = 2.5
    setting_names = ("max_weight", "z_floor", "z_cap")

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__(settings)
        self.register_buffer("fitted", torch.zeros(()))
        self.register_buffer("center", torch.zeros(()))
        self.register_buffer("spread", torch.ones(()))
        self.register_buffer("weight", torch.zeros(()))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    @property
    def changes_maps(self) -> bool:
        """Fitted with a weight: else the gate is the identity."""
        return self.is_fitted and bool(self.weight)

    @torch.no_grad()
    def fit(self, good_scores, share: float = 1.0) -> None:
        """``good_scores``: the image scores of good images the network did not learn from; ``share``: the share
        of its full weight the mode's image density has (0 to 1), which the gate's weight follows."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"an image gate's share of its weight must lie in [0, 1], not {share}")
        if np.asarray(good_scores).size < 2:
            raise ValueError("an image gate needs the scores of at least two good images")
        center, spread = log_median_spread(good_scores)
        if not spread > 0:
            raise ValueError("an image gate needs good images whose scores differ")
        self.center.fill_(center)
        self.spread.fill_(spread)
        self.weight.fill_(self.max_weight * share)
        self.fitted.fill_(1.0)

    def zscores(self, scores: torch.Tensor) -> torch.Tensor:
        """(B,) each image's log score against good images', in units of their spread."""
        return (scores.clamp_min(_TINY).log() - self.center) / self.spread

    def factors(self, scores: torch.Tensor) -> torch.Tensor:
        """(B,) what each image's map is multiplied by (ones until fitted, or with weight 0)."""
        if not self.changes_maps:
            return torch.ones_like(scores)
        return torch.exp(self.weight * self.zscores(scores).clamp(-self.z_floor, self.z_cap))

    def forward(self, anomaly_map: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) maps and (B,) image scores -> the gated maps."""
        if not self.changes_maps:
            return anomaly_map
        return anomaly_map * self.factors(scores).to(anomaly_map.dtype).view(-1, 1, 1, 1)
