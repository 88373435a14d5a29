"""The image density on its own: its descriptor, what it flags, its weight, and its state on disk."""

from __future__ import annotations

import math

import pytest
import torch

from core.model.image_density import (
    MAX_FACTOR,
    RANK,
    ImageDensity,
    _pack,
    _unpack,
    channel_moments,
    principal_directions,
    texture_descriptor,
)


def _texture(n: int, generator: torch.Generator, channels: int = 6, size: int = 12) -> list[torch.Tensor]:
    """Encoder-like maps per scale (shallow first): a random texture whose channel 1 follows channel 0."""
    base = torch.randn(n, channels, size, size, generator=generator)
    base[:, 1] = 0.8 * base[:, 0] + 0.3 * base[:, 1]
    return [torch.randn(n, 2, 2 * size, 2 * size, generator=generator), base]


def test_texture_descriptor_holds_channel_correlations_and_spreads():
    """Channel 1 is an affine copy of channel 0 (correlation 1, twice the spread), channel 2 its negative (-1),
    channel 3 is unrelated noise; the moments hold each channel's mean and the channels' covariance."""
    rng = torch.Generator().manual_seed(0)
    a = torch.randn(1, 1, 8, 8, generator=rng)
    f = torch.cat([a, 2 * a + 1, -a, torch.randn(1, 1, 8, 8, generator=rng)], 1)
    m = channel_moments(f)
    assert m.shape == (1, 4 + 16)
    assert float(m[0, 1]) == pytest.approx(2 * float(a.mean()) + 1, abs=1e-5)
    d = texture_descriptor(m, torch.eye(4))
    assert d.shape == (1, 6 + 4)  # the upper triangle of 4 x 4, then 4 log spreads
    c01, c02, c03, c12 = (float(d[0, i]) for i in (0, 1, 2, 3))
    assert c01 == pytest.approx(1, abs=1e-4) and c02 == pytest.approx(-1, abs=1e-4)
    assert c12 == pytest.approx(-1, abs=1e-4) and abs(c03) < 0.5
    log_sd = d[0, 6:]
    assert float(log_sd[1] - log_sd[0]) == pytest.approx(float(torch.log(torch.tensor(2.0))), abs=1e-4)
    assert float(log_sd[2]) == pytest.approx(float(log_sd[0]), abs=1e-5)


def test_principal_directions_span_where_good_features_vary():
    """Features that vary only in the plane of channels 0 and 1 (plus a little noise): the two leading directions
    lie in that plane; there are never more directions than channels."""
    rng = torch.Generator().manual_seed(1)
    f = 0.01 * torch.randn(20, 5, 6, 6, generator=rng)
    f[:, 0] += torch.randn(20, 6, 6, generator=rng)
    f[:, 1] += 3 * torch.randn(20, 6, 6, generator=rng)
    p = principal_directions(channel_moments(f), 2)
    assert p.shape == (5, 2)
    assert float(p[:2].pow(2).sum()) == pytest.approx(2.0, abs=1e-3)
    assert abs(float(p[1, 0])) == pytest.approx(1.0, abs=1e-3)  # the widest first
    assert principal_directions(channel_moments(f), RANK).shape == (5, 5)


def test_image_density_flags_a_texture_whose_channels_do_not_vary_together_as_good_ones_do():
    """In good images channel 1 follows channel 0; in the defective one it does not over a third of the image (a
    band of a different finish, as bright and as varied as the rest). Held-out good images score about zero (the
    distance is a z-score over them); the defective image far above every good one."""
    rng = torch.Generator().manual_seed(0)
    density = ImageDensity()
    defect = _texture(1, rng)
    defect[-1][0, 1, :4] = torch.randn(4, 12, generator=rng)  # same spread, no longer following channel 0
    map_score = torch.tensor([3.0])
    assert torch.equal(density.combine(map_score, density.summaries(defect)), map_score)

    good_maps = 3.0 + 0.5 * torch.randn(40, generator=rng)
    density.fit(density.summaries(_texture(800, rng)), good_maps)
    assert density.is_fitted and density.weight == density.max_weight  # 640 images fitted on
    good = _texture(200, rng)
    on_good = density.distance(density.summaries(good))
    assert abs(float(on_good.mean())) < 0.5 and 0.5 < float(on_good.std()) < 2.0
    flagged = density.distance(density.summaries(defect))
    assert float(flagged) > float(on_good.max()) + 3
    # in log terms the image term adds to the map's log-score, in units of the good map log-scores' spread
    pair = [torch.cat([g[:1], d]) for g, d in zip(good, defect)]  # a good image and the defective one
    combined = density.combine(torch.tensor([3.0, 3.0]), density.summaries(pair))
    sigma = float(good_maps.log().std())
    assert float(density.norm[0]) == pytest.approx(sigma, rel=1e-4)
    cap = math.log(MAX_FACTOR)  # the log factor is soft-capped: cap * tanh(x / cap)
    good_x, defect_x = (density.weight * sigma * float(z) for z in (on_good[0], flagged))
    expected = cap * (math.tanh(defect_x / cap) - math.tanh(good_x / cap))
    assert float((combined[1] / combined[0]).log()) == pytest.approx(expected, rel=1e-3)
    # a frame unlike any part (here: loud noise in every channel) is far above, but at most MAX_FACTOR times the
    # map's score, so a covered lens does not score 1e10
    wild = [torch.randn(1, 2, 24, 24, generator=rng), 50 * torch.randn(1, 6, 12, 12, generator=rng)]
    assert float(density.distance(density.summaries(wild))) > 100
    assert float(density.combine(map_score, density.summaries(wild))) == pytest.approx(3.0 * MAX_FACTOR, rel=0.05)


