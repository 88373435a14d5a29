"""Adaptive Feature Fusion (AFF).

LFE gives clean but soft features, IFE sharp but illumination-corrected ones; which is better depends on the
channel (what) and on the place (where). AFF predicts a logit per branch from channel attention (pooled
descriptors through a small MLP) and one from spatial attention (mean and max maps through a 7x7 convolution),
adds them, and normalises across the two branches with a softmax, so the weights at every channel and pixel sum
to one and the fused map keeps the fine detail of whichever branch has it.
"""

from __future__ import annotations

import torch
from torch import nn


class AdaptiveFeatureFusion(nn.Module):
    """Fuse two feature maps of equal shape with normalised channel x spatial attention."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(8, channels // reduction)
        self.channel_mlp = nn.Sequential(nn.Linear(4 * channels, hidden), nn.GELU(), nn.Linear(hidden, 2 * channels))
        self.spatial = nn.Conv2d(4, 2, 7, padding=3)
        self.out = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def weights(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Branch weights (B, 2, C, H, W), summing to one over the branch axis."""
        B, C = a.shape[:2]
        pooled = torch.cat([a.mean((2, 3)), a.amax((2, 3)), b.mean((2, 3)), b.amax((2, 3))], dim=1)
        channel_logits = self.channel_mlp(pooled).view(B, 2, C, 1, 1)
        maps = torch.cat(
            [a.mean(1, keepdim=True), a.amax(1, keepdim=True), b.mean(1, keepdim=True), b.amax(1, keepdim=True)], 1
        )
        spatial_logits = self.spatial(maps).unsqueeze(2)  # (B, 2, 1, H, W)
        return torch.softmax(channel_logits + spatial_logits, dim=1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        w = self.weights(a, b)
        fused = w[:, 0] * a + w[:, 1] * b
        return fused + self.out(fused)
