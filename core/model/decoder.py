"""Reconstruction of well-lit features from their surroundings (a blind-spot context decoder).

The fused features of every scale are brought to one grid (stride 8), reduced, and passed through a *ring*
convolution: a dilated 5x5 kernel whose inner 3x3 taps are zero, so the prediction at a position sees the
features around it (4 grid cells = 32 px away at the default size) but never the position itself. Everything
after it is 1x1, so the blind spot stays blind. The network therefore reconstructs what a good part *should*
look like at each place from its neighbourhood; it cannot copy a defect through, which is what makes the
discrepancy an anomaly map. A plain auto-encoder bottleneck, tried first, either blurred the texture away or
learnt to pass defects through (see BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def align_to_grid(feats: Sequence[torch.Tensor], size: tuple[int, int]) -> list[torch.Tensor]:
    """Resample feature maps to ``size``: area-average finer maps, bilinear-upsample coarser ones."""
    out = []
    for f in feats:
        if tuple(f.shape[-2:]) == tuple(size):
            out.append(f)
        elif f.shape[-1] > size[1]:
            out.append(F.adaptive_avg_pool2d(f, size))
        else:
            out.append(F.interpolate(f, size=size, mode="bilinear", align_corners=False))
    return out


class RingConv2d(nn.Conv2d):
    """A dilated convolution whose central taps are masked out (a blind spot)."""

    def __init__(self, cin: int, cout: int, kernel: int = 5, dilation: int = 2, hole: int = 3) -> None:
        super().__init__(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation, bias=False)
        mask = torch.ones(1, 1, kernel, kernel)
        c, h = kernel // 2, hole // 2
        mask[..., c - h : c + h + 1, c - h : c + h + 1] = 0
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, None, self.stride, self.padding, self.dilation)


def _pw(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ContextReconstructionDecoder(nn.Module):
    """Fused multi-scale features -> reconstructed features of every scale on the common grid."""

    def __init__(self, channels: Sequence[int], reduce: int = 96, hidden: int = 192, code: int = 64) -> None:
        super().__init__()
        self.channels = tuple(channels)
        total = sum(channels)
        self.reduce = _pw(total, reduce)
        self.ring = RingConv2d(reduce, hidden)
        self.body = nn.Sequential(
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            _pw(hidden, code),
            _pw(code, hidden),
            nn.Conv2d(hidden, total, 1),
        )

    def forward(self, fused: Sequence[torch.Tensor], grid: tuple[int, int]) -> list[torch.Tensor]:
        x = torch.cat(align_to_grid(fused, grid), dim=1)
        out = self.body(self.ring(self.reduce(x)))
        return list(torch.split(out, self.channels, dim=1))
