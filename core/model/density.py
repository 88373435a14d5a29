"""Feature density: what good parts' features look like, beside what their surroundings predict.

The context decoder predicts each place from its surroundings, so it cannot single out a defect that is large
and consistent with itself: across MTD's *uneven* tiles (a band of a different finish over a quarter of a tile)
the surroundings are uneven too and the band is predicted as well as good grain is. What gives such a place away
is that good parts never have those features at all, wherever they are. :class:`FeatureDensity` models that with
one Gaussian of local descriptors of good images, fitted per input mode at calibration: the coarsest scale's
target features averaged over 3x3 grid cells (about 48 px of context), one Gaussian for all positions (parts need
not be aligned). Each position's Mahalanobis distance, as a z-score over the good images it was fitted on, is
added to the reconstruction's discrepancy map, which is first scaled to unit spread on the same images so the
two weigh alike; the image score then comes from the combined map.

It is a mean vector and a shrunk precision matrix (50 KB per mode for EfficientNet-Lite0): its size does not grow
with the training set, so this is not a memory bank. Until fitted it adds nothing, so models saved before it
keep the behaviour their thresholds were calibrated with. A second, global Gaussian of whole-image texture
statistics was measured and left out: it learns the acquisition session of the good samples, and rejected good
parts from other sessions (BENCHMARKS.md, "What was tried").
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def shrunk_precision(z: torch.Tensor, shrinkage: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and inverse covariance of the rows of ``z`` (N, C), the covariance shrunk towards
    ``shrinkage`` times its mean variance so that few samples or a flat direction cannot make it singular."""
    z = z.double()
    if len(z) < 2:
        raise ValueError("a covariance needs at least two samples")
    mean = z.mean(0)
    cov = torch.cov(z.T)
    cov += shrinkage * cov.diagonal().mean() * torch.eye(len(cov), dtype=cov.dtype)
    return mean.float(), torch.linalg.inv(cov).float()


def mahalanobis_sq(z: torch.Tensor, mean: torch.Tensor, precision: torch.Tensor) -> torch.Tensor:
    """Squared Mahalanobis length of ``z`` (..., C) from ``mean``, over the last dimension."""
    d = z - mean
    return ((d @ precision) * d).sum(-1)


def _spread(x: torch.Tensor) -> float:
    return max(float(x.std()), 1e-6) if x.numel() > 1 else 1.0


class FeatureDensity(nn.Module):
    """A Gaussian of good parts' local feature descriptors (buffers, saved with the weights)."""

    #: covariance shrinkage towards the mean variance (0.003 to 0.03 scored alike on MTD)
    shrinkage = 0.01
    #: the local descriptor's window, in grid cells
    window = 3

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        c = channels[-1]
        self.register_buffer("fitted", torch.zeros(()))
        self.register_buffer("mean", torch.zeros(c))
        self.register_buffer("precision", torch.eye(c))
        # combined map = discrepancy / norm[0] + (distance - norm[1]) / norm[2]
        self.register_buffer("norm", torch.tensor([1.0, 0.0, 1.0]))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    def _descriptors(self, targets: Sequence[torch.Tensor]) -> torch.Tensor:
        f = F.avg_pool2d(targets[-1].float(), self.window, 1, self.window // 2, count_include_pad=False)
        return f.permute(0, 2, 3, 1)  # (B, H, W, C)

    def distance(self, targets: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, 1, grid, grid) Mahalanobis distance of each position's local descriptor from good parts'."""
        return mahalanobis_sq(self._descriptors(targets), self.mean, self.precision).clamp_min(0).sqrt().unsqueeze(1)

    @torch.no_grad()
    def fit(self, targets: Sequence[torch.Tensor], discrepancy: torch.Tensor) -> None:
        """``targets``: per scale, (N, C, grid, grid) target features of good images on the map's grid;
        ``discrepancy``: (N, 1, grid, grid) the reconstruction's discrepancy map of the same images."""
        z = self._descriptors(targets)
        mean, precision = shrunk_precision(z.reshape(-1, z.shape[-1]), self.shrinkage)
        self.mean.copy_(mean)
        self.precision.copy_(precision)
        dist = self.distance(targets)
        self.norm.copy_(torch.tensor([_spread(discrepancy), float(dist.mean()), _spread(dist)]))
        self.fitted.fill_(1.0)

    def combine(self, discrepancy: torch.Tensor, targets: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, 1, grid, grid) discrepancy map -> the map with the density term (unchanged until fitted)."""
        if not self.is_fitted:
            return discrepancy
        return discrepancy / self.norm[0] + (self.distance(targets) - self.norm[1]) / self.norm[2]
