"""The region contrast on its own: what it flags and what it leaves, how it joins the map, and its state on disk."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from core.model.region_contrast import RegionContrast

GRID = 16


def _finish(n: int, generator: torch.Generator, channels: int = 8) -> torch.Tensor:
    """Coarsest-feature-like maps (n, C, 16, 16) of good parts: a smooth random texture, plus a falloff towards
    the bottom rows in channel 0 that every good part has (the light, or the part's shape)."""
    noise = torch.randn(n, channels, GRID + 2, GRID + 2, generator=generator)
    f = F.avg_pool2d(noise, 3, 1)  # neighbouring cells alike, as an encoder's are
    f[:, 0] += torch.linspace(0, 2, GRID).view(GRID, 1)
    return f


def _fitted(generator: torch.Generator, weight: float | None = None) -> RegionContrast:
    region = RegionContrast()
    region.fit(_finish(120, generator), map_spread=0.5, weight=weight)
    return region


def test_a_band_of_another_finish_stands_out_from_the_rest_of_its_part():
    """Rows 0-3 of one part have another finish (channels 2 and 3 shifted by about their spread): the band's
    z-scores rise far above the rest of that part and above good parts anywhere. Held-out good parts score about
    zero with unit spread (a z-score), the falloff every good part has included."""
    rng = torch.Generator().manual_seed(0)
    region = _fitted(rng)
    good = region.zscores(_finish(40, rng))
    assert good.shape == (40, 1, GRID, GRID)
    assert abs(float(good.mean())) < 0.3 and 0.7 < float(good.std()) < 1.4
    ends, middle = torch.cat([good[:, :, :3], good[:, :, -3:]]).mean(), good[:, :, 6:10].mean()
    assert abs(float(ends - middle)) < 1.0  # the falloff is the parts' (without the position mean: about 3)

    part = _finish(1, rng)
    part[:, 2:4, :4] += 0.8
    z = region.zscores(part)[0, 0]
    band, rest = z[:3], z[7:]  # well inside the band, and clear of the 5-cell window around its edge
    assert float(band.mean()) > float(rest.mean()) + 2
    assert float(band.mean()) > float(good.amax((1, 2, 3)).mean())


def test_a_part_whose_whole_finish_changed_is_not_a_region_defect():
    """The same shift over the whole part leaves each region like the rest of its part: the map term stays
    about where good parts' is (a different finish overall is the image density's to score)."""
    rng = torch.Generator().manual_seed(1)
    region = _fitted(rng)
    part = _finish(20, rng)
    shifted = part.clone()
    shifted[:, 2:4] += 0.8
    assert float(region.zscores(shifted).mean()) == pytest.approx(float(region.zscores(part).mean()), abs=0.1)


def test_the_term_joins_the_map_scaled_to_the_maps_spread():
    """Unfitted or weighted 0 it leaves the map as it is; fitted, the map gains weight x the map's spread x the
    z-scores, upsampled to the map's size."""
    rng = torch.Generator().manual_seed(2)
    features = _finish(2, rng)
    amap = torch.rand(2, 1, 64, 64, generator=rng)
    assert torch.equal(RegionContrast().add_to(amap, features), amap)
    assert torch.equal(_fitted(rng, weight=0.0).add_to(amap, features), amap)

    region = _fitted(rng, weight=1.5)
    assert float(region.norm[2]) == 0.5 and float(region.norm[3]) == 1.5
    z = F.interpolate(region.zscores(features), size=(64, 64), mode="bilinear", align_corners=False)
    torch.testing.assert_close(region.add_to(amap, features), amap + 1.5 * 0.5 * z)
    with pytest.raises(ValueError, match="16, 16.*8, 8"):
        region.zscores(features[:, :, :8, :8])


def test_region_contrast_round_trips_fitted_and_unfitted():
    """Fitted buffers are sized by the fit (channels, directions, grid); a fresh module takes them from a state
    dict and scores alike. An unfitted one saves empty buffers and loads as unfitted."""
    rng = torch.Generator().manual_seed(3)
    region = _fitted(rng)
    assert region.projection.shape == (8, 8) and region.position_mean.shape == (8, GRID, GRID)
    fresh = RegionContrast()
    fresh.load_state_dict(region.state_dict())
    features = _finish(3, rng)
    assert fresh.is_fitted
    torch.testing.assert_close(fresh.zscores(features), region.zscores(features))

    empty = RegionContrast().state_dict()
    assert all(v.numel() <= 4 for v in empty.values())
    again = RegionContrast()
    again.load_state_dict(empty)
    assert not again.is_fitted


def test_too_few_good_images_are_refused():
    rng = torch.Generator().manual_seed(4)
    with pytest.raises(ValueError, match="at least three"):
        RegionContrast().fit(_finish(2, rng), map_spread=1.0)


def test_features_on_another_grid_are_refused():
    region = _fitted(torch.Generator().manual_seed(6))
    with pytest.raises(ValueError, match=r"region contrast was fitted on a \(16, 16\) grid, got \(12, 12\)"):
        region.zscores(torch.randn(1, 8, 12, 12))


@pytest.mark.dataset
def test_on_real_tiles_the_uneven_band_stands_out_from_the_rest_of_its_tile(mtd):
    """Fitted on the encoder's coarsest features of 60 good MTD tiles, the term is higher inside the annotated
    band of *uneven* tiles (a region of another finish, which the reconstruction map barely sees) than over the
    rest of the same tile."""
    import cv2
    import numpy as np

    from core.backbone import shared_encoder
    from core.data.io import load_image
    from core.metrics import auroc
    from core.preprocess import resize_rgb, to_tensor

    encoder = shared_encoder()

    def coarsest(paths):
        with torch.inference_mode():
            return torch.cat(
                [
                    encoder(to_tensor([resize_rgb(load_image(p), 256) for p in paths[i : i + 8]]))[-1]
                    for i in range(0, len(paths), 8)
                ]
            )

    region = RegionContrast()
    region.fit(coarsest([s.path for s in mtd.train[::12][:60]]), map_spread=1.0)
    uneven = [s for s in mtd.test if s.defect_type == "uneven"][::10][:10]
    z = torch.nn.functional.interpolate(region.zscores(coarsest([s.path for s in uneven])), size=64, mode="bilinear")
    masks = np.stack([cv2.resize(cv2.imread(str(s.mask), cv2.IMREAD_GRAYSCALE), (64, 64)) > 127 for s in uneven])
    z = z[:, 0].numpy()
    inside = np.mean([z[i][masks[i]].mean() - z[i][~masks[i]].mean() for i in range(len(uneven)) if masks[i].any()])
    assert inside > 0.3, inside
    assert auroc(z.ravel(), masks.ravel()) > 0.6
