"""Feature discrepancy into a pixel anomaly map and an image score.

Per scale, the discrepancy starts from the *residual* between the unit-normalised target and reconstructed
feature vectors at each position (scale-free, so all scales weigh alike). Its half squared length is one minus
their cosine similarity, the discrepancy used for well-lit input. For input from a dark capture a
:class:`ResidualWhitening` fitted on good images measures the residual's Mahalanobis length instead: the
enhancement leaves structured noise in some feature channels, and whitening discounts what always varies on good
parts. On well-lit input it discounts what defects change as well, so well-lit input keeps the cosine. A
:class:`PositionBaseline`, measured on good
images after training, then turns each scale's discrepancy into a z-score per grid position: how unusual it is
*for that place* (the image border, where the context decoder sees less, and the tile's texture are hard to
reconstruct everywhere, so their raw error says little). The maps are averaged over scales; a fitted
:class:`~core.model.density.FeatureDensity` then adds how unlike good parts' local features the target's are
(which a context decoder misses where a defect is large and uniform). The map is smoothed with a
Gaussian (sigma 4 px of the input) so a single noisy feature cannot make a spot, and upsampled to the model's
input size. The image score is the mean of the top ``top_k`` fraction of the map (robust to one hot pixel, yet
sensitive to a small defect) minus the map's median, which removes each image's own baseline (``relative``).
Smoothing and scoring happen at a quarter of the input size (stride 4, finer than the stride-8 grid the map comes
from): the same map and score within interpolation, at a sixteenth of the pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from core.model.density import FeatureDensity, mahalanobis_sq, shrunk_precision, spread
from core.model.stage import Stage


def gaussian_kernel1d(sigma: float) -> torch.Tensor:
    radius = max(1, int(round(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def separable_blur(m: torch.Tensor, row: torch.Tensor, column: torch.Tensor) -> torch.Tensor:
    """(B, 1, h, w) convolved with the odd 1-D kernels ``row`` along its width and ``column`` along its height,
    mirrored at the border."""
    for k, dim in ((row, 3), (column, 2)):
        r = k.numel() // 2
        pad, shape = ((r, r, 0, 0), (1, 1, 1, -1)) if dim == 3 else ((0, 0, r, r), (1, 1, -1, 1))
        m = F.conv2d(F.pad(m, pad, mode="reflect"), k.view(shape))
    return m


class PositionBaseline(Stage):
    """Mean and spread of each scale's discrepancy at each grid position on good images (buffers, saved with the
    post-processor). Until :meth:`fit` is called it is the identity."""

    def __init__(self, scales: int, grid: int, settings: dict | None = None) -> None:
        super().__init__(settings)
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


def unit_residuals(recon: Sequence[torch.Tensor], target: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Per scale, unit-normalised target minus unit-normalised reconstruction, (B, C, grid, grid) float32."""
    unit = [
        (F.normalize(r.float(), dim=1, eps=1e-6), F.normalize(t.float(), dim=1, eps=1e-6))
        for r, t in zip(recon, target)
    ]
    return [t - r for r, t in unit]


def cosine_distances(residuals: Sequence[torch.Tensor]) -> torch.Tensor:
    """(B, scales, grid, grid): half the squared unit residual, which is one minus the cosine similarity."""
    return torch.stack([e.pow(2).sum(1) / 2 for e in residuals], 1)


