"""Image density: how the whole part's texture statistics compare with good parts', beside the anomaly map.

The map scores a part by its worst place. Some defects change a part everywhere a little rather than one place a
lot: MTD's *uneven* tiles (a band of a different finish), faint cracks, a worn edge. What stays
unusual about such a part is the distribution of its features as a whole. :class:`ImageDensity` summarises it as
the first four moments (mean, standard deviation, skewness, log-kurtosis) of every channel of the coarsest
target features, as they are and averaged over 3x3 cells, a fixed-length descriptor per image that does not
depend on where anything is. A skewed or heavy-tailed channel is what a small defect leaves in a good texture's
statistics; the mean and spread are what a changed finish leaves. One Gaussian of good images' descriptors
(covariance shrunk towards its mean variance) gives each image a Mahalanobis distance, a z-score over good images
held out from the fit.

The image score is then the map's score times ``exp(weight * sigma * z)``: in log terms, the map's log-score plus
the image term, scaled to the spread ``sigma`` of the map's log-scores over the calibration's good images and
weighted. So it stays positive and log-normal on good parts, as the threshold expects
(:func:`core.calibration.threshold_for_false_reject`), and with weight 0 it is the map's score itself. The weight
says how well the Gaussian can be estimated. A descriptor has 8 values per channel (896 for
EfficientNet-Lite0); with few good images per value the Gaussian learns the images it saw more than good parts,
and above all the acquisition session they come from, which no held-out share of the same images can reveal. On
MTD (BENCHMARKS.md, 2026-11-30), the term fitted on the good images of one to three of its six sessions (90 to 300
images) rejected good tiles of the other sessions and lowered the well-lit image AUROC by 0.02 to 0.08, while on
500 or more images (four sessions or more) it raised it, by up to 0.06. So the weight is 0 below
:attr:`ImageDensity.min_ratio` fit images per descriptor value and rises linearly to
:attr:`ImageDensity.max_weight` at :attr:`ImageDensity.full_ratio` (for EfficientNet-Lite0: nothing from fewer
than about 500 good images, in full from about 750). The pixel map is not changed.

On MTD the image term alone separated defective from good tiles better than the map (image AUROC 0.93 / 0.95
well-lit / low-light against 0.87 / 0.85), and the two together better than either. It is a mean vector and a
precision matrix per mode (3.2 MB for EfficientNet-Lite0), whatever the number of good images: not a memory bank.
Until fitted it adds nothing, so models saved before it score as their thresholds were calibrated.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from core.model.density import mahalanobis_sq, shrunk_precision, spread

#: the windows (in cells of the coarsest map) the features are averaged over before their moments are taken
WINDOWS = (1, 3)
#: moments per channel and window: mean, standard deviation, skewness, log-kurtosis
MOMENTS = 4
_TINY = 1e-6
#: the image term multiplies the map's score by at most e^40: far beyond any threshold, and finite in float32
_MAX_LOG_FACTOR = 40.0


def descriptor_size(channels: int) -> int:
    return channels * MOMENTS * len(WINDOWS)


def image_statistics(features: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) feature maps -> (B, 8C) descriptor: per window of :data:`WINDOWS` and channel, the mean,
    standard deviation, skewness and log-kurtosis over all positions."""
    out = []
    for k in WINDOWS:
        f = features.float()
        if k > 1:
            f = F.avg_pool2d(f, k, 1, k // 2, count_include_pad=False)
        flat = f.flatten(2)
        mean = flat.mean(2, keepdim=True)
        centred = flat - mean
        var = centred.pow(2).mean(2)
        sd = var.sqrt() + 1e-6
        skew = centred.pow(3).mean(2) / sd**3
        kurt = (centred.pow(4).mean(2) / sd**4).clamp_min(1e-6).log()
        out += [mean[..., 0], sd, skew, kurt]
    return torch.cat(out, 1)


class ImageDensity(nn.Module):
    """A Gaussian of good images' :func:`image_statistics` and how much its distance weighs in the image score."""

    #: covariance shrinkage towards the mean variance (0.01 to 0.1 scored alike on MTD)
    shrinkage = 0.03
    #: the share of the good images held out to set the distance's z-score
    holdout = 0.2
    #: the image term's weight once the Gaussian is well estimated
    max_weight = 2.0
    #: fit images per descriptor value below which the term is left out
    min_ratio = 0.4
    #: fit images per descriptor value from which the term weighs :attr:`max_weight`
    full_ratio = 0.6

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        self.register_buffer("fitted", torch.zeros(()))
        # empty until fitted (a mode that is never calibrated costs nothing on disk); sized on fit and on load
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("precision", torch.zeros(0, 0))
        # log score = log map score + norm[3] * norm[0] * (distance - norm[1]) / norm[2]
        self.register_buffer("norm", torch.tensor([1.0, 0.0, 1.0, 0.0]))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    @property
    def weight(self) -> float:
        return float(self.norm[3])

    @classmethod
    def _held_out(cls, n: int) -> int:
        return max(1, round(n * cls.holdout))

    @classmethod
    def weight_for(cls, images: int, descriptor_values: int) -> float:
        """The weight a density fitted on ``images`` good images' descriptors of ``descriptor_values`` values gets."""
        ratio = (images - cls._held_out(images)) / descriptor_values
        return cls.max_weight * min(1.0, max(0.0, (ratio - cls.min_ratio) / (cls.full_ratio - cls.min_ratio)))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("mean", "precision"):  # the saved size, whatever the channels
            saved = state_dict.get(prefix + name)
            if isinstance(saved, torch.Tensor) and saved.dim() == getattr(self, name).dim():
                setattr(self, name, torch.empty_like(saved))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def descriptors(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, D) descriptors of encoder feature maps (per scale, shallow first; the coarsest is used)."""
        return image_statistics(features[-1])

    def distance(self, descriptors: torch.Tensor) -> torch.Tensor:
        """(B,) Mahalanobis distance of each descriptor from good images', as a z-score over held-out ones."""
        d = mahalanobis_sq(descriptors.float(), self.mean, self.precision).clamp_min(0).sqrt()
        return (d - self.norm[1]) / self.norm[2]

    @torch.no_grad()
    def fit(self, descriptors: torch.Tensor, map_scores: torch.Tensor, seed: int = 0) -> None:
        """``descriptors``: (N, D) of good images (:meth:`descriptors`); ``map_scores``: the anomaly map's
        scores of good images the network did not learn from (the calibration's held-out ones)."""
        n = len(descriptors)
        held = self._held_out(n)
        if n - held < 2 or len(map_scores) < 2:
            raise ValueError("an image density needs at least three good images and two map scores")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        fit_rows, held_out = descriptors[order[held:]], descriptors[order[:held]]
        mean, precision = shrunk_precision(fit_rows, self.shrinkage)
        self.mean, self.precision = mean, precision
        d = mahalanobis_sq(held_out.float(), mean, precision).clamp_min(0).sqrt()
        log_scores = torch.as_tensor(map_scores, dtype=torch.float32).clamp_min(_TINY).log()
        weight = self.weight_for(n, descriptors.shape[1])
        self.norm.copy_(torch.tensor([spread(log_scores), float(d.mean()), spread(d), weight]))
        self.fitted.fill_(1.0)

    def combine(self, map_score: torch.Tensor, descriptors: torch.Tensor) -> torch.Tensor:
        """(B,) the map's scores -> the image scores with the image term (unchanged until fitted)."""
        if not self.is_fitted or self.weight == 0:
            return map_score
        log_factor = (self.norm[3] * self.norm[0] * self.distance(descriptors)).clamp_max(_MAX_LOG_FACTOR)
        return map_score.clamp_min(_TINY) * torch.exp(log_factor)
