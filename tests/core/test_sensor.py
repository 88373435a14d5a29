"""The randomised sensor model: sampled ranges and families, noise statistics, exposure, fall-off, colour."""

from __future__ import annotations

import dataclasses
import math
import time

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from core.data.lowlight import is_monochrome, srgb8_to_linear
from core.data.sensor import (
    HELD_OUT,
    SHAPES,
    TRAIN_RANGES,
    SensorParams,
    held_out_axes,
    illumination,
    render,
    sample_params,
)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return cv2.resize(skdata.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)


def _flat(value: int = 128, size: int = 256) -> np.ndarray:
    return np.full((size, size, 3), value, np.uint8)


def _electrons(out: np.ndarray, full_well: float) -> np.ndarray:
    return srgb8_to_linear(out[:, :, 0]).astype(np.float64) * full_well


@pytest.fixture(scope="module")
def draws() -> dict[str, list[SensorParams]]:
    rng = np.random.default_rng(0)
    return {f: [sample_params(rng, f) for _ in range(3000)] for f in ("train", "held_out")}


# --- sampling -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["train", "held_out"])
@pytest.mark.parametrize("name", ["exposure", "full_well", "read_noise", "falloff"])
def test_continuous_parameters_reach_both_ends_of_their_range(draws, family: str, name: str) -> None:
    lo, hi = TRAIN_RANGES[name]
    values = np.array([getattr(p, name) for p in draws[family]])
    assert values.min() >= lo and values.max() <= hi
    # log-uniform: the lowest and highest of 3000 draws lie within 1 % of the log-span of the ends
    span = math.log(hi / lo)
    assert math.log(values.min() / lo) < 0.01 * span
    assert math.log(hi / values.max()) < 0.01 * span
    # and the draws are spread over the range, not piled at one end
    median = float(np.median(np.log(values)))
    assert abs(median - (math.log(lo) + math.log(hi)) / 2) < 0.05 * span


def test_train_family_never_draws_a_held_out_axis(draws) -> None:
    train = draws["train"]
    assert {p.shape for p in train} == set(TRAIN_RANGES["shape"])
    assert {p.colour for p in train} == set(TRAIN_RANGES["colour"])
    assert {p.gamma for p in train} == {2.2}
    assert {p.jpeg_quality for p in train} == {None}
    assert {p.defocus for p in train} == {0.0}
    assert {p.fixed_pattern for p in train} == {0.0}
    assert all(held_out_axes(p) == () for p in train)


def test_held_out_family_always_leaves_training_on_every_held_out_axis(draws) -> None:
    held = draws["held_out"]
    assert {p.shape for p in held} == set(HELD_OUT["shape"])
    assert {p.gamma for p in held} == set(HELD_OUT["gamma"])
    q = np.array([p.jpeg_quality for p in held])
    assert q.min() == HELD_OUT["jpeg_quality"][0] and q.max() == HELD_OUT["jpeg_quality"][1]
    for name in ("defocus", "fixed_pattern"):
        v = np.array([getattr(p, name) for p in held])
        lo, hi = HELD_OUT[name]
        assert v.min() >= lo and v.max() <= hi
        assert v.min() < lo + 0.01 * (hi - lo) and v.max() > hi - 0.01 * (hi - lo)
    for p in held:
        assert set(held_out_axes(p)) == {"shape", "gamma", "jpeg_quality", "defocus", "fixed_pattern"}


def test_a_mono_sensor_is_in_range_for_a_monochrome_part_only() -> None:
    p = SensorParams(colour="mono", exposure=0.25)
    assert held_out_axes(p, monochrome_image=True) == ()
    assert held_out_axes(p) == ("colour",)
    assert held_out_axes(SensorParams(gamma=1.8, shape="radial")) == ("shape", "gamma")


def test_sampling_is_seeded_and_rejects_unknown_family() -> None:
    a = [sample_params(np.random.default_rng(5)) for _ in range(2)]
    assert a[0] == a[1]
    assert sample_params(np.random.default_rng(5)).to_dict()["exposure"] == a[0].exposure
    with pytest.raises(ValueError):
        sample_params(np.random.default_rng(0), "test")


def test_invalid_params_are_refused() -> None:
    for bad in ({"exposure": 0}, {"shape": "ring"}, {"colour": "rgb"}, {"falloff": 0.5}, {"jpeg_quality": 0}):
        with pytest.raises(ValueError):
            SensorParams(**bad)


