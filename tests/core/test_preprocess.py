"""What the detector is given in each input mode: the enhanced image as input when dark, the image as captured
for the illumination map, and the right comparison target."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data.io import load_image
from core.data.lowlight import enhance_lowlight, synthesize_lowlight
from core.preprocess import lowlight_cutoff, mean_linear, mode_images, resize_rgb, resolve_mode, view_tensors
from core.types import InputMode


def test_each_mode_gets_its_input_target_and_light(generated):
    tile = load_image(generated.train[0].path)
    dark, _ = synthesize_lowlight(tile, 0.8, 3)
    well_mean = mean_linear(resize_rgb(tile, 128))

    v = mode_images(InputMode.WELLLIT, tile, None, 128, well_mean)
    assert v.input.shape == (128, 128, 3) and v.target is None
    assert v.light is v.input  # one image: nothing to correct

    v = mode_images(InputMode.LOWLIGHT, dark, None, 128, well_mean)
    raw = resize_rgb(dark, 128)
    np.testing.assert_array_equal(v.light, raw)
    np.testing.assert_array_equal(v.input, enhance_lowlight(raw, target_mean=well_mean))
    assert v.target is None  # the corrected image is its own target
    # the encoder sees a corrected exposure, the illumination estimator the dark capture
    assert mean_linear(v.input) > 3 * mean_linear(v.light)

    v = mode_images(InputMode.PAIRED, dark, tile, 128, well_mean)
    np.testing.assert_array_equal(v.target, resize_rgb(tile, 128))
    np.testing.assert_array_equal(v.light, raw)
    assert mean_linear(v.input) > 3 * mean_linear(v.light)


def test_paired_mode_without_a_partner_is_refused(generated):
    tile = load_image(generated.train[0].path)
    with pytest.raises(ValueError, match="partner"):
        mode_images(InputMode.PAIRED, tile, None, 64, 0.2)


def test_automatic_mode_follows_exposure_and_partner(generated):
    tile = load_image(generated.train[0].path)
    dark, _ = synthesize_lowlight(tile, 0.9, 0)
    cutoff = lowlight_cutoff([mean_linear(tile)])
    assert resolve_mode(tile, None, None, cutoff) == InputMode.WELLLIT
    assert resolve_mode(dark, None, None, cutoff) == InputMode.LOWLIGHT
    assert resolve_mode(dark, tile, InputMode.WELLLIT, cutoff) == InputMode.PAIRED
    assert resolve_mode(tile, None, InputMode.LOWLIGHT, cutoff) == InputMode.LOWLIGHT
    # a mode named by its string (a setting read back) comes out as the mode, with its label
    forced = resolve_mode(tile, None, "lowlight", cutoff)
    assert forced is InputMode.LOWLIGHT and forced.label == "low-light"
    assert [m.label for m in InputMode] == ["low-light", "well-lit", "paired"]


@pytest.mark.dataset
def test_good_parts_as_dark_as_the_trained_ones_stay_well_lit(mtd):
    """MTD's good tiles span a 20-fold range of exposure. Every 19th of them: the darkest is under half their mean
    (the cut-off where good parts are evenly lit), yet it is inspected as well-lit; a dim capture of a typical
    tile is still low-light."""
    tiles = [load_image(s.path) for s in mtd.train[::19]]
    exposures = np.array([mean_linear(t) for t in tiles])
    darkest, typical = tiles[int(exposures.argmin())], tiles[int(np.argsort(exposures)[len(tiles) // 2])]
    assert exposures.min() < 0.5 * exposures.mean()
    cutoff = lowlight_cutoff(exposures)
    assert cutoff == pytest.approx(0.9 * np.percentile(exposures, 1))
    assert resolve_mode(darkest, None, None, cutoff) == InputMode.WELLLIT
    dim = [synthesize_lowlight(typical, 0.75, seed)[0] for seed in range(5)]
    assert all(resolve_mode(d, None, None, cutoff) == InputMode.LOWLIGHT for d in dim)
    # evenly lit good parts (the first 20 tiles, within 0.64 -- 1.6 of their mean): half the mean, as before
    even = [mean_linear(load_image(s.path)) for s in mtd.train[:20]]
    assert lowlight_cutoff(even) == pytest.approx(0.5 * np.mean(even))
    with pytest.raises(ValueError, match="no exposures"):
        lowlight_cutoff([])


def test_view_tensors_leave_out_what_the_detector_can_take_from_the_input():
    rng = np.random.default_rng(0)
    dark = (rng.random((40, 30, 3)) * 40).astype(np.uint8)
    well = (rng.random((40, 30, 3)) * 255).astype(np.uint8)
    inputs, targets, light = view_tensors([mode_images(InputMode.WELLLIT, well, None, 32, 0.2)] * 2)
    assert inputs.shape == (2, 3, 32, 32) and targets is None and light is None  # the input is target and light
    inputs, targets, light = view_tensors([mode_images(InputMode.LOWLIGHT, dark, None, 32, 0.2)])
    assert targets is None and light is not None and not torch.equal(light, inputs)  # input enhanced, light raw
    inputs, targets, light = view_tensors([mode_images(InputMode.PAIRED, dark, well, 32, 0.2)])
    assert targets is not None and light is not None
