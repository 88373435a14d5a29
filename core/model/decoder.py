"""Reconstruction of well-lit features from their surroundings (a blind-spot context decoder).

The fused features of every scale are brought to one grid (stride 8), reduced, and passed through a *ring*
convolution: a dilated 5x5 kernel whose inner 3x3 taps are zero, so the prediction at a position sees the
features around it (4 grid cells = 32 px away at the default size) but never the position itself. Everything
after it is 1x1, so the blind spot stays blind. The network therefore reconstructs what a good part *should*
look like at each place from its neighbourhood; it cannot copy a defect through, which is what makes the
discrepancy an anomaly map. A plain auto-encoder bottleneck, tried first, either blurred the texture away or
learnt to pass defects through.
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
    """A dilated convolution whose central taps are masked out (a blind spot): the one-tap-wide outer ring of a
    ``kernel`` x ``kernel`` kernel.

    The weight is the full square kernel (its inner taps are never used, so they get no gradient and act as
    zeros); the pass runs only the ring's taps, as two convolutions: the top and bottom rows as one kernel two
    rows tall, the left and right columns between them as one kernel two columns wide. The 5 x 5 ring has 16 of 25
    taps, so this is 16/25 of the work of the masked square convolution (faster still in practice, as oneDNN runs
    the two strips well). The outputs equal the masked square convolution's to float rounding.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 5, dilation: int = 2, hole: int = 3) -> None:
        if hole != kernel - 2 or hole < 1:
            raise ValueError(f"the ring is one tap wide: a {kernel} x {kernel} kernel needs a hole of {kernel - 2}")
        super().__init__(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, d, r = self.kernel_size[0], self.dilation[0], self.padding[0]
        span = d * (k - 1)  # from the first row (column) of taps to the last
        edges = self.weight[:, :, 0 :: k - 1, :]  # top and bottom rows, every column
        sides = self.weight[:, :, 1 : k - 1, 0 :: k - 1]  # left and right columns, the rows between
        rows = F.conv2d(x, edges, None, 1, (r, r), (span, d))
        columns = F.conv2d(x, sides, None, 1, (r - d, r), (d, span))
        return rows + columns


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