# --- noise, exposure, fall-off ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exposure", "full_well", "read_noise"),
    [(0.25, 1000.0, 3.0), (1 / 16, 20000.0, 12.0), (1.0, 300.0, 1.0), (1 / 32, 4000.0, 8.0)],
)
def test_flat_patch_noise_matches_poisson_gaussian_prediction(exposure, full_well, read_noise) -> None:
    grey = _flat(128)
    p = SensorParams(exposure=exposure, full_well=full_well, read_noise=read_noise, colour="mono")
    e = _electrons(render(grey, p, seed=1), full_well)
    expected_mean = float(srgb8_to_linear(np.uint8(128))) * exposure * full_well
    # 8-bit output quantises: add the variance of a uniform step at that level
    code = render(_flat(128, 4), dataclasses.replace(p, read_noise=0.0, full_well=1e9), seed=0)[0, 0, 0]
    step = (srgb8_to_linear(np.uint8(min(code + 1, 255))) - srgb8_to_linear(np.uint8(max(code - 1, 0)))) / 2
    quant = (step * full_well) ** 2 / 12
    expected_var = expected_mean + read_noise**2 + quant
    assert e.mean() == pytest.approx(expected_mean, rel=0.02)
    assert e.var() == pytest.approx(expected_var, rel=0.06)


def test_low_signal_pixels_get_poisson_counts() -> None:
    # a few electrons and no read noise: the output is whole electrons (to within the 8-bit step, about 0.3 e-
    # here) with Poisson variance
    p = SensorParams(exposure=1 / 32, full_well=300.0, read_noise=0.0, colour="mono")
    lam = float(srgb8_to_linear(np.uint8(200))) * 300 / 32
    e = _electrons(render(_flat(200), p, seed=3), 300.0)
    assert np.abs(e - np.round(e)).max() < 0.25
    assert len(np.unique(np.round(e))) == len(np.unique(e))
    assert e.mean() == pytest.approx(lam, rel=0.02)
    assert e.var() == pytest.approx(lam, rel=0.05)


@pytest.mark.parametrize("exposure", [1.0, 0.5, 1 / 8, 1 / 32])
def test_exposure_scales_mean_linear_light(astronaut: np.ndarray, exposure: float) -> None:
    p = SensorParams(exposure=exposure, full_well=20000.0, read_noise=1.0)
    out = render(astronaut, p, seed=2)
    ratio = srgb8_to_linear(out).mean(dtype=np.float64) / srgb8_to_linear(astronaut).mean(dtype=np.float64)
    assert ratio == pytest.approx(exposure, rel=0.03 if exposure < 1 else 0.01)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("falloff", [1.0, 2.0, 6.0])
def test_illumination_field_has_the_asked_ratio_and_mean_one(shape: str, falloff: float) -> None:
    for seed in range(5):
        f = illumination(200, 300, shape, falloff, np.random.default_rng(seed))
        assert f.shape == (200, 300) and f.dtype == np.float32
        assert f.max() / f.min() == pytest.approx(falloff, rel=1e-4)
        assert f.mean(dtype=np.float64) == pytest.approx(1.0, abs=1e-5)


def test_shapes_differ_in_where_the_light_is() -> None:
    rng = np.random.default_rng(0)
    vignette = illumination(101, 101, "vignette", 4.0, rng)
    assert vignette[50, 50] == vignette.max()  # brightest on the optical axis
    assert vignette[0, 0] == pytest.approx(vignette.min(), rel=1e-3)  # darkest in the corners
    gradient = illumination(101, 101, "gradient", 4.0, rng)
    # a gradient is planar: its second differences vanish
    assert np.abs(np.diff(gradient, 2, axis=0)).max() < 1e-4 and np.abs(np.diff(gradient, 2, axis=1)).max() < 1e-4


@pytest.mark.parametrize("shape", SHAPES)
def test_rendered_falloff_ratio_is_what_was_asked(shape: str) -> None:
    p = SensorParams(exposure=0.25, full_well=1e7, read_noise=0.0, falloff=4.0, shape=shape, colour="mono")
    out = srgb8_to_linear(render(_flat(160), p, seed=4)[:, :, 0]).astype(np.float64)
    smooth = cv2.blur(out, (9, 9))[8:-8, 8:-8]  # away from the border; averages the 8-bit steps
    field = illumination(256, 256, shape, 4.0, np.random.default_rng(4))[8:-8, 8:-8]
    expected = field.max() / field.min()
    assert smooth.max() / smooth.min() == pytest.approx(expected, rel=0.03)


# --- determinism, colour, dtype, held-out effects -----------------------------------------------------------


