"""The image density on its own: its descriptor's moments, what it flags, its weight, and its state on disk."""

from __future__ import annotations

import math

import pytest
import torch

from core.model.image_density import ImageDensity, descriptor_size, image_statistics


def _texture(n: int, generator: torch.Generator, channels: int = 4, size: int = 12) -> list[torch.Tensor]:
    """Encoder-like maps per scale (shallow first): a smooth random texture, channel 1 following channel 0."""
    base = torch.randn(n, channels, size, size, generator=generator)
    base[:, 1] = 0.8 * base[:, 0] + 0.2 * base[:, 1]
    return [torch.randn(n, 2, 2 * size, 2 * size, generator=generator), base]


def test_image_statistics_are_the_four_moments_per_channel_and_window():
    """Per window (as is, 3x3 averaged) and channel: mean, standard deviation, skewness and log-kurtosis. A
    channel that is flat except for one bright cell is strongly skewed and heavy-tailed; a symmetric two-level
    channel has no skew and the smallest kurtosis there is (1, log 0)."""
    f = torch.zeros(1, 3, 8, 8)
    f[0, 0] = 2.0
    f[0, 1, 3, 4] = 10.0  # one bright cell
    f[0, 2] = torch.tensor([1.0, -1.0]).repeat(32).view(8, 8)  # +1/-1 stripes
    d = image_statistics(f)
    assert d.shape == (1, descriptor_size(3)) == (1, 24)
    mean, sd, skew, kurt = d[0, :12].view(4, 3)
    assert torch.allclose(mean, torch.tensor([2.0, 10 / 64, 0.0]))
    assert float(sd[0]) < 1e-5 and float(sd[2]) == pytest.approx(1.0, abs=1e-5)
    assert float(skew[1]) > 7 and abs(float(skew[2])) < 1e-4
    assert float(kurt[1]) > math.log(50) and abs(float(kurt[2])) < 1e-4
    smoothed = d[0, 12:].view(4, 3)  # after 3x3 averaging the bright cell is spread over nine cells
    assert float(smoothed[2, 1]) < float(skew[1]) and float(smoothed[3, 1]) < float(kurt[1])


def test_image_density_flags_a_small_defect_the_good_textures_never_have_and_leaves_scores_until_fitted():
    """Good images are one texture; a defective one is the same texture with a 2x2 patch far out in one channel.
    Held-out good images score about zero (the distance is a z-score over them); the defective image scores far
    above every good one, whatever its map score."""
    rng = torch.Generator().manual_seed(0)
    density = ImageDensity((2, 4))
    defect = _texture(1, rng)
    defect[-1][0, 2, 4:6, 4:6] += 6.0
    map_score = torch.tensor([3.0])
    assert torch.equal(density.combine(map_score, density.descriptors(defect)), map_score)

    good_maps = 3.0 + 0.5 * torch.randn(40, generator=rng)
    density.fit(density.descriptors(_texture(300, rng)), good_maps)
    assert density.is_fitted
    good = _texture(200, rng)
    on_good = density.distance(density.descriptors(good))
    assert abs(float(on_good.mean())) < 0.5 and 0.5 < float(on_good.std()) < 2.0
    flagged = density.distance(density.descriptors(defect))
    assert float(flagged) > float(on_good.max()) + 3
    # in log terms the image term adds to the map's log-score, in units of the good map log-scores' spread
    pair = [torch.cat([g[:1], d]) for g, d in zip(good, defect)]  # a good image and the defective one
    combined = density.combine(torch.tensor([3.0, 3.0]), density.descriptors(pair))
    sigma = float(good_maps.log().std())
    assert density.norm[0] == pytest.approx(sigma, rel=1e-4) and density.weight == density.max_weight
    expected = density.weight * sigma * float(flagged - on_good[0])
    assert float((combined[1] / combined[0]).log()) == pytest.approx(expected, rel=1e-3)
    assert float(combined[1]) > 3.0 * 10


def test_image_density_weighs_in_only_with_enough_good_images():
    """With few good images per descriptor value the Gaussian learns the images (and their session) more than the
    part: below :attr:`ImageDensity.min_ratio` fit images per value the term is left out, from
    :attr:`ImageDensity.full_ratio` it weighs :attr:`ImageDensity.max_weight`, linearly in between."""
    rng = torch.Generator().manual_seed(2)
    d = descriptor_size(8)  # 64
    weights = {}
    for n in (20, 40, 200):  # 16, 32 and 160 fit images (a fifth is held out)
        density = ImageDensity((8,))
        density.fit(torch.randn(n, d, generator=rng), torch.randn(10, generator=rng))
        weights[n] = density.weight
    assert weights[20] == 0.0
    left_out = ImageDensity((8,))
    left_out.fit(torch.randn(20, d, generator=rng), torch.rand(10, generator=rng) + 1)
    scores = torch.rand(4, generator=rng)
    assert torch.equal(left_out.combine(scores, torch.randn(4, d, generator=rng) * 10), scores)
    assert weights[40] == pytest.approx(
        density.max_weight * (32 / d - density.min_ratio) / (density.full_ratio - density.min_ratio)
    )
    assert 0 < weights[40] < weights[200] == density.max_weight
    with pytest.raises(ValueError, match="three good images"):
        ImageDensity((8,)).fit(torch.randn(2, d), torch.randn(10))


def test_image_density_round_trips_fitted_and_unfitted():
    """A fitted density loads into a fresh one with the saved size and scores the same; an unfitted one keeps
    empty buffers (a mode that was never calibrated costs nothing on disk) and loads as unfitted."""
    rng = torch.Generator().manual_seed(3)
    density = ImageDensity((2, 4))
    density.fit(density.descriptors(_texture(100, rng)), torch.rand(20, generator=rng))
    fresh = ImageDensity((2, 4))
    fresh.load_state_dict(density.state_dict())
    probe = density.descriptors(_texture(5, rng))
    assert fresh.is_fitted and torch.equal(fresh.distance(probe), density.distance(probe))
    scores = torch.rand(5, generator=rng)
    assert torch.equal(fresh.combine(scores, probe), density.combine(scores, probe))

    empty = ImageDensity((2, 4)).state_dict()
    assert empty["mean"].numel() == 0 and empty["precision"].numel() == 0
    again = ImageDensity((2, 4))
    again.load_state_dict(empty)
    assert not again.is_fitted and torch.equal(again.combine(scores, probe), scores)


def test_the_good_images_a_category_needs_match_what_training_fits():
    """``image_density_needs`` (shown to the operator after training) is where the weight of a density fitted as
    training fits it changes: the calibration holds some images out, the density a fifth of the rest."""
    from core.training import _calibration_holdout, image_density_needs, preset

    cfg = preset("default")
    some, full = image_density_needs(cfg, 112)
    assert 400 < some < full < 1000
    d = descriptor_size(112)
    rng = torch.Generator().manual_seed(4)

    def weight(good_images: int) -> float:
        density = ImageDensity((112,))
        train = good_images - _calibration_holdout(good_images, cfg)
        density.fit(torch.randn(train, d, generator=rng), torch.rand(10, generator=rng) + 1)
        return density.weight

    assert weight(some - 1) == 0.0 < weight(some)
    assert weight(full - 1) < weight(full) == ImageDensity.max_weight
    assert image_density_needs(preset("default", image_density_images=300), 112) == (None, None)
