"""Illumination-aware Feature Enhancement (IFE).

Uneven light darkens some regions more than others, so one global correction is wrong. IFE first estimates an
illumination map from the low-light image (:class:`IlluminationEstimator`): a smooth prior (the brightest
channel in linear light, blurred) refined by a small CNN whose output starts at zero, so the map is darker where
the image is darker from the first step. Each scale's features are then modulated by a per-pixel scale and shift
predicted from the map (:class:`IlluminationModulation`), so dark and bright regions are corrected differently.
The map is an output of the network; the application shows it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class IlluminationEstimator(nn.Module):
    """Image (B, 3, H, W) in [0, 1] -> illumination map (B, 1, H / stride, W / stride) in (0, 1]."""

    def __init__(self, stride: int = 4, hidden: int = 16, smooth_kernel: int = 9) -> None:
        super().__init__()
        self.stride = stride
        self.smooth_kernel = smooth_kernel
        self.refine = nn.Sequential(
            nn.Conv2d(2, hidden, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=2, dilation=2),
            nn.GELU(),
            nn.Conv2d(hidden, 1, 3, padding=1),
        )
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)

    def prior(self, image: torch.Tensor) -> torch.Tensor:
        # the brightest channel in linear light; the curve is increasing, so the brightest channel is taken first
        # and only it goes through the power (a third of the work)
        bright = image.clamp(0, 1).amax(dim=1, keepdim=True) ** 2.2
        bright = F.avg_pool2d(bright, self.stride)
        k = self.smooth_kernel
        return F.avg_pool2d(F.pad(bright, (k // 2,) * 4, mode="replicate"), k, stride=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        prior = self.prior(image).clamp_min(1e-4)
        log_prior = prior.log()
        residual = self.refine(torch.cat([prior, log_prior / 10], dim=1))
        return torch.exp(log_prior + residual.clamp(-3, 3)).clamp(1e-4, 1.0)


class IlluminationModulation(nn.Module):
    """Spatial feature transform driven by the illumination map: ``f * (1 + gamma(L)) + beta(L)``."""

    def __init__(self, channels: int, hidden: int = 32) -> None:
        super().__init__()
        self.condition = nn.Sequential(nn.Conv2d(2, hidden, 3, padding=1), nn.GELU())
        self.to_gamma_beta = nn.Conv2d(hidden, 2 * channels, 1)
        nn.init.zeros_(self.to_gamma_beta.weight)
        nn.init.zeros_(self.to_gamma_beta.bias)
        self.refine = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, features: torch.Tensor, illumination: torch.Tensor) -> torch.Tensor:
        L = F.interpolate(illumination, size=features.shape[-2:], mode="bilinear", align_corners=False)
        cond = self.condition(torch.cat([L, L.clamp_min(1e-4).log() / 10], dim=1))
        gamma, beta = self.to_gamma_beta(cond).chunk(2, dim=1)
        modulated = features * (1 + gamma) + beta
        return modulated + self.refine(modulated)
