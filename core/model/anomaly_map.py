"""Feature discrepancy into a pixel anomaly map and an image score.

Per scale, the discrepancy is one minus the cosine similarity between the reconstructed and the target feature
vector at each position (scale-free, so all scales weigh alike). The maps are upsampled to the model's input
size, averaged over scales, and smoothed with a Gaussian (sigma 4 px) so a single noisy feature cannot make a
spot. The image score is the mean of the top ``top_k`` fraction of the map: robust to one hot pixel, yet
sensitive to a small defect.
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


class AnomalyMapGenerator(nn.Module):
    """Reconstructed and target features -> (B, 1, H, W) map and (B,) score."""

    def __init__(self, sigma: float = 4.0, top_k: float = 0.01, relative: bool = True) -> None:
        super().__init__()
        self.top_k = top_k
        self.relative = relative
        self.register_buffer("kernel", gaussian_kernel1d(sigma), persistent=False)

    def discrepancy(self, recon: Sequence[torch.Tensor], target: Sequence[torch.Tensor], size) -> torch.Tensor:
        maps = []
        for r, t in zip(recon, target):
            d = 1 - F.cosine_similarity(r.float(), t.float(), dim=1, eps=1e-6).unsqueeze(1)
            maps.append(F.interpolate(d, size=size, mode="bilinear", align_corners=False))
        return torch.stack(maps, 0).mean(0)

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

    def forward(self, recon, target, size) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.smooth(self.discrepancy(recon, target, size))
        return m, self.score(m)
