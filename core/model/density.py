"""Feature density: what good parts' features look like, beside what their surroundings predict.

The context decoder predicts each place from its surroundings, so it cannot single out a defect that is large
and consistent with itself: across a band of a different finish over a quarter of a part the surroundings are
uneven too and the band is predicted as well as good grain is. What gives such a place away
is that good parts never have those features at all, wherever they are. :class:`FeatureDensity` models that with
a mixture of Gaussians of local descriptors of good images, fitted per input mode at calibration: the coarsest
scale's target features averaged over 3x3 grid cells, taken every other cell, one mixture for all positions
(parts need not be aligned). Each position's distance (the square root of its smallest Mahalanobis distance to a
component plus that component's log-determinant and weight penalty: one Gaussian's Mahalanobis distance when
there is one component) is upsampled to the grid and, as a z-score over held-out good images, added to the
reconstruction's discrepancy map, which is first scaled to unit spread so the two weigh alike; the map's score
then comes from the combined map (and the image score from it and the image density,
:mod:`core.model.image_density`).

How many components: good parts' local features form several clusters, which one Gaussian blurs into one broad
cloud. The number is chosen from 1, 2, 4, ... up to
:attr:`FeatureDensity.max_components` by the likelihood of a fifth of the good images held out from the fit, so
it follows how many good images there are and how varied they are: a mixture fitted on a few images of one batch
would learn that batch's textures and reject the next batch's good parts, and the held-out likelihood is what
tells (few images of one session get few components, many varied ones more). The fewest components whose held-out
likelihood is within one standard error (over the held-out images) of the best are kept: with some twenty held-out
images a smaller gain is chance, and on validation data such a larger mixture rejected a further batch's parts.
The mixture is a fixed set of means and precision matrices (at most 1.6 MB per mode for EfficientNet-Lite0),
whose size does not grow with the training set: not a memory bank. Until fitted it adds nothing, so models saved
before it keep the behaviour their thresholds were calibrated with; a single Gaussian saved by an older LLAD
loads as a mixture of one with its descriptors on every cell, as it was fitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from core.model.stage import Stage


def shrunk_precision(z: torch.Tensor, shrinkage: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and inverse covariance of the rows of ``z`` (N, C), the covariance shrunk towards
    ``shrinkage`` times its mean variance so that few samples or a flat direction cannot make it singular."""
    z = z.double()
    if len(z) < 2:
        raise ValueError("a covariance needs at least two samples")
    mean = z.mean(0)
    cov = torch.cov(z.T)
    cov += shrinkage * cov.diagonal().mean() * torch.eye(len(cov), dtype=cov.dtype)
    return mean.float(), torch.linalg.inv(cov).float()


def mahalanobis_sq(z: torch.Tensor, mean: torch.Tensor, precision: torch.Tensor) -> torch.Tensor:
    """Squared Mahalanobis length of ``z`` (..., C) from ``mean``, over the last dimension."""
    d = z - mean
    return ((d @ precision) * d).sum(-1)


def size_buffers_as_saved(module: nn.Module, state_dict: dict, prefix: str, names: Sequence[str]) -> None:
    """Before ``module`` loads ``state_dict``: give its buffers ``names`` the saved shapes, for buffers whose size
    is set by a fit (a number of components, a descriptor length), not by the architecture."""
    for name in names:
        saved = state_dict.get(prefix + name)
        if isinstance(saved, torch.Tensor) and saved.dim() == getattr(module, name).dim():
            setattr(module, name, torch.empty_like(saved))


def held_out_count(n: int, share: float) -> int:
    """How many of ``n`` good images a density holds out from its fit (at least one)."""
    return max(1, round(n * share))


