"""Low-light synthesis and enhancement: reproducibility, exposure, noise model, illumination field, inverse."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data as skdata
from skimage.metrics import structural_similarity

from core.data.lowlight import (
    _enhance,
    enhance_lowlight,
    estimate_illumination,
    illumination_field,
    is_monochrome,
    linear_to_srgb,
    linear_to_srgb8,
    srgb8_to_linear,
    srgb_to_linear,
    synthesize_lowlight,
)


def _linear(image: np.ndarray) -> np.ndarray:
    return srgb_to_linear(image.astype(np.float64) / 255.0)


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64).ravel(), b.astype(np.float64).ravel())[0, 1])


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    image = skdata.coffee()
    return cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    image = skdata.chelsea()
    return cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)


def _flat_gray(value: int = 128, shape: tuple[int, int] = (160, 200)) -> np.ndarray:
    return np.full((*shape, 3), value, np.uint8)


# --- synthesis ----------------------------------------------------------------------------------------------


def test_gamma_round_trip() -> None:
    x = np.linspace(0, 1, 257)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-6)
    assert srgb_to_linear(np.array(0.5)) == pytest.approx(0.214, abs=1e-3)


def test_8_bit_tables_match_the_power_laws() -> None:
    levels = np.arange(256, dtype=np.uint8)
    np.testing.assert_allclose(srgb8_to_linear(levels), srgb_to_linear(levels / 255.0), atol=1e-6)
    assert np.array_equal(linear_to_srgb8(srgb8_to_linear(levels)), levels)  # every level survives the round trip
    x = np.random.default_rng(0).random(100_000) ** 3
    exact = np.round(linear_to_srgb(x) * 255.0)
    off = np.abs(linear_to_srgb8(x).astype(float) - exact)
    assert off.max() <= 1 and off.mean() < 0.01
    assert linear_to_srgb8(np.array([-0.5, 2.0])).tolist() == [0, 255]


def test_same_seed_same_output_different_seed_different(coffee: np.ndarray) -> None:
    a, pa = synthesize_lowlight(coffee, 0.7, seed=11)
    b, pb = synthesize_lowlight(coffee, 0.7, seed=11)
    c, pc = synthesize_lowlight(coffee, 0.7, seed=12)
    np.testing.assert_array_equal(a, b)
    assert pa == pb and pa.seed == 11
    assert not np.array_equal(a, c)
    assert pa.exposure != pc.exposure
    d, _ = synthesize_lowlight(coffee, 0.7, seed=np.random.default_rng(11))
    np.testing.assert_array_equal(a, d)  # a Generator seeded alike gives the same draws


def test_strength_zero_returns_the_input_unchanged(coffee: np.ndarray) -> None:
    out, params = synthesize_lowlight(coffee, 0.0, seed=1)
    np.testing.assert_array_equal(out, coffee)
    assert out is not coffee
    assert params.exposure == 1.0 and params.read_noise == 0.0


@pytest.mark.parametrize("strength", [0.4, 0.7, 1.0])
def test_output_is_darker_by_about_the_exposure(strength: float) -> None:
    image = _flat_gray(128)
    low, params = synthesize_lowlight(image, strength, seed=3)
    assert low.dtype == np.uint8 and low.shape == image.shape
    nominal = 10 ** (-1.5 * strength)
    assert 0.85 * nominal <= params.exposure <= 1.15 * nominal
    ratio = _linear(low).mean() / _linear(image).mean()
    assert ratio == pytest.approx(params.exposure, rel=0.1)
    assert low.mean() < image.mean() * 0.75


def test_natural_image_is_darker_by_about_the_exposure(coffee: np.ndarray) -> None:
    low, params = synthesize_lowlight(coffee, 0.7, seed=3)
    ratio = _linear(low).mean() / _linear(coffee).mean()
    assert ratio == pytest.approx(params.exposure, rel=0.15)


def test_noise_is_signal_dependent_shot_noise() -> None:
    """On flat gray, the variance around the noise-free result grows with the local light, as Poisson noise."""
    image = _flat_gray(128)
    low, params = synthesize_lowlight(image, 0.7, seed=5, nonuniform=0.6, read_noise=0.0)
    # the same seed draws the same exposure and field; a huge full well makes its shot noise negligible
    clean, clean_params = synthesize_lowlight(image, 0.7, seed=5, nonuniform=0.6, full_well=1e9, read_noise=0.0)
    assert clean_params.exposure == params.exposure
    noisy_lin, clean_lin = _linear(low[:, :, 0]), _linear(clean[:, :, 0])
    lo, hi = np.quantile(clean_lin, [0.25, 0.75])
    stats = {}
    for region, mask in (("dark", clean_lin <= lo), ("bright", clean_lin >= hi)):
        residual = (noisy_lin - clean_lin)[mask]
        stats[region] = (residual.var(), clean_lin[mask].mean())
    (var_dark, mean_dark), (var_bright, mean_bright) = stats["dark"], stats["bright"]
    assert mean_bright > 1.3 * mean_dark
    assert var_bright > 1.2 * var_dark
    for var, mean in stats.values():  # Poisson: variance (in electrons) equals the mean, a Fano factor of 1
        assert var * params.full_well / mean == pytest.approx(1.0, abs=0.25)


def test_read_noise_adds_variance_in_the_dark() -> None:
    image = _flat_gray(30)
    quiet, _ = synthesize_lowlight(image, 0.8, seed=2, nonuniform=0.0, read_noise=0.0)
    loud, _ = synthesize_lowlight(image, 0.8, seed=2, nonuniform=0.0, read_noise=8.0)
    assert _linear(loud).std() > 1.3 * _linear(quiet).std()


def test_monochrome_input_gives_identical_channels(coffee: np.ndarray) -> None:
    mono = np.repeat(_gray(coffee)[:, :, None], 3, axis=2)
    low, _ = synthesize_lowlight(mono, 0.8, seed=4)
    np.testing.assert_array_equal(low[:, :, 0], low[:, :, 1])
    np.testing.assert_array_equal(low[:, :, 0], low[:, :, 2])
    colour, _ = synthesize_lowlight(coffee, 0.8, seed=4)
    assert not np.array_equal(colour[:, :, 0], colour[:, :, 1])


def test_synthesis_refuses_non_rgb8_input() -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        synthesize_lowlight(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        synthesize_lowlight(np.zeros((8, 8, 3), np.float32))


# --- illumination field -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_illumination_field_is_smooth_non_uniform_mean_one(seed: int) -> None:
    h, w, amplitude = 120, 160, 0.5
    field = illumination_field(h, w, np.random.default_rng(seed), amplitude)
    assert field.shape == (h, w) and field.dtype == np.float32
    assert field.mean() == pytest.approx(1.0, abs=0.05)
    assert np.abs(field - 1).max() == pytest.approx(amplitude, rel=0.01)  # swing is the amplitude
    assert field.max() - field.min() > amplitude
    # smooth: no pixel-to-pixel step is more than a few percent of the swing
    assert np.abs(np.diff(field, axis=0)).max() < 0.05 * amplitude * 2
    assert np.abs(np.diff(field, axis=1)).max() < 0.05 * amplitude * 2
    assert np.abs(np.diff(field, n=2, axis=1)).max() < 1e-3


def test_fields_of_other_sizes_and_edited_fields_do_not_change_the_next_field() -> None:
    first = illumination_field(120, 160, np.random.default_rng(5), 0.5)
    kept = first.copy()
    first += 1.0  # a caller may edit the field it was given
    illumination_field(60, 80, np.random.default_rng(6), 0.3)
    again = illumination_field(120, 160, np.random.default_rng(5), 0.5)
    np.testing.assert_array_equal(again, kept)
    assert not np.array_equal(again, illumination_field(120, 160, np.random.default_rng(7), 0.5))


def test_zero_amplitude_field_is_uniform() -> None:
    field = illumination_field(10, 12, np.random.default_rng(0), 0.0)
    np.testing.assert_array_equal(field, np.ones((10, 12), np.float32))


def test_synthesis_reports_the_field_it_applied() -> None:
    _, params = synthesize_lowlight(_flat_gray(), 0.5, seed=0, nonuniform=0.4)
    assert params.field_min == pytest.approx(0.6, abs=0.01) or params.field_max == pytest.approx(1.4, abs=0.01)
    assert params.field_min < 1 < params.field_max
    assert set(params.to_dict()) == {"exposure", "field_min", "field_max", "full_well", "read_noise", "seed"}


# --- enhancement --------------------------------------------------------------------------------------------


def test_estimated_illumination_follows_the_applied_field() -> None:
    image = _flat_gray(128)
    low, _ = synthesize_lowlight(image, 0.7, seed=6, nonuniform=0.6)
    clean, _ = synthesize_lowlight(image, 0.7, seed=6, nonuniform=0.6, full_well=1e9, read_noise=0.0)
    estimate = estimate_illumination(low)
    assert estimate.shape == image.shape[:2] and estimate.dtype == np.float32
    assert _corr(estimate, _linear(clean[:, :, 0])) > 0.95


def test_estimated_illumination_is_that_of_the_brightest_channel() -> None:
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, size=(90, 130, 3), dtype=np.uint8)
    brightest = np.repeat(colour.max(axis=2, keepdims=True), 3, axis=2)
    np.testing.assert_array_equal(estimate_illumination(colour), estimate_illumination(brightest))
    assert not np.array_equal(estimate_illumination(colour), estimate_illumination(colour[:, :, [0, 0, 0]]))


def test_enhancement_flattens_uneven_light() -> None:
    low, _ = synthesize_lowlight(_flat_gray(128), 0.7, seed=6, nonuniform=0.6)
    enhanced = enhance_lowlight(low)

    def spread(x: np.ndarray) -> float:  # relative swing of the light, in linear light
        return float(_linear(x).std() / _linear(x).mean())

    assert spread(enhanced) < 0.3 * spread(low)


def test_a_monochrome_frame_is_enhanced_on_one_channel_to_the_same_result(coffee: np.ndarray) -> None:
    """A monochrome camera's frame (one value per pixel, made RGB) is worked out once and repeated: the result is
    the three-channel enhancement's to the last level."""
    mono = np.repeat(_gray(coffee)[:, :, None], 3, axis=2)
    assert is_monochrome(mono) and not is_monochrome(coffee)
    for strength, seed in ((0.5, 1), (0.8, 2), (0.95, 3)):
        low, _ = synthesize_lowlight(mono, strength, seed=seed, nonuniform=0.6)
        enhanced = enhance_lowlight(low)
        assert enhanced.shape == low.shape and enhanced.dtype == np.uint8
        np.testing.assert_array_equal(enhanced, _enhance(low, 0.18, 1.0, mono=False))


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
def test_enhancement_brings_low_light_back_towards_the_original(name: str, request: pytest.FixtureRequest) -> None:
    original = request.getfixturevalue(name)
    low, _ = synthesize_lowlight(original, 0.7, seed=8)
    enhanced = enhance_lowlight(low)
    assert enhanced.dtype == np.uint8 and enhanced.shape == original.shape
    gap_low = abs(float(low.mean()) - float(original.mean()))
    gap_enhanced = abs(float(enhanced.mean()) - float(original.mean()))
    assert gap_low > 50
    assert gap_enhanced < 0.3 * gap_low
    g_orig, g_low, g_enh = _gray(original), _gray(low), _gray(enhanced)
    # SSIM weighs luminance, contrast and structure; Pearson correlation ignores gain, so the dark image
    # already correlates well with the original and the enhancement is only asked to keep it high
    ssim_low = structural_similarity(g_orig, g_low)
    ssim_enh = structural_similarity(g_orig, g_enh)
    assert ssim_enh > ssim_low + 0.25
    assert _corr(g_orig, g_enh) > 0.85
