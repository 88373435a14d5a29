"""Image density: how the whole part's texture compares with good parts', beside the anomaly map.

The map scores a part by its worst place. Some defects change a part everywhere a little rather than one place a
lot: a band of a different finish, faint cracks, a worn edge. What stays unusual about such a part is its texture
as a whole, and a texture is well summarised by which feature channels vary together over it (the correlations of
a Gram matrix, as in texture synthesis). :class:`ImageDensity` takes the coarsest target features, projects their
channels on the :data:`RANK` principal directions of good parts' features, and describes the image by the
correlations between those projections over all its positions and the spread of each: a fixed-length descriptor
that does not depend on where anything is (1176 values for 48 directions). The projections' means are left out:
they follow the light and the batch more than defects. One Gaussian of good images' descriptors (covariance shrunk
towards its mean variance) gives each image a Mahalanobis distance, a z-score over good images held out from the
fit.

Exposure is not a defect, yet a texture's statistics follow it: brighter, the grain's contrast grows and the
highlights clip, and good parts simply brighter than the training images would be rejected. So the fit also sees
each good image as taken with :attr:`ImageDensity.exposure_gains` times the exposure (in linear light, clipped as a
sensor saturates); the z-score stays over held-out images as taken. It costs two more encoder passes per image at
calibration, nothing at inspection.

The image score is then the map's score times ``exp(weight * sigma * z)`` (smoothly capped at :data:`MAX_FACTOR`):
in log terms, the map's log-score plus the image term, scaled to the spread ``sigma`` of the map's log-scores over
the calibration's good images and weighted. So it stays positive and log-normal on good parts, as the threshold
expects (:func:`core.calibration.threshold_for_false_reject`), and with weight 0 it is the map's score itself.

The weight says whether the good images are enough to stand for good parts. Fitted on few, the Gaussian learns the
images it saw, above all their acquisition session, which no held-out share of the same images can reveal: good
parts of the next session would be rejected. So the weight is 0 below :attr:`ImageDensity.min_fit_images` images
fitted on and rises linearly to :attr:`ImageDensity.max_weight` at :attr:`ImageDensity.full_fit_images` (about 500
and 750 good images for a category with the default training settings). The pixel map changes only through the
score, by the image gate (:mod:`core.model.image_gate`).

It is a projection, a mean vector and a precision matrix per mode (its upper triangle is what is saved: 2.8 MB),
whatever the number of good images: not a memory bank. Until fitted it adds nothing, so models saved before it
score as their thresholds were calibrated, and training leaves it unfitted (and empty on disk) where it would
weigh nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from core.model.density import (
    held_out_count,
    held_out_split,
    mahalanobis_sq,
    shrunk_precision,
    size_buffers_as_saved,
    spread,
)
from core.model.stage import Stage

#: principal directions of the channels whose correlations describe an image
RANK = 48
_TINY = 1e-6
#: the image term multiplies the map's score by at most this (smoothly: ``c * tanh(x / c)`` of its log, ``c`` the
#: log of this), so a frame unlike any part (a covered lens, a wrong part) scores far above the threshold without
#: running to numbers no display or log can show. Real parts' factors stay well inside the soft part of the cap,
#: so it hardly changes their ranking.
MAX_FACTOR = 100.0


def channel_moments(features: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) feature maps -> (B, C + C*C): per image, each channel's mean and the channels' covariance over
    all positions (flattened). A fit needs these of many images at once; they are small (C*C values)."""
    flat = features.float().flatten(2)
    mean = flat.mean(2)
    centred = flat - mean.unsqueeze(2)
    cov = centred @ centred.transpose(1, 2) / flat.shape[2]
    return torch.cat([mean, cov.flatten(1)], 1)