def held_out_split(n: int, share: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(fit indices, held-out indices): a seeded shuffle of ``range(n)`` with :func:`held_out_count` held out."""
    order = torch.randperm(n, generator=generator)
    held = held_out_count(n, share)
    return order[held:], order[:held]


def spread(x: torch.Tensor) -> float:
    """The standard deviation of ``x``, at least 1e-6 (1 for a single value): a z-score's divisor."""
    return max(float(x.std()), 1e-6) if x.numel() > 1 else 1.0


def kmeans(z: torch.Tensor, k: int, generator: torch.Generator, iterations: int = 25, sample: int = 40_000):
    """Cluster index of each row of ``z`` (N, C): Lloyd's iterations from ``k`` random rows on at most
    ``sample`` rows, then every row to its nearest centre."""
    rows = z[torch.randperm(len(z), generator=generator)[:sample]]
    centres = rows[:k].clone()
    for _ in range(iterations):
        assign = torch.cdist(rows, centres).argmin(1)
        for j in range(k):
            members = rows[assign == j]
            if len(members):
                centres[j] = members.mean(0)
    return torch.cat([torch.cdist(chunk, centres).argmin(1) for chunk in z.split(sample)])


def fewest_within_one_error(tried: Sequence[tuple[torch.Tensor, Mixture]]) -> Mixture:
    """Of mixtures with ever more components, each with its held-out images' negative log-likelihoods, the first
    whose mean is within one standard error of the best mean (the best's error over the images): a few held-out
    images cannot tell apart a likelihood gain that small, and the larger mixture learns those images' batch."""
    means = [float(nll.mean()) for nll, _ in tried]
    best = min(range(len(tried)), key=means.__getitem__)
    nll = tried[best][0]
    error = float(nll.std() / math.sqrt(len(nll))) if len(nll) > 1 else 0.0
    return next(m for (_, m), mean in zip(tried, means) if mean <= means[best] + error)


class Mixture:
    """Component means (K, C), precisions (K, C, C) and the penalty each component adds to the squared
    distance (K,): its log-determinant minus twice its log-weight, relative to the smallest."""

    def __init__(self, means: torch.Tensor, precisions: torch.Tensor, offsets: torch.Tensor, base: float = 0.0):
        self.means, self.precisions, self.offsets = means, precisions, offsets
        self.base = base  # the smallest penalty, taken out of ``offsets``: the likelihood needs it back

    @classmethod
    def fit(cls, z: torch.Tensor, k: int, shrinkage: float, generator: torch.Generator, min_rows: int) -> Mixture:
        """Fit ``k`` components to the rows of ``z`` (N, C): k-means, then each cluster's shrunk covariance.
        Clusters with fewer than ``min_rows`` rows are dropped."""
        assign = kmeans(z, k, generator) if k > 1 else torch.zeros(len(z), dtype=torch.long)
        means, precisions, penalties = [], [], []
        for j in range(k):
            members = z[assign == j]
            if len(members) < min_rows:
                continue
            mean, precision = shrunk_precision(members, shrinkage)
            log_det = -torch.linalg.slogdet(precision.double())[1]
            means.append(mean)
            precisions.append(precision)
            penalties.append(float(log_det) - 2 * math.log(len(members) / len(z)))
        offsets = torch.tensor(penalties)
        base = float(offsets.min())
        return cls(torch.stack(means), torch.stack(precisions), (offsets - base).float(), base)

    def _sq(self, flat: torch.Tensor) -> torch.Tensor:
        """(K, N) penalised squared distances of the rows of ``flat`` (N, C) to each component."""
        out = []
        for chunk in flat.split(4096):  # bounds the (K, rows, C) intermediate
            sq = mahalanobis_sq(chunk.unsqueeze(0), self.means.unsqueeze(1), self.precisions)  # broadcast over K
            out.append(sq + self.offsets.unsqueeze(1))
        return torch.cat(out, 1)

    def sq_distance(self, z: torch.Tensor) -> torch.Tensor:
        """(...,) smallest penalised squared Mahalanobis distance of ``z`` (..., C) to a component."""
        return self._sq(z.reshape(-1, z.shape[-1])).amin(0).reshape(z.shape[:-1])

    def neg_log_likelihood(self, z: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per dimension of the rows of ``z`` (..., C), constants dropped, over its
        last two dimensions: one number for (N, C), one per image for descriptors (images, N, C)."""
        flat = z.reshape(-1, z.shape[-1])
        log_density = torch.logsumexp(-0.5 * (self._sq(flat).double() + self.base), 0).reshape(z.shape[:-1])
        return -log_density.mean(-1) / z.shape[-1]


class FeatureDensity(Stage):
    """A mixture of Gaussians of good parts' local feature descriptors (buffers, saved with the weights)."""

    #: covariance shrinkage towards the mean variance (0.003 to 0.03 scored alike on MTD)
    shrinkage = 0.01
    #: the local descriptor's window, in grid cells
    window = 3
    #: the most components a mixture may have (32 to 64 scored alike on MTD's 761 good images)
    max_components = 32
    #: the share of the good images held out to choose the number of components and set the z-score
    holdout = 0.2
    setting_names = ("shrinkage", "window", "max_components", "holdout")

    def __init__(self, channels: Sequence[int], settings: dict | None = None) -> None:
        super().__init__(settings)
        c = channels[-1]
        self.register_buffer("fitted", torch.zeros(()))
        self.register_buffer("means", torch.zeros(1, c))
        self.register_buffer("precisions", torch.eye(c).unsqueeze(0))
        self.register_buffer("offsets", torch.zeros(1))
        # descriptors are taken every `cell_step` grid cells (every cell in models saved before the mixture)
        self.register_buffer("cell_step", torch.tensor(2.0))
        # combined map = discrepancy / norm[0] + (distance - norm[1]) / norm[2]
        self.register_buffer("norm", torch.tensor([1.0, 0.0, 1.0]))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    @property
    def components(self) -> int:
        return len(self.means)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        mean, precision = state_dict.pop(prefix + "mean", None), state_dict.pop(prefix + "precision", None)
        if mean is not None and precision is not None:  # a single Gaussian saved before the mixture
            state_dict[prefix + "means"], state_dict[prefix + "precisions"] = mean[None], precision[None]
            state_dict.setdefault(prefix + "offsets", torch.zeros(1))
            state_dict.setdefault(prefix + "cell_step", torch.tensor(1.0))
        size_buffers_as_saved(self, state_dict, prefix, ("means", "precisions", "offsets"))  # the saved components
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def descriptors(self, targets: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, h, w, C) local descriptors of target features on the map's grid (per scale, shallow first)."""
        f = F.avg_pool2d(targets[-1].float(), self.window, 1, self.window // 2, count_include_pad=False)
        step = int(self.cell_step)
        return f[..., ::step, ::step].permute(0, 2, 3, 1)

    def _mixture(self) -> Mixture:
        return Mixture(self.means, self.precisions, self.offsets)

    def _distance(self, descriptors: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        d = self._mixture().sq_distance(descriptors).clamp_min(0).sqrt().unsqueeze(1)
        if tuple(d.shape[-2:]) != tuple(size):
            d = F.interpolate(d, size=size, mode="bilinear", align_corners=False)
        return d

    def distance(self, targets: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, 1, grid, grid) distance of each position's local descriptor from good parts'."""
        return self._distance(self.descriptors(targets), targets[-1].shape[-2:])

    @torch.no_grad()
    def fit(self, descriptors: torch.Tensor, discrepancy: torch.Tensor, seed: int = 0) -> None:
        """``descriptors``: (N, h, w, C) from :meth:`descriptors` of good images' target features;
        ``discrepancy``: (n, 1, grid, grid) the reconstruction's discrepancy map of good images."""
        n = len(descriptors)
        if n < 2:
            raise ValueError("a feature density needs at least two good images")
        generator = torch.Generator().manual_seed(seed)
        fit_index, held_index = held_out_split(n, self.holdout, generator)
        fit_rows = descriptors[fit_index].reshape(-1, descriptors.shape[-1])
        held_out = descriptors[held_index]
        # enough rows per component for a covariance that is more than its shrinkage
        min_rows = 4 * descriptors.shape[-1]
        tried = []  # (held-out images' negative log-likelihoods, mixture), fewest components first
        k = 1
        while k <= self.max_components and (k == 1 or len(fit_rows) >= k * min_rows):
            mixture = Mixture.fit(fit_rows, k, self.shrinkage, generator, min_rows if k > 1 else 2)
            tried.append((mixture.neg_log_likelihood(held_out.reshape(len(held_out), -1, held_out.shape[-1])), mixture))
            k *= 2
        mixture = fewest_within_one_error(tried)
        for name in ("means", "precisions", "offsets"):
            setattr(self, name, getattr(mixture, name).clone())
        size = discrepancy.shape[-2:]
        dist = self._distance(held_out, size)
        self.norm.copy_(torch.tensor([spread(discrepancy), float(dist.mean()), spread(dist)]))
        self.fitted.fill_(1.0)

    def combine(self, discrepancy: torch.Tensor, targets: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, 1, grid, grid) discrepancy map -> the map with the density term (unchanged until fitted)."""
        if not self.is_fitted:
            return discrepancy
        return discrepancy / self.norm[0] + (self.distance(targets) - self.norm[1]) / self.norm[2]
