"""Bottleneck and reconstruction decoder.

The fused multi-scale features are squeezed into one compact map at 1/32 of the input (the bottleneck), then
decoded back to every encoder scale. The squeeze is what makes the method work: a good part's features pass
through it and come back, a defect's do not, because the network only ever learnt good parts. There are no skip
connections for the same reason: they would let a defect through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_act(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with an identity shortcut."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_act(channels, channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class MultiScaleBottleneck(nn.Module):
    """Bring every scale to the coarsest stride, concatenate, and compress to ``width`` channels at stride x2."""

    def __init__(self, channels: Sequence[int], strides: Sequence[int], width: int) -> None:
        super().__init__()
        coarsest = max(strides)
        branches = []
        for c, s in zip(channels, strides):
            layers, cin = [], c
            while s < coarsest:
                layers.append(conv_bn_act(cin, min(2 * cin, width), stride=2))
                cin, s = min(2 * cin, width), s * 2
            layers.append(conv_bn_act(cin, width // 2, k=1))
            branches.append(nn.Sequential(*layers))
        self.branches = nn.ModuleList(branches)
        self.squeeze = nn.Sequential(conv_bn_act(len(channels) * (width // 2), width, stride=2), ResidualBlock(width))

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.squeeze(torch.cat([b(f) for b, f in zip(self.branches, feats)], dim=1))


class ReconstructionDecoder(nn.Module):
    """Decode the bottleneck to feature maps with the encoder's channels at each of its scales (deep to shallow)."""

    def __init__(self, channels: Sequence[int], width: int, widths: Sequence[int]) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        self.heads = nn.ModuleList()
        cin = width
        for c, cout in zip(reversed(channels), reversed(widths)):
            self.stages.append(nn.Sequential(conv_bn_act(cin, cout), ResidualBlock(cout)))
            self.heads.append(nn.Conv2d(cout, c, 1))
            cin = cout

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        x = z
        for stage, head in zip(self.stages, self.heads):
            x = stage(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
            outputs.append(head(x))
        return outputs[::-1]  # shallow first, like the encoder