def test_same_seed_same_image_other_seed_other_image(astronaut: np.ndarray) -> None:
    p = SensorParams(exposure=1 / 8, falloff=3.0, shape="spot")
    a, b, c = render(astronaut, p, 7), render(astronaut, p, 7), render(astronaut, p, 8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(render(astronaut, p, g1), render(astronaut, p, g2))


def test_mono_stays_mono_and_bayer_gives_colour_noise(astronaut: np.ndarray) -> None:
    grey = _flat(128)
    mono = render(grey, SensorParams(exposure=0.25), seed=0)  # auto: a monochrome image gets a mono sensor
    assert is_monochrome(mono)
    assert is_monochrome(render(astronaut, SensorParams(colour="mono"), seed=0))  # luminance of a colour image
    bayer = render(grey, SensorParams(exposure=0.25, colour="bayer"), seed=0).astype(np.float64)
    chroma = bayer[:, :, 0] - bayer[:, :, 1]
    assert chroma.std() > 1.0  # noise per photosite, interpolated differently per channel
    assert abs(chroma.mean()) < 0.5  # but grey stays grey on average
    colour = render(astronaut, SensorParams(full_well=1e7, read_noise=0.0), seed=0)  # auto: Bayer on colour
    assert not is_monochrome(colour)
    err = np.abs(colour.astype(int) - astronaut.astype(int))
    assert np.median(err) <= 2  # without noise, the demosaic returns the scene (edges aside)


@pytest.mark.parametrize("shape", [(256, 256, 3), (123, 77, 3)])
def test_dtype_and_shape_are_kept(shape: tuple[int, int, int]) -> None:
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    for p in (SensorParams(), sample_params(np.random.default_rng(1), "held_out")):
        out = render(image, p, seed=0)
        assert out.dtype == np.uint8 and out.shape == shape and out.flags.c_contiguous
    with pytest.raises(ValueError):
        render(image[:, :, 0], SensorParams())


def test_fixed_pattern_is_the_same_in_every_frame_of_one_camera() -> None:
    grey = _flat(128)
    p = SensorParams(exposure=0.5, full_well=20000.0, read_noise=1.0, colour="mono", fixed_pattern=0.03)
    frames = np.stack([_electrons(render(grey, p, seed=s), 1.0) for s in range(8)])
    avg = frames.mean(axis=0)  # temporal noise averages out; the pattern stays
    rows = avg.mean(axis=1)
    clean = np.stack(
        [_electrons(render(grey, dataclasses.replace(p, fixed_pattern=0.0), seed=s), 1.0) for s in range(8)]
    )
    assert rows.std() > 3 * clean.mean(axis=0).mean(axis=1).std()
    other = dataclasses.replace(p, pattern_seed=1)
    avg_other = np.stack([_electrons(render(grey, other, seed=s), 1.0) for s in range(8)]).mean(axis=0)
    assert np.corrcoef(avg.ravel(), avg_other.ravel())[0, 1] < 0.5


def test_gamma_jpeg_and_defocus_change_the_image_as_they_should(astronaut: np.ndarray) -> None:
    quiet = SensorParams(exposure=0.5, full_well=1e7, read_noise=0.0)
    base = render(astronaut, quiet, seed=0).astype(np.float64)
    # a higher encoding gamma lifts the darker tones of the same linear light
    assert render(astronaut, dataclasses.replace(quiet, gamma=2.4), seed=0).mean() > base.mean()
    assert render(astronaut, dataclasses.replace(quiet, gamma=1.8), seed=0).mean() < base.mean()
    lap = cv2.Laplacian(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
    blurred = render(astronaut, dataclasses.replace(quiet, exposure=1.0, defocus=2.0), seed=0)
    assert cv2.Laplacian(cv2.cvtColor(blurred, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() < 0.3 * lap
    j60 = render(astronaut, dataclasses.replace(quiet, jpeg_quality=60), seed=0).astype(np.float64)
    j95 = render(astronaut, dataclasses.replace(quiet, jpeg_quality=95), seed=0).astype(np.float64)
    assert 0 < np.abs(j95 - base).mean() < np.abs(j60 - base).mean()


def test_a_256_px_image_renders_in_a_few_milliseconds(astronaut: np.ndarray) -> None:
    p = SensorParams(exposure=1 / 8, falloff=3.0)
    render(astronaut, p, 0)
    best = min(_timed(lambda s=s: render(astronaut, p, s)) for s in range(10))
    assert best < 0.025  # ~4 ms on the project's 2-core machine; loose for a shared one


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t