class ResidualWhitening(Stage):
    """Mean and shrunk precision (inverse covariance) of each scale's unit residual on good images (buffers,
    saved with the weights). Fitted: the discrepancy is the squared Mahalanobis length divided by the channel
    count (at most about 1 on good images; less where shrinkage dominates). Not fitted: half the squared length,
    i.e. the cosine distance."""

    #: covariance shrinkage towards its mean variance; 0.003 to 0.3 scored alike on MTD, 3 approaches the cosine
    shrinkage = 0.03
    setting_names = ("shrinkage",)

    def __init__(self, channels: Sequence[int], settings: dict | None = None) -> None:
        super().__init__(settings)
        self.register_buffer("fitted", torch.zeros(()))
        for i, c in enumerate(channels):
            self.register_buffer(f"mean{i}", torch.zeros(c))
            self.register_buffer(f"precision{i}", torch.eye(c))

    def _stats(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"mean{i}"), getattr(self, f"precision{i}")

    @torch.no_grad()
    def fit(self, residuals: Sequence[torch.Tensor]) -> None:
        """``residuals``: per scale, (N, C, grid, grid) unit residuals of good images."""
        for i, e in enumerate(residuals):
            z = e.transpose(1, -1).reshape(-1, e.shape[1])  # (positions, C)
            if z.shape[0] < 2 * z.shape[1]:
                raise ValueError(f"{z.shape[0]} residual vectors are too few for {z.shape[1]} channels")
            mean, precision = shrunk_precision(z, self.shrinkage)
            m, p = self._stats(i)
            m.copy_(mean)
            p.copy_(precision / len(precision))
        self.fitted.fill_(1.0)

    def forward(self, residuals: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, scales, grid, grid) discrepancy."""
        if not bool(self.fitted):
            return cosine_distances(residuals)
        out = []
        for i, e in enumerate(residuals):
            mean, precision = self._stats(i)
            out.append(mahalanobis_sq(e.permute(0, 2, 3, 1), mean, precision))
        return torch.stack(out, 1)


class MapTerm(Stage):
    """A term fitted on good parts and added to the anomaly map, not to the score: a subclass's raw per-position
    value (:meth:`raw`) as a z-score over good images held out from its fit, scaled to the spread of the map's
    pixels on good images and weighted. Until a fit ends with :meth:`_set_scale` it adds nothing."""

    #: the term's weight in the map, in units of the map's spread on good images
    default_weight = 1.0
    #: what the term is called in errors
    label = "map term"
    setting_names = ("default_weight",)

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__(settings)
        self.register_buffer("fitted", torch.zeros(()))
        # map term = norm[3] * norm[2] * (raw - norm[0]) / norm[1]
        self.register_buffer("norm", torch.tensor([0.0, 1.0, 1.0, 0.0]))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    def raw(self, features, *more) -> torch.Tensor:
        """(B, 1, h, w) the term before standardising, from the encoder features (and anything ``more``) the
        subclass takes."""
        raise NotImplementedError

    def zscores(self, features, *more) -> torch.Tensor:
        """(B, 1, h, w) :meth:`raw` as a z-score over the held-out good images."""
        return (self.raw(features, *more) - self.norm[0]) / self.norm[1]

    def add_to(self, anomaly_map: torch.Tensor, features, *more) -> torch.Tensor:
        """The (B, 1, H, W) map with the term added (unchanged until fitted, or with weight 0)."""
        if not self.is_fitted or float(self.norm[3]) == 0:
            return anomaly_map
        z = self.zscores(features, *more)
        z = F.interpolate(z, size=anomaly_map.shape[-2:], mode="bilinear", align_corners=False)
        return anomaly_map + self.norm[3] * self.norm[2] * z

    def _check_grid(self, per_position: torch.Tensor, x: torch.Tensor) -> None:
        """Refuse (B, C, h, w) ``x`` on another grid than the one ``per_position`` (.., h, w) was fitted on."""
        if x.shape[-2:] != per_position.shape[-2:]:
            fitted, got = tuple(per_position.shape[-2:]), tuple(x.shape[-2:])
            raise ValueError(f"{self.label} was fitted on a {fitted} grid, got {got}")

    def _set_scale(self, held_raw: torch.Tensor, map_spread: float, weight: float | None) -> None:
        """End of a fit: standardise by :meth:`raw` on the held-out good images, scale to ``map_spread``."""
        w = self.default_weight if weight is None else weight
        self.norm.copy_(torch.tensor([float(held_raw.mean()), spread(held_raw), max(float(map_spread), 1e-6), w]))
        self.fitted.fill_(1.0)


class AnomalyMapGenerator(Stage):
    """Reconstructed and target features -> (B, 1, H, W) map and (B,) score."""

    #: the Gaussian's sigma (pixels of the input) the map is smoothed with
    sigma = 4.0
    #: the share of the map's highest values whose mean is the score
    top_k = 0.01
    #: the score less the map's median
    relative = True
    #: the stride of the map that is smoothed and scored, before its upsampling to the input size
    work_stride = 4
    setting_names = ("sigma", "top_k", "relative", "work_stride")

    def __init__(self, settings: dict | None = None, **overrides) -> None:
        super().__init__({**(settings or {}), **overrides})
        self.register_buffer("kernel", gaussian_kernel1d(self.sigma / self.work_stride), persistent=False)

    def discrepancy(
        self,
        recon,
        target,
        size,
        baseline: PositionBaseline | None = None,
        whitening: ResidualWhitening | None = None,
        density: FeatureDensity | None = None,
    ) -> torch.Tensor:
        residuals = unit_residuals(recon, target)
        d = cosine_distances(residuals) if whitening is None else whitening(residuals)
        if baseline is not None:
            d = baseline(d)
        d = d.mean(1, keepdim=True)
        if density is not None:
            d = density.combine(d, target)
        return F.interpolate(d, size=size, mode="bilinear", align_corners=False)

    def smooth(self, m: torch.Tensor) -> torch.Tensor:
        return separable_blur(m, self.kernel, self.kernel)

    def score(self, anomaly_map: torch.Tensor) -> torch.Tensor:
        flat = anomaly_map.flatten(1)
        k = max(1, int(flat.shape[1] * self.top_k))
        peak = flat.topk(k, dim=1).values.mean(1)
        return peak - flat.median(dim=1).values if self.relative else peak

    def forward(self, recon, target, size, baseline=None, whitening=None, density=None):
        """(map (B, 1, H, W), the map's score (B,))."""
        work = tuple(max(1, n // self.work_stride) for n in size)
        m = self.smooth(self.discrepancy(recon, target, work, baseline, whitening, density))
        return F.interpolate(m, size=size, mode="bilinear", align_corners=False), self.score(m)