def test_image_density_weighs_in_only_with_enough_good_images():
    """Fitted on few good images the Gaussian learns those images (and their session) more than the part: below
    :attr:`ImageDensity.min_fit_images` images fitted on the term is left out, from
    :attr:`ImageDensity.full_fit_images` it weighs :attr:`ImageDensity.max_weight`, linearly in between; with
    weight 0 the score is the map's."""
    lo, hi = ImageDensity.min_fit_images, ImageDensity.full_fit_images
    held = ImageDensity._held_out
    assert ImageDensity.weight_for(30) == 0.0
    n_mid = next(n for n in range(lo, 2 * hi) if n - held(n) == (lo + hi) // 2)
    assert ImageDensity.weight_for(n_mid) == pytest.approx(ImageDensity.max_weight / 2, abs=0.02)
    n_full = next(n for n in range(lo, 2 * hi) if n - held(n) >= hi)
    assert ImageDensity.weight_for(n_full - 1) < ImageDensity.weight_for(n_full) == ImageDensity.max_weight

    rng = torch.Generator().manual_seed(2)
    few = ImageDensity()
    few.fit(few.summaries(_texture(30, rng)), torch.rand(10, generator=rng) + 1)
    assert few.is_fitted and few.weight == 0.0
    scores = torch.rand(4, generator=rng)
    odd = _texture(4, rng)
    odd[-1] *= torch.linspace(0, 5, 6).view(1, 6, 1, 1)
    assert torch.equal(few.combine(scores, few.summaries(odd)), scores)
    with pytest.raises(ValueError, match="three good images"):
        ImageDensity().fit(few.summaries(_texture(2, rng)), torch.rand(10))


def test_variants_of_the_fit_images_widen_what_counts_as_good():
    """Fitted with each good image also as a variant (here: every channel varying 1.6 times as much, as a
    brighter exposure makes a texture), a good image so varied is near the good ones; fitted without, it is far.
    The variants are fitted on, not held out: the z-score is still over the held-out originals. Variants must have
    one row per image."""
    rng = torch.Generator().manual_seed(5)
    good = _texture(300, rng)
    brighter = [1.6 * f for f in good]
    plain, widened = ImageDensity(), ImageDensity()
    maps = torch.rand(20, generator=rng) + 1
    plain.fit(plain.summaries(good), maps)
    widened.fit(widened.summaries(good), maps, variants=[widened.summaries(brighter)])
    probe = _texture(40, rng)
    bright_probe = widened.summaries([1.6 * f for f in probe])
    assert float(plain.distance(bright_probe).mean()) > 3
    assert float(widened.distance(bright_probe).mean()) < 1
    on_good = widened.distance(widened.summaries(probe))
    assert abs(float(on_good.mean())) < 0.5  # still a z-score over good images as they were taken
    with pytest.raises(ValueError, match="one row per good image"):
        widened.fit(widened.summaries(good), maps, variants=[widened.summaries(brighter)[:-1]])


def test_image_density_round_trips_fitted_and_unfitted():
    """Only the upper triangle of the precision is saved, and a fresh density loaded from it scores the same;
    an unfitted one keeps empty buffers (a mode never calibrated costs nothing on disk) and loads as unfitted."""
    rng = torch.Generator().manual_seed(3)
    m = torch.randn(7, 7, generator=rng)
    assert torch.equal(_unpack(_pack(m + m.T)), m + m.T)

    density = ImageDensity()
    density.fit(density.summaries(_texture(100, rng)), torch.rand(20, generator=rng) + 1)
    density.norm[3] = 1.0  # weigh in, whatever the number of images
    state = density.state_dict()
    # 6 channels: 15 correlations and 6 spreads, a 21 x 21 precision saved as its upper triangle
    assert "precision" not in state and state["packed_precision"].numel() == 21 * 22 // 2
    fresh = ImageDensity()
    fresh.load_state_dict(state)
    probe = density.summaries(_texture(5, rng))
    assert fresh.is_fitted and torch.allclose(fresh.distance(probe), density.distance(probe))
    scores = torch.rand(5, generator=rng) + 1
    assert torch.allclose(fresh.combine(scores, probe), density.combine(scores, probe))
    assert not torch.allclose(fresh.combine(scores, probe), scores)

    empty = ImageDensity().state_dict()
    assert all(empty[k].numel() == 0 for k in ("projection", "mean", "packed_precision"))
    again = ImageDensity()
    again.load_state_dict(empty)
    assert not again.is_fitted and torch.equal(again.combine(scores, probe), scores)


def test_the_good_images_a_category_needs_match_what_training_fits():
    """``image_density_needs`` (shown to the operator after training) is where the weight of a density fitted as
    training fits it changes: the calibration holds some images out, the density a fifth of the rest."""
    from core.train_setup import calibration_holdout
    from core.training import image_density_needs, preset

    cfg = preset("default")
    some, full = image_density_needs(cfg)
    assert 400 < some < full < 1000

    def weight(good_images: int) -> float:
        return ImageDensity.weight_for(good_images - calibration_holdout(good_images, cfg))

    assert weight(some - 1) == 0.0 < weight(some)
    assert weight(full - 1) < weight(full) == ImageDensity.max_weight
    assert image_density_needs(preset("default", image_density_images=300)) == (None, None)
