"""Low-pass Feature Enhancement (LFE).

Low-light noise is mostly high-frequency; the structure of a part is mostly low-frequency. LFE filters each
feature map in the Fourier domain with a soft radial low-pass mask whose cut-off (and roll-off) is a learnt
parameter per scale, then refines the result with a small convolution. The maps are reflect-padded before the
FFT so the filter does not wrap one border onto the other.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


class LowPassFeatureEnhancement(nn.Module):
    """Learnable soft low-pass filter on feature maps, followed by a residual refinement.

    ``init_cutoff`` is the pass-band radius as a fraction of the Nyquist frequency (0..1).
    """

    def __init__(self, channels: int, init_cutoff: float = 0.4, init_rolloff: float = 0.08) -> None:
        super().__init__()
        self.cutoff_logit = nn.Parameter(torch.tensor(_logit(init_cutoff)))
        self.rolloff_log = nn.Parameter(torch.tensor(math.log(init_rolloff)))
        self.refine = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
            nn.BatchNorm2d(channels),
            nn.Conv2d(channels, channels, 1),
        )
        nn.init.zeros_(self.refine[2].weight)
        nn.init.zeros_(self.refine[2].bias)

    @property
    def cutoff(self) -> torch.Tensor:
        """Pass-band radius as a fraction of Nyquist."""
        return torch.sigmoid(self.cutoff_logit)

    def mask(self, h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """Soft radial mask on the rfft2 grid (h, w // 2 + 1); 1 passes, 0 stops."""
        fy = torch.fft.fftfreq(h, device=device, dtype=dtype).abs() * 2  # 1.0 = Nyquist
        fx = torch.fft.rfftfreq(w, device=device, dtype=dtype) * 2
        radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
        return torch.sigmoid((self.cutoff.to(dtype) - radius) / self.rolloff_log.exp().to(dtype))

    def lowpass(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = max(1, h // 8), max(1, w // 8)
        xp = F.pad(x.float(), (pw, pw, ph, ph), mode="reflect") if h > ph and w > pw else x.float()
        H, W = xp.shape[-2:]
        spectrum = torch.fft.rfft2(xp, norm="ortho")
        filtered = torch.fft.irfft2(spectrum * self.mask(H, W, x.device, torch.float32), s=(H, W), norm="ortho")
        if filtered.shape[-2:] != (h, w):
            filtered = filtered[..., ph : ph + h, pw : pw + w]
        return filtered.to(x.dtype).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.lowpass(x)
        return low + self.refine(low)
