"""Each network part on its own: shapes, no NaNs, and the behaviour it exists for."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.model.aff import AdaptiveFeatureFusion
from core.model.anomaly_map import (
    AnomalyMapGenerator,
    PositionBaseline,
    ResidualWhitening,
    gaussian_kernel1d,
    unit_residuals,
)
from core.model.decoder import ContextReconstructionDecoder, RingConv2d
from core.model.density import FeatureDensity, Mixture, fewest_within_one_error, mahalanobis_sq, shrunk_precision
from core.model.ife import IlluminationEstimator, IlluminationModulation
from core.model.lfe import LowPassFeatureEnhancement
from core.model.loss import reconstruction_loss
from core.model.net import LowLightAnomalyNet, NetConfig


def _high_freq_energy(x: torch.Tensor) -> float:
    spec = torch.fft.rfft2(x).abs() ** 2
    h, w = x.shape[-2:]
    fy = torch.fft.fftfreq(h).abs()[:, None] * 2
    fx = torch.fft.rfftfreq(w)[None, :] * 2
    return float(spec[..., torch.sqrt(fy**2 + fx**2) > 0.6].sum())


def test_lfe_removes_high_frequency_noise_and_keeps_structure():
    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    clean = torch.stack([torch.sin(2 * np.pi * (k + 1) * xx) * torch.cos(2 * np.pi * yy) for k in range(8)])[None]
    noisy = clean + 0.5 * torch.randn_like(clean)
    lfe = LowPassFeatureEnhancement(8, init_cutoff=0.4).eval()
    with torch.no_grad():
        low = lfe.lowpass(noisy)
    assert low.shape == noisy.shape
    assert _high_freq_energy(low) < 0.05 * _high_freq_energy(noisy)
    # closer to the clean map than the noisy input was
    assert (low - clean).pow(2).mean() < 0.4 * (noisy - clean).pow(2).mean()


def test_lfe_cutoff_is_learnt():
    lfe = LowPassFeatureEnhancement(4, init_cutoff=0.3)
    out = lfe(torch.randn(2, 4, 16, 16)).pow(2).mean()
    out.backward()
    assert lfe.cutoff_logit.grad is not None and lfe.cutoff_logit.grad.abs() > 0
    assert abs(float(lfe.cutoff.detach()) - 0.3) < 1e-5


def test_lfe_mask_passes_low_and_stops_high():
    lfe = LowPassFeatureEnhancement(1, init_cutoff=0.4)
    m = lfe.mask(32, 32, torch.device("cpu"), torch.float32)
    assert m[0, 0] > 0.99
    assert m[16, 16] < 0.01


def test_illumination_map_is_darker_where_the_image_is_darker():
    img = torch.full((1, 3, 64, 64), 0.6)
    img[..., :, :32] = 0.15  # left half in shadow
    est = IlluminationEstimator(stride=4)
    with torch.no_grad():
        L = est(img)
    assert L.shape == (1, 1, 16, 16)
    assert float(L.min()) > 0 and float(L.max()) <= 1
    assert L[..., :, :4].mean() < 0.5 * L[..., :, -4:].mean()


def test_illumination_map_follows_a_gradient():
    ramp = torch.linspace(0.05, 0.9, 64).view(1, 1, 1, 64).expand(1, 3, 64, 64)
    L = IlluminationEstimator()(ramp)[0, 0].mean(0)
    assert torch.all(L[1:] >= L[:-1] - 1e-6)


def test_illumination_modulation_starts_as_identity_plus_refinement_and_uses_the_map():
    mod = IlluminationModulation(8)
    f = torch.randn(2, 8, 16, 16)
    dark = torch.full((2, 1, 16, 16), 0.05)
    bright = torch.full((2, 1, 16, 16), 0.9)
    torch.nn.init.normal_(mod.to_gamma_beta.weight, std=0.5)  # as after training
    assert not torch.allclose(mod(f, dark), mod(f, bright))


def test_aff_weights_are_normalised_over_branches():
    aff = AdaptiveFeatureFusion(16)
    a, b = torch.randn(2, 16, 8, 8), torch.randn(2, 16, 8, 8)
    w = aff.weights(a, b)
    assert w.shape == (2, 2, 16, 8, 8)
    assert torch.all(w >= 0)
    assert torch.allclose(w.sum(1), torch.ones(2, 16, 8, 8), atol=1e-6)
    assert aff(a, b).shape == a.shape


def test_aff_prefers_the_branch_its_attention_points_at():
    aff = AdaptiveFeatureFusion(4)
    with torch.no_grad():
        aff.channel_mlp[-1].weight.zero_()
        aff.channel_mlp[-1].bias.copy_(torch.tensor([5.0] * 4 + [-5.0] * 4))  # branch a for every channel
        w = aff.weights(torch.randn(1, 4, 4, 4), torch.randn(1, 4, 4, 4))
    assert float(w[:, 0].mean()) > 0.95


@pytest.mark.parametrize("size", [64, 128, 256])
def test_net_shapes_and_finite_outputs(size):
    net = LowLightAnomalyNet(NetConfig(reduce=32, hidden=48, code=16)).eval()
    feats = [torch.randn(2, c, size // s, size // s) for c, s in zip((24, 40, 112), (4, 8, 16))]
    img = torch.rand(2, 3, size, size)
    out = net(feats, img)
    grid = (size // 8, size // 8)
    assert [tuple(r.shape) for r in out.reconstruction] == [(2, c, *grid) for c in (24, 40, 112)]
    assert [t.shape for t in net.align_targets(feats, img)] == [r.shape for r in out.reconstruction]
    assert out.illumination.shape == (2, 1, size // 4, size // 4)
    assert all(torch.isfinite(r).all() for r in out.reconstruction)


def test_net_output_is_the_same_kind_in_train_and_eval():
    net = LowLightAnomalyNet(NetConfig(reduce=32, hidden=48, code=16))
    feats = [torch.randn(2, c, 64 // s, 64 // s) for c, s in zip((24, 40, 112), (4, 8, 16))]
    img = torch.rand(2, 3, 64, 64)
    a = net.train()(feats, img)
    b = net.eval()(feats, img)
    assert type(a) is type(b) and len(a.reconstruction) == len(b.reconstruction)


def test_context_decoder_never_sees_the_position_it_reconstructs():
    """Changing the input at one grid cell must not change the reconstruction at that cell (blind spot)."""
    torch.manual_seed(0)
    dec = ContextReconstructionDecoder((8, 8), reduce=8, hidden=16, code=4).eval()
    a = [torch.randn(1, 8, 16, 16), torch.randn(1, 8, 16, 16)]
    b = [t.clone() for t in a]
    for t in b:
        t[..., 8, 8] += 10.0
    ra, rb = dec(a, (16, 16)), dec(b, (16, 16))
    for x, y in zip(ra, rb):
        assert torch.allclose(x[..., 8, 8], y[..., 8, 8], atol=1e-5)
        assert not torch.allclose(x[..., 8, 12], y[..., 8, 12])  # 4 cells away it is context


@pytest.mark.parametrize("kernel,dilation", [(5, 2), (3, 1), (7, 1)])
def test_ring_convolution_is_the_masked_square_convolution(kernel, dilation):
    """Run as two convolutions over the ring's taps, it gives what the square kernel with its centre masked gives,
    channels-last too, and the masked taps get no gradient."""
    torch.manual_seed(0)
    ring = RingConv2d(6, 5, kernel=kernel, dilation=dilation, hole=kernel - 2)
    outer = torch.zeros(kernel, kernel, dtype=torch.bool)
    outer[[0, -1], :] = outer[:, [0, -1]] = True
    x = torch.randn(2, 6, 19, 14)
    square = F.conv2d(x, ring.weight * outer, None, 1, ring.padding, ring.dilation)
    assert torch.allclose(ring(x), square, atol=1e-5)
    assert torch.allclose(ring(x.contiguous(memory_format=torch.channels_last)), square, atol=1e-5)
    ring(x).square().sum().backward()
    assert ring.weight.grad[..., ~outer].abs().max() == 0
    assert ring.weight.grad[..., outer].abs().min() > 0


def test_ring_convolution_refuses_a_ring_it_cannot_run():
    with pytest.raises(ValueError, match="one tap wide"):
        RingConv2d(4, 4, kernel=7, hole=3)


def test_default_net_fits_the_20_mb_budget():
    assert LowLightAnomalyNet().num_parameters() * 4 <= 20e6


def test_anomaly_map_is_zero_for_identical_features_and_peaks_at_a_difference():
    gen = AnomalyMapGenerator(sigma=2.0)
    t = [torch.randn(1, 8, 16, 16), torch.randn(1, 12, 16, 16)]  # every scale on the reconstruction's grid
    m, s = gen(t, t, (64, 64))
    assert m.shape == (1, 1, 64, 64) and float(m.abs().max()) < 1e-4
    r = [x.clone() for x in t]
    r[0][..., 4, 12] = -r[0][..., 4, 12]
    m2, s2 = gen(r, t, (64, 64))
    peak = np.unravel_index(int(m2.argmax()), (64, 64))
    assert abs(peak[0] - 18) <= 4 and abs(peak[1] - 50) <= 4
    assert float(s2) > float(s)


def test_map_smoothed_at_quarter_size_matches_smoothing_at_full_size():
    """The generator smooths and scores at stride 4; doing it at full size, the slow way, gives the same map and
    score within interpolation."""
    rng = torch.Generator().manual_seed(1)
    r = [torch.randn(2, 16, 32, 32, generator=rng)]
    t = [x + 0.3 * torch.randn(x.shape, generator=rng) for x in r]
    t[0][0, :, 10:13, 20:22] = torch.randn(16, 3, 2, generator=rng)  # a defect
    gen = AnomalyMapGenerator(sigma=4.0)
    m, s = gen(r, t, (256, 256))
    d = F.interpolate((1 - F.cosine_similarity(r[0], t[0], dim=1)).unsqueeze(1), size=(256, 256), mode="bilinear")
    k = gaussian_kernel1d(4.0)
    slow = F.conv2d(F.conv2d(F.pad(d, (12, 12, 12, 12), mode="reflect"), k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))
    assert m.shape == slow.shape
    assert float(torch.corrcoef(torch.stack([m.flatten(), slow.flatten()]))[0, 1]) > 0.99
    assert torch.allclose(s, gen.score(slow), rtol=0.05)
    assert int(m[0, 0].argmax()) // 256 in range(80, 104)


def test_position_baseline_discounts_places_that_are_always_hard():
    """Good images err a lot along the top row and little elsewhere. Raw, a small defect inside scores like any
    good image (the hard row fills the top of the map); normalised per position, it stands out."""
    rng = torch.Generator().manual_seed(0)
    good = 0.1 + 0.02 * torch.rand(201, 2, 16, 16, generator=rng)
    good[..., 0, :] += 0.5  # the top row is always badly reconstructed
    base = PositionBaseline(2, 16)
    assert torch.equal(base(good[:1]), good[:1])  # identity until fitted
    base.fit(good[1:])
    gen = AnomalyMapGenerator(sigma=1.0)
    ok = good[:1]
    defect = ok.clone()
    defect[..., 8, 8] += 0.05

    def score(d):
        return float(gen.score(F.interpolate(d.mean(1, keepdim=True), size=(64, 64))))

    assert score(defect) < 1.1 * score(ok)  # raw: no better than chance
    assert base(defect).shape == defect.shape
    assert score(base(defect)) > 2 * score(base(ok))  # normalised: the defect wins
    with pytest.raises(ValueError):
        base.fit(torch.rand(4, 3, 16, 16))


def test_unfitted_whitening_is_the_cosine_distance():
    r = [torch.randn(2, 8, 6, 6), torch.randn(2, 12, 6, 6)]
    t = [torch.randn(2, 8, 6, 6), torch.randn(2, 12, 6, 6)]
    d = ResidualWhitening((8, 12))(unit_residuals(r, t))
    cos = torch.stack([1 - F.cosine_similarity(a, b, dim=1) for a, b in zip(r, t)], 1)
    assert torch.allclose(d, cos, atol=1e-5)


def test_whitening_discounts_channels_that_always_vary_on_good_parts():
    """On good parts channel 0 of the residual is always large (noise the enhancement leaves), the others small.
    A defect that moves the quiet channels less than the noise moves channel 0 is lost in the cosine distance;
    after whitening it stands out (good residuals measure at most about 1)."""
    rng = torch.Generator().manual_seed(0)

    def residuals(n):
        e = 0.02 * torch.randn(n, 6, 8, 8, generator=rng)
        e[:, 0] = 0.5 * torch.randn(n, 8, 8, generator=rng)
        return [e]

    white = ResidualWhitening((6,))
    white.fit(residuals(64))
    good, defect = residuals(1), residuals(1)
    defect[0][0, 1:, 4, 4] += 0.25
    cos_good, cos_defect = ResidualWhitening((6,))(good), ResidualWhitening((6,))(defect)
    assert float(cos_defect[0, 0, 4, 4]) < float(cos_good.max()) * 1.5  # lost among the noise
    w_good, w_defect = white(good), white(defect)
    assert float(w_good.mean()) < 1.5
    assert float(w_defect[0, 0, 4, 4]) > 10 * float(w_good.max())
    with pytest.raises(ValueError, match="too few"):
        ResidualWhitening((6,)).fit([torch.randn(1, 6, 2, 2)])


def test_loss_is_zero_for_perfect_reconstruction_and_positive_otherwise():
    t = [torch.randn(2, 8, 8, 8)]
    assert float(reconstruction_loss(t, t)) < 1e-5
    assert float(reconstruction_loss([torch.randn(2, 8, 8, 8)], t)) > 0.1


def test_shrunk_precision_inverts_the_covariance_and_needs_two_samples():
    rng = torch.Generator().manual_seed(0)
    z = torch.randn(5000, 4, generator=rng) @ torch.tensor([[2.0, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0.5, 0], [0, 0, 0, 3]])
    mean, precision = shrunk_precision(z, 0.0)
    assert torch.allclose(mean, z.mean(0), atol=1e-5)
    assert torch.allclose(precision @ torch.cov(z.T), torch.eye(4), atol=1e-3)
    assert float(mahalanobis_sq(z.mean(0, keepdim=True), mean, precision)) == pytest.approx(0.0, abs=1e-6)
    _, shrunk = shrunk_precision(z, 1.0)  # shrinkage pulls every direction's variance up: distances fall
    far = torch.tensor([[0.0, 0.0, 5.0, 0.0]])
    assert float(mahalanobis_sq(far, mean, shrunk)) < float(mahalanobis_sq(far, mean, precision))
    with pytest.raises(ValueError, match="two samples"):
        shrunk_precision(torch.randn(1, 4), 0.01)


def test_feature_density_flags_a_uniform_patch_whose_features_good_parts_never_have():
    """Good parts: channels 0 and 1 of the coarsest scale always move in opposite directions. A 6x6 patch where
    they move together, uniform within itself (what a context decoder predicts from its surroundings), gets
    the same reconstruction discrepancy as everything else; the density term makes it stand out. On good parts
    the term averages about zero, and until fitted the map is left unchanged."""
    rng = torch.Generator().manual_seed(0)

    def targets(n):
        a = torch.randn(n, 1, 16, 16, generator=rng)
        coarse = torch.cat([a, -a + 0.1 * torch.randn(n, 1, 16, 16, generator=rng)], 1)
        coarse = torch.cat([coarse, 0.3 * torch.randn(n, 6, 16, 16, generator=rng)], 1)
        return [torch.randn(n, 4, 16, 16, generator=rng), coarse]

    density = FeatureDensity((4, 8))
    disc = 0.5 + 0.1 * torch.rand(1, 1, 16, 16, generator=rng)
    defect = targets(1)
    defect[1][0, :2, 5:11, 5:11] = 1.0  # both up together: never seen on a good part
    assert torch.equal(density.combine(disc, defect), disc)

    good_disc = 0.5 + 0.1 * torch.rand(60, 1, 16, 16, generator=rng)
    density.fit(density.descriptors(targets(60)), good_disc)
    assert density.is_fitted
    on_good = density.combine(good_disc[:20], targets(20)) - good_disc[:20] / density.norm[0]
    assert abs(float(on_good.mean())) < 0.3
    combined = density.combine(disc, defect)
    inside = float(combined[0, 0, 7:9, 7:9].min())
    outside = combined[0, 0].clone()
    outside[3:13, 3:13] = float("-inf")
    assert inside > float(outside.max()) + 2.0


def _clusters(n_per: int, generator: torch.Generator) -> torch.Tensor:
    """(3 * n_per, 6) rows from three tight, far-apart clusters: three textures of one good surface."""
    centres = torch.tensor([[4.0, 0, 0, 0, 0, 0], [-4.0, 0, 0, 0, 0, 0], [0, 4.0, 0, 0, 0, 0]])
    return torch.cat([c + 0.3 * torch.randn(n_per, 6, generator=generator) for c in centres])


def test_feature_density_picks_its_components_by_held_out_likelihood():
    """Three textures: the mixture finds several components, and a descriptor between them (near the one
    Gaussian's mean, so ordinary to that Gaussian) is far from every good texture. From one texture only, one
    component is chosen: extra ones would only fit noise."""
    rng = torch.Generator().manual_seed(0)
    several = _clusters(2000, rng)[torch.randperm(6000, generator=rng)].view(60, 10, 10, 6)  # 60 images
    disc = torch.rand(60, 1, 10, 10, generator=rng)
    mixture = FeatureDensity((6,))
    mixture.fit(several, disc)
    assert mixture.components >= 3
    single = FeatureDensity((6,))
    single.max_components = 1
    single.fit(several, disc)
    assert single.components == 1
    between = torch.tensor([0.0, 1.3, 0, 0, 0, 0]).view(1, 1, 1, 6)  # the average of the three textures
    on_texture = torch.tensor([4.0, 0.2, 0, 0, 0, 0]).view(1, 1, 1, 6)
    d_mix = mixture._distance(torch.cat([between, on_texture]), (1, 1)).flatten()
    d_one = single._distance(torch.cat([between, on_texture]), (1, 1)).flatten()
    assert float(d_mix[0]) > 5 * float(d_mix[1])  # the mixture: the in-between descriptor is the odd one
    assert float(d_one[0]) < float(d_one[1])  # one Gaussian: it looks more ordinary than a real texture
    one_texture = 0.3 * torch.randn(60, 10, 10, 6, generator=rng)
    plain = FeatureDensity((6,))
    plain.fit(one_texture, disc)
    assert plain.components == 1


def test_feature_density_keeps_the_fewest_components_within_one_standard_error_of_the_best():
    """A gain in held-out likelihood smaller than its standard error over the held-out images does not buy more
    components; a clear gain does, and a best mixture before the largest is found, not the largest."""
    rng = torch.Generator().manual_seed(0)

    def images(mean: float, spread: float) -> torch.Tensor:  # ten held-out images' negative log-likelihoods
        return mean + spread * torch.randn(10, generator=rng, dtype=torch.float64)

    assert fewest_within_one_error([(images(1.2, 0.01), "k1"), (images(1.0, 0.01), "k2")]) == "k2"
    noisy = [(images(1.2, 0.01), "k1"), (images(1.05, 0.1), "k2"), (images(1.02, 0.1), "k4")]
    assert fewest_within_one_error(noisy) == "k2"  # 1.02 + about 0.03 takes in 1.05, not 1.2
    overfit = [(images(1.2, 0.01), "k1"), (images(1.0, 0.01), "k2"), (images(1.1, 0.01), "k4")]
    assert fewest_within_one_error(overfit) == "k2"
    assert fewest_within_one_error([(torch.tensor([0.5]), "only")]) == "only"


def test_mixture_likelihood_per_image_averages_to_the_pooled_rows():
    rng = torch.Generator().manual_seed(1)
    rows = _clusters(200, rng)
    mixture = Mixture.fit(rows, 3, 0.01, rng, 10)
    per_image = mixture.neg_log_likelihood(rows.view(6, 100, 6))
    assert per_image.shape == (6,)
    assert torch.allclose(per_image.mean(), mixture.neg_log_likelihood(rows), atol=1e-9)
    assert float(per_image.std()) > 0


def test_feature_density_round_trips_its_mixture_and_reads_a_single_gaussian_saved_before():
    """The number of components is the saved one; a format-4 density (one Gaussian as ``mean``/``precision``,
    descriptors on every cell) loads as a mixture of one that measures exactly what it measured."""
    rng = torch.Generator().manual_seed(1)
    density = FeatureDensity((6,))
    descriptors = _clusters(2000, rng)[torch.randperm(6000, generator=rng)].view(60, 10, 10, 6)
    density.fit(descriptors, torch.rand(60, 1, 10, 10))
    fresh = FeatureDensity((6,))
    fresh.load_state_dict(density.state_dict())
    targets = [torch.randn(2, 6, 12, 12, generator=rng)]
    assert fresh.components == density.components > 1
    assert torch.equal(fresh.distance(targets), density.distance(targets))

    z = torch.randn(500, 6, generator=rng)
    mean, precision = shrunk_precision(z, 0.01)
    old_state = {"fitted": torch.ones(()), "mean": mean, "precision": precision, "norm": torch.tensor([1.0, 2.0, 3.0])}
    old = FeatureDensity((6,))
    old.load_state_dict(old_state)
    assert old.components == 1 and int(old.cell_step) == 1 and old.is_fitted
    every_cell = F.avg_pool2d(targets[-1], 3, 1, 1, count_include_pad=False).permute(0, 2, 3, 1)
    expected = mahalanobis_sq(every_cell, mean, precision).clamp_min(0).sqrt().unsqueeze(1)
    assert torch.allclose(old.distance(targets), expected, atol=1e-5)