def _split(moments: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = moments.shape[1]
    c = int((-1 + (1 + 4 * n) ** 0.5) / 2)  # n = c + c * c
    return moments[:, :c], moments[:, c:].view(-1, c, c)


def texture_descriptor(moments: torch.Tensor, projection: torch.Tensor) -> torch.Tensor:
    """(B, C + C*C) :func:`channel_moments` and a (C, k) projection -> (B, k(k+1)/2): the correlations between
    the projected channels over each image's positions (the upper triangle), then each projection's log spread
    (without it a direction that varies more or less than on good parts, but as independently, goes unseen)."""
    _, cov = _split(moments)
    g = projection.T @ cov @ projection
    sd = g.diagonal(dim1=1, dim2=2).clamp_min(1e-12).sqrt()
    corr = g / (sd.unsqueeze(2) * sd.unsqueeze(1))
    rows, cols = torch.triu_indices(len(projection.T), len(projection.T), 1)
    return torch.cat([corr[:, rows, cols], sd.log()], 1)


def principal_directions(moments: torch.Tensor, rank: int) -> torch.Tensor:
    """(C, k) the ``rank`` leading eigenvectors of the channel covariance over all positions of all images."""
    mean, cov = _split(moments.double())
    pooled = cov.mean(0) + torch.cov(mean.T, correction=0) if len(mean) > 1 else cov[0]
    _, vectors = torch.linalg.eigh(pooled)  # ascending eigenvalues
    return vectors[:, -min(rank, len(pooled)) :].flip(1).float()


def principal_basis(features: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(C, k) :func:`principal_directions` and (C,) mean of (N, C, h, w) feature maps over all their positions
    (computed 64 images at a time)."""
    moments = torch.cat([channel_moments(chunk) for chunk in features.float().split(64)])
    return principal_directions(moments, rank), moments[:, : features.shape[1]].mean(0)


def project(features: torch.Tensor, projection: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) feature maps -> (B, k, h, w) on the directions ``projection`` (C, k), about ``centre`` (C,)."""
    return torch.einsum("bchw,ck->bkhw", features.float() - centre.view(1, -1, 1, 1), projection)


def minus_image_median(x: torch.Tensor) -> torch.Tensor:
    """(B, k, h, w) maps less each image's median of each channel over its positions."""
    return x - x.flatten(2).median(2).values[:, :, None, None]


def _pack(m: torch.Tensor) -> torch.Tensor:
    rows, cols = torch.triu_indices(len(m), len(m))
    return m[rows, cols]


def _unpack(packed: torch.Tensor) -> torch.Tensor:
    n = int((-1 + (1 + 8 * len(packed)) ** 0.5) / 2)  # len = n(n+1)/2
    rows, cols = torch.triu_indices(n, n)
    m = torch.zeros(n, n, dtype=packed.dtype)
    m[rows, cols] = packed
    return m + m.T - torch.diag(m.diagonal())


class ImageDensity(Stage):
    """A Gaussian of good images' :func:`texture_descriptor` and how much its distance weighs in the image score."""

    #: covariance shrinkage towards the mean variance (0.03 and 0.1 scored alike on MTD)
    shrinkage = 0.03
    #: the share of the good images held out to set the distance's z-score
    holdout = 0.2
    #: the image term's weight once there are enough good images
    max_weight = 2.0
    #: images fitted on (the rest held out) below which the term is left out
    min_fit_images = 360
    #: images fitted on from which the term weighs :attr:`max_weight`
    full_fit_images = 540
    #: the fit also sees each good image as taken with these exposures (relative): a part is not defective for
    #: being lit more or less brightly than the training images were
    exposure_gains = (1.4, 0.7)
    #: principal directions of the channels whose correlations describe an image
    rank = RANK
    #: the most the image term multiplies the map's score by (:data:`MAX_FACTOR`)
    max_factor = MAX_FACTOR
    setting_names = (
        "shrinkage",
        "holdout",
        "max_weight",
        "min_fit_images",
        "full_fit_images",
        "exposure_gains",
        "rank",
        "max_factor",
    )

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__(settings)
        self.register_buffer("fitted", torch.zeros(()))
        # empty until fitted (a mode that is never calibrated costs nothing on disk); sized on fit and on load
        self.register_buffer("projection", torch.zeros(0, 0))
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("packed_precision", torch.zeros(0))  # the upper triangle: what is saved
        self.register_buffer("precision", torch.zeros(0, 0), persistent=False)
        # log score = log map score + norm[3] * norm[0] * (distance - norm[1]) / norm[2]
        self.register_buffer("norm", torch.tensor([1.0, 0.0, 1.0, 0.0]))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    @property
    def weight(self) -> float:
        return float(self.norm[3])

    @classmethod
    def weight_for(cls, images: int) -> float:
        """The weight of a density with the default settings fitted on ``images`` good images (a share of them
        held out); :meth:`fitted_weight` with this one's."""
        return _weight(cls, images)

    def fitted_weight(self, images: int) -> float:
        """The weight of this density (its own settings) fitted on ``images`` good images."""
        return _weight(self, images)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        size_buffers_as_saved(self, state_dict, prefix, ("projection", "mean", "packed_precision"))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.precision = _unpack(self.packed_precision)

    def summaries(self, features) -> torch.Tensor:
        """(B, C + C*C) what the density needs of each image (:func:`channel_moments`) from encoder feature maps
        (per scale, shallow first; the coarsest is used)."""
        return channel_moments(features[-1])

    def distance(self, summaries: torch.Tensor) -> torch.Tensor:
        """(B,) Mahalanobis distance of each image's texture descriptor from good images', as a z-score over
        held-out good images."""
        z = texture_descriptor(summaries, self.projection)
        d = mahalanobis_sq(z, self.mean, self.precision).clamp_min(0).sqrt()
        return (d - self.norm[1]) / self.norm[2]

    @torch.no_grad()
    def fit(
        self, summaries: torch.Tensor, map_scores: torch.Tensor, seed: int = 0, variants: Sequence[torch.Tensor] = ()
    ) -> None:
        """``summaries``: (N, C + C*C) of good images (:meth:`summaries`); ``map_scores``: the anomaly map's
        scores of good images the network did not learn from (the calibration's held-out ones); ``variants``: the
        summaries of the same N images otherwise taken (row i of each is image i; see :attr:`exposure_gains`),
        fitted on beside the images they vary, never held out."""
        n = len(summaries)
        held = held_out_count(n, self.holdout)
        if n - held < 2 or len(map_scores) < 2:
            raise ValueError("an image density needs at least three good images and two map scores")
        if any(len(v) != n for v in variants):
            raise ValueError("each variant needs one row per good image")
        fit_index, held_index = held_out_split(n, self.holdout, torch.Generator().manual_seed(seed))
        fit_rows = torch.cat([summaries[fit_index], *(v[fit_index] for v in variants)])
        held_out = summaries[held_index]
        self.projection = principal_directions(fit_rows, self.rank)
        mean, precision = shrunk_precision(texture_descriptor(fit_rows, self.projection), self.shrinkage)
        self.mean, self.packed_precision = mean, _pack(precision)
        self.precision = _unpack(self.packed_precision)
        d = mahalanobis_sq(texture_descriptor(held_out, self.projection), mean, self.precision).clamp_min(0).sqrt()
        log_scores = torch.as_tensor(map_scores, dtype=torch.float32).clamp_min(_TINY).log()
        self.norm.copy_(torch.tensor([spread(log_scores), float(d.mean()), spread(d), self.fitted_weight(n)]))
        self.fitted.fill_(1.0)

    def combine(self, map_score: torch.Tensor, summaries: torch.Tensor) -> torch.Tensor:
        """(B,) the map's scores -> the image scores with the image term (unchanged until fitted, or weight 0)."""
        if not self.is_fitted or self.weight == 0:
            return map_score
        cap = math.log(self.max_factor)
        log_factor = cap * torch.tanh(self.norm[3] * self.norm[0] * self.distance(summaries) / cap)
        return map_score.clamp_min(_TINY) * torch.exp(log_factor)


def _weight(density, images: int) -> float:
    """The image term's weight for ``images`` good images under ``density``'s settings (a class or an instance)."""
    fitted = images - held_out_count(images, density.holdout)
    ramp = (fitted - density.min_fit_images) / (density.full_fit_images - density.min_fit_images)
    return density.max_weight * min(1.0, max(0.0, ramp))
