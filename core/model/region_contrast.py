"""Region contrast: where a part's finish differs from the rest of the same part.

The reconstruction map finds what the surroundings do not predict, and the feature density what good parts never
show. Neither sees a region that is plausible on its own but unlike the rest of its own part, such as a band ground
to another finish, bright and streaked where the rest is dull: each finish occurs on good parts, so each place looks
good, and the image density (:mod:`core.model.image_density`) sees that the part as a whole is unusual but not
where.

:class:`RegionContrast` compares each region with its own part. The coarsest target features are projected on
their :data:`~core.model.image_density.RANK` principal directions over good parts and averaged over a
:attr:`RegionContrast.window`-cell window (5 cells: 80 pixels of a 256-pixel input), and the image's median over
its positions (the part's usual finish, as long as a defect covers less than half of it) is subtracted. Good
parts are not even everywhere either (their edges, the light's falloff), so the mean of that contrast at each
position over good parts is subtracted too, and what is left is measured with the Mahalanobis length of one
Gaussian fitted over all positions of good parts, as a z-score over good images held out from the fit. The map
gains that z-score, upsampled and scaled to the spread of the map's pixels over the calibration's good images;
the image score does not (the image density already scores such parts, and added to the score it lowered the
score's accuracy).

It is a projection, a position mean and one precision matrix per mode (under 0.1 MB): nothing is stored per good
image. Until fitted it adds nothing, so models saved before it keep their maps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.model.anomaly_map import MapTerm
from core.model.density import held_out_split, mahalanobis_sq, shrunk_precision, size_buffers_as_saved
from core.model.image_density import RANK, minus_image_median, principal_basis, project


class RegionContrast(MapTerm):
    """How unlike the rest of its own part each region is, as a map term fitted on good parts."""

    label = "region contrast"

    #: the window (grid cells of the coarsest features) a region's features are averaged over
    window = 5
    #: covariance shrinkage towards its mean variance
    shrinkage = 0.01
    #: the share of the good images held out to set the z-score
    holdout = 0.2
    #: principal directions of the coarsest features a region is described by
    rank = RANK
    setting_names = ("default_weight", "window", "shrinkage", "holdout", "rank")

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__(settings)
        # empty until fitted; sized on fit and on load
        self.register_buffer("projection", torch.zeros(0, 0))  # (C, k)
        self.register_buffer("centre", torch.zeros(0))  # (C,)
        self.register_buffer("position_mean", torch.zeros(0, 0, 0))  # (k, h, w)
        self.register_buffer("mean", torch.zeros(0))  # (k,)
        self.register_buffer("precision", torch.zeros(0, 0))  # (k, k)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        names = ("projection", "centre", "position_mean", "mean", "precision")
        size_buffers_as_saved(self, state_dict, prefix, names)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def contrast(self, features: torch.Tensor, projection: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) coarsest features -> (B, k, h, w): each window's projected features minus the image's
        median over its windows."""
        w = self.window
        return minus_image_median(
            F.avg_pool2d(project(features, projection, centre), w, 1, w // 2, count_include_pad=False)
        )

    def _distance(self, contrast: torch.Tensor) -> torch.Tensor:
        """(B, k, h, w) -> (B, h, w) Mahalanobis length after the position mean."""
        self._check_grid(self.position_mean, contrast)
        z = (contrast - self.position_mean).permute(0, 2, 3, 1)
        return mahalanobis_sq(z, self.mean, self.precision).clamp_min(0).sqrt()

    def raw(self, features: torch.Tensor) -> torch.Tensor:
        """(B, 1, h, w) each region's contrast (a Mahalanobis length) from the (B, C, h, w) coarsest features."""
        return self._distance(self.contrast(features, self.projection, self.centre)).unsqueeze(1)

    @torch.no_grad()
    def fit(self, features: torch.Tensor, map_spread: float, seed: int = 0, weight: float | None = None) -> None:
        """``features``: (N, C, h, w) coarsest target features of good images; ``map_spread``: the standard
        deviation of the map's pixels over good images the network did not learn from."""
        n = len(features)
        fit_index, held_index = held_out_split(n, self.holdout, torch.Generator().manual_seed(seed))
        if len(fit_index) < 2:
            raise ValueError("a region contrast needs at least three good images")
        fit_rows = features[fit_index].float()
        projection, centre = principal_basis(fit_rows, self.rank)
        contrast = torch.cat([self.contrast(chunk, projection, centre) for chunk in fit_rows.split(64)])
        position_mean = contrast.mean(0)
        mean, precision = shrunk_precision((contrast - position_mean).permute(0, 2, 3, 1).flatten(0, 2), self.shrinkage)
        self.projection, self.centre, self.position_mean = projection, centre, position_mean
        self.mean, self.precision = mean, precision
        held = features[held_index].float()
        d = self._distance(torch.cat([self.contrast(chunk, projection, centre) for chunk in held.split(64)]))
        self._set_scale(d, map_spread, weight)
