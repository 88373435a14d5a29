"""Feature discrepancy into a pixel anomaly map and an image score.

Per scale, the discrepancy is one minus the cosine similarity between the reconstructed and the target feature
vector at each position (scale-free, so all scales weigh alike). A :class:`PositionBaseline`, measured on good
images after training, then turns each scale's discrepancy into a z-score per grid position: how unusual it is
*for that place* (the image border, where the context decoder sees less, and the tile's texture are hard to
reconstruct everywhere, so their raw error says little). The maps are averaged over scales, upsampled to the
model's input size and smoothed with a Gaussian (sigma 4 px) so a single noisy feature cannot make a
spot. The image score is the mean of the top ``top_k`` fraction of the map (robust to one hot pixel, yet
sensitive to a small defect) minus the map's median, which removes each image's own baseline (``relative``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def gaussian_kernel1d(sigma: float) -> torch.Tensor:
    radius = max(1, int(round(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


class PositionBaseline(nn.Module):
    """Mean and spread of each scale's discrepancy at each grid position on good images (buffers, saved with the
    weights). Until :meth:`fit` is called it is the identity."""

    def __init__(self, scales: int, grid: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(scales, grid, grid))
        self.register_buffer("std", torch.ones(scales, grid, grid))

    @torch.no_grad()
    def fit(self, discrepancies: torch.Tensor) -> None:
        """``discrepancies``: (N, scales, grid, grid) from good images."""
        if discrepancies.shape[1:] != self.mean.shape:
            raise ValueError(f"baseline expects (N, {tuple(self.mean.shape)}), got {tuple(discrepancies.shape)}")
        self.mean.copy_(discrepancies.mean(0))
        std = discrepancies.std(0) if len(discrepancies) > 1 else torch.ones_like(self.std)
        # a floor: a place that happened to vary little on the calibration images must not amplify noise
        self.std.copy_(std.clamp_min(1e-3 + 0.2 * float(std.mean())))

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        if d.shape[-2:] != self.mean.shape[-2:]:
            raise ValueError(f"baseline is for a {tuple(self.mean.shape[-2:])} grid, got {tuple(d.shape[-2:])}")
        return (d - self.mean) / self.std


class AnomalyMapGenerator(nn.Module):
    """Reconstructed and target features -> (B, 1, H, W) map and (B,) score."""

    def __init__(self, sigma: float = 4.0, top_k: float = 0.01, relative: bool = True) -> None:
        super().__init__()
        self.top_k = top_k
        self.relative = relative
        self.register_buffer("kernel", gaussian_kernel1d(sigma), persistent=False)

    @staticmethod
    def per_scale(recon: Sequence[torch.Tensor], target: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, scales, grid, grid) cosine distances on the reconstruction's grid."""
        return torch.stack(
            [1 - F.cosine_similarity(r.float(), t.float(), dim=1, eps=1e-6) for r, t in zip(recon, target)], 1
        )

    def discrepancy(self, recon, target, size, baseline: PositionBaseline | None = None) -> torch.Tensor:
        d = self.per_scale(recon, target)
        if baseline is not None:
            d = baseline(d)
        return F.interpolate(d.mean(1, keepdim=True), size=size, mode="bilinear", align_corners=False)

    def smooth(self, m: torch.Tensor) -> torch.Tensor:
        k = self.kernel
        r = k.numel() // 2
        m = F.pad(m, (r, r, 0, 0), mode="reflect")
        m = F.conv2d(m, k.view(1, 1, 1, -1))
        m = F.pad(m, (0, 0, r, r), mode="reflect")
        return F.conv2d(m, k.view(1, 1, -1, 1))

    def score(self, anomaly_map: torch.Tensor) -> torch.Tensor:
        flat = anomaly_map.flatten(1)
        k = max(1, int(flat.shape[1] * self.top_k))
        peak = flat.topk(k, dim=1).values.mean(1)
        return peak - flat.median(dim=1).values if self.relative else peak

    def forward(self, recon, target, size, baseline: PositionBaseline | None = None):
        """(map (B, 1, H, W), score (B,))."""
        m = self.smooth(self.discrepancy(recon, target, size, baseline))
        return m, self.score(m)
