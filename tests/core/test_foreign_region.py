"""The foreign-region head and the region swaps it learns from: what a swap makes, what the head finds on real
tiles, how its term joins the map, and its state on disk."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.data.defects import (
    REFINISH_LOG_GAIN,
    RegionSwap,
    apply_region_refinish,
    apply_region_swap,
    region_refinish,
    region_swap,
)
from core.model.foreign_region import ForeignRegion

CHANNELS = (24, 40, 112)  # EfficientNet-Lite0's strides 4, 8, 16


def _features(n: int, generator: torch.Generator, grid: int = 8) -> list[torch.Tensor]:
    """Encoder-like maps (shallow first) of ``n`` images on a ``grid`` x ``grid`` stride-16 grid."""
    return [torch.randn(n, c, grid * s, grid * s, generator=generator) for c, s in zip(CHANNELS, (4, 2, 1))]


def _projected(n: int, generator: torch.Generator) -> tuple[ForeignRegion, torch.Tensor]:
    """A head with its projections fitted on ``n`` images, and its input for them."""
    head = ForeignRegion(CHANNELS)
    good = _features(n, generator)
    head.fit_projections(good[1], good[2])
    return head, head.inputs(good)


def _fitted(generator: torch.Generator, weight: float | None = None) -> ForeignRegion:
    head, rows = _projected(24, generator)
    swapped = head.inputs(_features(16, generator))
    masks = (torch.rand(16, 8, 8, generator=generator) > 0.5).float()
    head.fit(rows[:20], swapped, masks, rows[20:], map_spread=0.5, weight=weight)
    return head


def test_a_swap_takes_its_region_from_the_donor_at_the_parts_level():
    """Outside the mask the image is untouched; inside it is the donor scaled to the image's mean level times
    the swap's gain (a flat donor of half the level comes out at the image's level x gain)."""
    image = np.full((64, 64, 3), 120, np.uint8)
    donor = np.full((64, 64, 3), 60, np.uint8)
    swap = region_swap(64, 64, 3)
    out = apply_region_swap(image, donor, swap)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.all(out[swap.mask == 0] == 120)
    inside = out[swap.mask > 0.999]
    assert inside.size > 0 and np.all(np.abs(inside.astype(float) - min(255.0, 120 * swap.gain)) <= 1)


def test_swaps_are_seeded_and_cover_a_band_or_blob_of_the_part():
    """The same seed gives the same swap; over many seeds the region covers from a few percent of the part to
    most of half of it, never all of it, and reaches every side."""
    a, b = region_swap(128, 96, 11), region_swap(128, 96, 11)
    assert np.array_equal(a.mask, b.mask) and (a.flips, a.gain) == (b.flips, b.gain)
    masks = np.stack([region_swap(128, 96, s).mask for s in range(200)])
    cover = masks.mean((1, 2))
    assert 0.02 < np.median(cover) < 0.4 and cover.max() < 0.8 and cover.min() > 0.001
    assert min(masks[:, 0].max(), masks[:, -1].max(), masks[:, :, 0].max(), masks[:, :, -1].max()) > 0.99


def test_a_refinish_changes_a_region_of_the_part_itself_by_its_gain_and_contrast():
    """Outside the mask the part is untouched; inside, its own surface comes out at the part's level x gain, with
    the texture's deviation from its local mean x contrast (fine stripes of +-20 around 120 here), never mirrored."""
    stripes = np.where(np.arange(128) % 2 == 0, 100, 140).astype(np.uint8)
    image = np.repeat(np.tile(stripes, (128, 1))[:, :, None], 3, 2)
    checked = 0
    for seed in range(40):
        refinish = region_refinish(128, 128, seed)
        gain, contrast = refinish.swap.gain, refinish.contrast
        assert refinish.swap.flips == (False, False)
        if 120 * gain + 20 * contrast * gain > 254:  # clipped at white: not this test's case
            continue
        out = apply_region_refinish(image, refinish).astype(float)
        mask = refinish.swap.mask
        assert np.all(out[mask == 0] == image[mask == 0])
        inner = cv2.erode((mask > 0.999).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
        if inner.sum() < 100:  # a thin region: all of it is within the local mean's reach of its edge
            continue
        expected = (120 + (image[inner].astype(float) - 120) * contrast) * gain
        assert np.abs(out[inner] - expected).max() <= 1.5
        checked += 1
    assert checked >= 8


def test_refinishes_are_seeded_darker_or_brighter_within_their_range():
    a, b = region_refinish(96, 128, 5), region_refinish(96, 128, 5)
    assert np.array_equal(a.swap.mask, b.swap.mask) and (a.swap.gain, a.contrast) == (b.swap.gain, b.contrast)
    log_gains = np.log([region_refinish(96, 128, s).swap.gain for s in range(200)])
    low, high = REFINISH_LOG_GAIN
    assert np.all((np.abs(log_gains) >= low - 1e-9) & (np.abs(log_gains) <= high + 1e-9))
    assert 0.3 < np.mean(log_gains > 0) < 0.7  # as often brighter as darker


def test_a_swap_refuses_images_of_other_sizes():
    swap = RegionSwap(np.zeros((32, 32), np.float32), (False, False), 1.0)
    with pytest.raises(ValueError, match="differ in size"):
        apply_region_swap(np.zeros((32, 32), np.uint8), np.zeros((32, 16), np.uint8), swap)


def test_the_heads_input_is_both_projections_and_their_contrast_on_the_coarsest_grid():
    _, x = _projected(6, torch.Generator().manual_seed(0))
    assert x.shape == (6, 2 * (16 + 48), 8, 8)
    # the second half is the first minus each image's median over its positions
    first, contrast = x[:, :64], x[:, 64:]
    torch.testing.assert_close(contrast, first - first.flatten(2).median(2).values[:, :, None, None])


def test_the_term_joins_the_map_scaled_to_the_maps_spread():
    """Unfitted or weighted 0 it leaves the map as it is; fitted, the map gains weight x the map's spread x the
    z-scores, upsampled to the map's size."""
    rng = torch.Generator().manual_seed(1)
    feats = _features(2, rng)
    amap = torch.rand(2, 1, 64, 64, generator=rng)
    assert torch.equal(ForeignRegion(CHANNELS).add_to(amap, feats), amap)
    assert torch.equal(_fitted(rng, weight=0.0).add_to(amap, feats), amap)
    head = _fitted(rng, weight=1.5)
    assert float(head.norm[2]) == 0.5 and float(head.norm[3]) == 1.5
    z = F.interpolate(head.zscores(feats), size=(64, 64), mode="bilinear", align_corners=False)
    torch.testing.assert_close(head.add_to(amap, feats), amap + 1.5 * 0.5 * z)


def test_the_fitted_head_averages_its_mirror_images():
    """Fitted, the head's logit is the mean over its input, mirrored left-right, upside down and both (each logit
    mirrored back), and the held-out good images that set the z-score are scored the same way. Where good parts'
    mean and spread are the same at mirrored places, a part seen mirrored gets exactly the mirrored term. A head
    saved without the average (views 1) is the head on its input alone."""
    rng = torch.Generator().manual_seed(4)
    head = _fitted(rng)
    assert int(head.views) == 4
    feats = _features(2, rng)
    x = head.head_input(head.inputs(feats))
    with torch.no_grad():
        mirrored = [head.head(x.flip(d)).flip(d) if d else head.head(x) for d in ((), (3,), (2,), (2, 3))]
        torch.testing.assert_close(head.raw(feats), torch.stack(mirrored).mean(0))
        assert not torch.allclose(head.raw(feats), mirrored[0], atol=1e-3)  # the mirror images do differ
        head.position_centre.zero_()
        head.position_spread.fill_(1.0)
        for dims in ((3,), (2,), (2, 3)):
            flipped = [f.flip(dims) for f in feats]
            torch.testing.assert_close(head.raw(flipped), head.raw(feats).flip(dims), rtol=1e-4, atol=1e-5)
        head.views.fill_(1)
        torch.testing.assert_close(head.raw(feats), head.head(head.head_input(head.inputs(feats))))


def test_the_head_also_sees_each_places_deviation_from_good_parts_there():
    """The head's input is :meth:`inputs` (both projections, their differences from the image's median) and, once
    fitted, each projection's deviation from its mean at that place over the good images it trained on, in units of
    its spread there (floored at a tenth of its mean spread over places), every channel scaled: a part at good
    parts' mean everywhere gets deviations of zero. Another grid than the fitted one is refused."""
    rng = torch.Generator().manual_seed(5)
    head, rows = _projected(24, rng)
    swapped = head.inputs(_features(16, rng))
    head.fit(rows[:20], swapped, (torch.rand(16, 8, 8, generator=rng) > 0.5).float(), rows[20:], map_spread=0.5)
    k = rows.shape[1] // 2
    assert head.position_centre.shape == head.position_spread.shape == (k, 8, 8)
    torch.testing.assert_close(head.position_centre, rows[:20, :k].mean(0))
    spread = rows[:20, :k].std(0)
    torch.testing.assert_close(head.position_spread, spread + 0.1 * spread.mean((1, 2), keepdim=True))

    x = head.head_input(rows[20:]) * head.scale.view(1, -1, 1, 1)
    assert x.shape == (4, 3 * k, 8, 8) and head.head[0].in_channels == 3 * k
    torch.testing.assert_close(x[:, : 2 * k], rows[20:])
    torch.testing.assert_close(x[:, 2 * k :], (rows[20:, :k] - head.position_centre) / head.position_spread)
    at_mean = rows[20:21].clone()
    at_mean[:, :k] = head.position_centre
    assert torch.equal(head.head_input(at_mean)[:, 2 * k :], torch.zeros(1, k, 8, 8))
    with pytest.raises(ValueError, match=r"foreign-region head was fitted on a \(8, 8\) grid, got \(6, 6\)"):
        head.raw(_features(1, rng, grid=6))


def test_the_head_round_trips_fitted_and_unfitted_and_trains_reproducibly():
    rng = torch.Generator().manual_seed(2)
    head = _fitted(rng)
    fresh = ForeignRegion(CHANNELS)
    fresh.load_state_dict(head.state_dict())
    feats = _features(3, rng)
    assert fresh.is_fitted
    torch.testing.assert_close(fresh.zscores(feats), head.zscores(feats))

    again = _fitted(torch.Generator().manual_seed(2))
    torch.testing.assert_close(again.zscores(feats), head.zscores(feats))

    empty = ForeignRegion(CHANNELS)
    reloaded = ForeignRegion(CHANNELS)
    reloaded.load_state_dict(empty.state_dict())
    assert not reloaded.is_fitted


def test_too_few_images_or_unmatched_masks_are_refused():
    head, x = _projected(4, torch.Generator().manual_seed(3))
    with pytest.raises(ValueError, match="at least 4"):
        head.fit(x[:2], x, torch.zeros(4, 8, 8), x[2:], map_spread=1.0)
    with pytest.raises(ValueError, match="4 composites but 3 masks"):
        head.fit(x[:3], x, torch.zeros(3, 8, 8), x[3:], map_spread=1.0)


@pytest.mark.dataset
def test_on_real_tiles_it_outlines_swapped_and_refinished_regions_and_uneven_bands(mtd):
    """Trained on 80 good MTD tiles, 640 swaps and 320 refinishes of them, the head's z-score is higher inside
    the region of swaps and of refinishes of *other* good tiles than over the rest of them, and higher inside
    the annotated band of *uneven* tiles (a region of another finish, which the reconstruction map barely sees)
    than over the rest: on average, and for most of the images."""
    from core.backbone import shared_encoder
    from core.data.io import load_image
    from core.preprocess import resize_rgb, to_tensor

    encoder = shared_encoder()

    def feats(images):
        with torch.inference_mode():
            out = [encoder(to_tensor(images[i : i + 16])) for i in range(0, len(images), 16)]
        return [torch.cat(scale) for scale in zip(*out)]

    def images(samples):
        return [resize_rgb(load_image(s.path), 256) for s in samples]

    def swaps(tiles, n, rng):
        made, masks = [], []
        for _ in range(n):
            a, b = rng.choice(len(tiles), 2, replace=False)
            swap = region_swap(256, 256, rng)
            made.append(apply_region_swap(tiles[a], tiles[b], swap))
            masks.append(swap.mask)
        return made, np.stack(masks)

    def refinishes(tiles, n, rng):
        made, masks = [], []
        for _ in range(n):
            refinish = region_refinish(256, 256, rng)
            made.append(apply_region_refinish(tiles[int(rng.integers(len(tiles)))], refinish))
            masks.append(refinish.swap.mask)
        return made, np.stack(masks)

    rng = np.random.default_rng(0)
    train, held, other = images(mtd.train[::8][:80]), images(mtd.train[1::8][:8]), images(mtd.train[2::8][:30])
    head = ForeignRegion(encoder.channels)
    good = feats(train)
    head.fit_projections(good[-2], good[-1])
    (swapped, swap_masks), (refinished, refinish_masks) = swaps(train, 640, rng), refinishes(train, 320, rng)
    composites, masks = swapped + refinished, np.concatenate([swap_masks, refinish_masks])
    coarse = torch.from_numpy(np.stack([cv2.resize(m, (16, 16), interpolation=cv2.INTER_AREA) for m in masks]))
    head.fit(head.inputs(good), head.inputs(feats(composites)), coarse, head.inputs(feats(held)), map_spread=1.0)

    def inside_minus_outside(imgs, masks):
        with torch.no_grad():
            z = F.interpolate(head.zscores(feats(imgs)), size=64, mode="bilinear")[:, 0].numpy()
        small = [cv2.resize(m.astype(np.float32), (64, 64)) > 0.5 for m in masks]
        return np.array([z[i][m].mean() - z[i][~m].mean() for i, m in enumerate(small) if 0 < m.mean() < 1])

    swapped = inside_minus_outside(*swaps(other, 24, rng))
    assert swapped.mean() > 0.4 and np.mean(swapped > 0) >= 2 / 3, swapped
    refinished = inside_minus_outside(*refinishes(other, 24, rng))
    assert refinished.mean() > 0.4 and np.mean(refinished > 0) >= 2 / 3, refinished

    uneven = [s for s in mtd.test if s.defect_type == "uneven"][::10][:10]
    bands = [cv2.imread(str(s.mask), cv2.IMREAD_GRAYSCALE) > 127 for s in uneven]
    found = inside_minus_outside(images(uneven), bands)
    assert found.mean() > 0.4 and np.mean(found > 0) >= 2 / 3, found


def _srgb(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def test_the_local_light_level_marks_a_darker_region_and_not_a_smooth_light_field():
    """A part lit by a smooth gradient (half to all of full light across it) has a level near zero away from its
    ends; a region of it at a third of the light comes out clearly negative there and as before far from it."""
    from core.model.foreign_region import local_light_level

    x = np.linspace(0.5, 1.0, 256, dtype=np.float32)
    field = np.tile(x, (256, 1)) * 0.5
    image = torch.from_numpy(np.repeat(_srgb(field)[None, None], 3, 1))
    smooth = local_light_level(image, (16, 16))
    assert smooth.shape == (1, 1, 16, 16)
    assert float(smooth[..., 3:-3, 3:-3].abs().max()) < 0.1
    dark = field.copy()
    dark[96:160, 96:160] /= 3
    level = local_light_level(torch.from_numpy(np.repeat(_srgb(dark)[None, None], 3, 1)), (16, 16))
    assert float(level[0, 0, 7:9, 7:9].mean()) < -0.4
    assert float((level - smooth)[0, 0, :2, :2].abs().max()) < 0.1


def test_a_head_that_takes_the_light_level_learns_it_and_needs_the_image_as_captured():
    """Told to take the light level, the head's first layer gets one more input, which comes last (after the
        deviations from each place's good mean); without the image as captured it refuses with the reason. Trained on
        composites whose only sign is a darker region, it marks such a region on features it has not seen (its reach,
    15 cells, spans this small 8 x 8 grid, so the rest of the part rises too, less)."""
    rng = torch.Generator().manual_seed(5)
    head, rows = _projected(24, rng)
    head.take_light(True)
    head.epochs = 60  # a few steps an epoch here: enough of them to learn
    n = 96
    masks = torch.zeros(n, 8, 8)
    for i, (y, x) in enumerate(torch.randint(0, 6, (n, 2), generator=rng).tolist()):
        masks[i, y : y + 3, x : x + 3] = 1  # a region anywhere on the part
    level = -masks.unsqueeze(1)  # darker than the light around it; its features like the rest
    swapped = head.inputs(_features(n, rng), level)
    good = torch.cat([rows, torch.zeros(24, 1, 8, 8)], 1)
    head.fit(good[:20], swapped, masks, good[20:], map_spread=1.0)
    assert head.head[0].in_channels == 3 * 64 + 1 and len(head.scale) == 3 * 64 + 1
    feats = _features(1, rng)
    with pytest.raises(ValueError, match="as captured"):
        head.raw(feats)
    assert head.raw(feats, torch.full((1, 3, 128, 128), 0.5)).shape == (1, 1, 8, 8)
    dark_region = torch.zeros(1, 1, 8, 8)
    dark_region[..., 2:5, 2:5] = -1.0
    with torch.no_grad():
        flat, dark = (head._logit(head.head_input(head.inputs(feats, lv))) for lv in (0 * dark_region, dark_region))
    inside = dark_region[0, 0] < 0
    assert float((dark - flat)[0, 0][inside].mean()) > 1.0  # the darker region raises the logit there
    assert float(dark[0, 0][inside].mean()) > float(dark[0, 0][~inside].mean()) + 1.0  # most there


def test_rescale_keeps_the_head_and_sets_its_scale_from_new_good_images_and_map_spread():
    """What a top-up refits of a kept head: the z-score and the map scale, from other good images and another
    map spread; the head's weights, projections and weight in the map stay as they were."""
    g = torch.Generator().manual_seed(3)
    head = _fitted(g, weight=0.7)
    with pytest.raises(ValueError, match="not fitted"):
        ForeignRegion(CHANNELS).rescale(head.inputs(_features(4, g)), 0.5)
    weights = {k: v.clone() for k, v in head.state_dict().items() if k.startswith("head.")}
    brighter = head.inputs([f * 1.5 + 0.3 for f in _features(6, g)])  # good images unlike the ones it was fitted on
    head.rescale(brighter, map_spread=2.0)
    assert all(torch.equal(head.state_dict()[k], v) for k, v in weights.items())
    with torch.no_grad():
        logits = head._logit(head.head_input(brighter))
    mean, spread_, map_spread, weight = (float(x) for x in head.norm)
    assert mean == pytest.approx(float(logits.mean()), rel=1e-5)
    assert map_spread == 2.0 and weight == pytest.approx(0.7)
