"""The inspection mask: geometry, storage with the recipe and its versions, and its effect on a real model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import RecipeError
from core.roi import RoiMask, RoiShape, polygon, rectangle

LEFT_HALF = RoiMask((rectangle(0.0, 0.0, 0.5, 1.0),))


def test_rasterize_union_of_includes_minus_excludes():
    mask = RoiMask(
        (
            rectangle(0.0, 0.0, 0.5, 0.5),
            polygon([(0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0)]),
            rectangle(0.1, 0.1, 0.2, 0.2, include=False),
        )
    )
    m = mask.rasterize(100, 200)
    assert m.shape == (100, 200) and m.dtype == bool
    assert m[25, 50] and m[75, 150]  # inside each include
    assert not m[15, 30]  # inside the exclude
    assert not m[75, 50] and not m[25, 150]  # in no include
    assert 0.45 < m.mean() < 0.5
    # normalised coordinates: the same mask at another size covers the same share
    assert abs(mask.rasterize(37, 53).mean() - m.mean()) < 0.06


def test_no_include_means_whole_image_minus_excludes():
    mask = RoiMask((rectangle(0.0, 0.0, 1.0, 0.25, include=False),))
    m = mask.rasterize(40, 40)
    assert not m[:9].any() and m[11:].all()
    assert RoiMask().rasterize(8, 8).all() and RoiMask().is_empty


def test_json_round_trip_and_validation():
    mask = RoiMask((rectangle(0.1, 0.2, 0.8, 0.9), polygon([(0.2, 0.2), (0.6, 0.3), (0.4, 0.7)], include=False)))
    again = RoiMask.from_dict(json.loads(json.dumps(mask.to_dict())))
    assert again == mask
    assert np.array_equal(again.rasterize(64, 48), mask.rasterize(64, 48))
    assert RoiMask.from_dict(None).is_empty
    bad = [
        {"shapes": [{"kind": "circle", "points": [[0, 0], [1, 1]]}]},
        {"shapes": [{"kind": "rect", "points": [[0, 0], [1.5, 1]]}]},
        {"shapes": [{"kind": "rect", "points": [[0.2, 0.2], [0.2, 0.8]]}]},
        {"shapes": [{"kind": "polygon", "points": [[0, 0], [1, 1]]}]},
        {"shapes": [{"kind": "polygon", "points": [[0, 0], [0.5, 0.5], [1, 1]]}]},
        {"shapes": [{"kind": "rect", "points": [[0, 0], [1, 1]], "include": False}]},  # nothing left
        {"shapes": [{"points": [[0, 0], [1, 1]]}]},
        {"shapes": "all"},
    ]
    for d in bad:
        with pytest.raises(RecipeError):
            RoiMask.from_dict(d)


def test_fill_outside_and_mask_map():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    filled = LEFT_HALF.fill_outside(img)
    inside = LEFT_HALF.rasterize(20, 30)
    assert np.array_equal(filled[inside], img[inside])
    expect = np.round(img[inside].mean(0)).astype(np.uint8)
    assert (filled[~inside] == expect).all()
    # what is outside does not matter
    other = img.copy()
    other[:, 20:] = 255
    assert np.array_equal(LEFT_HALF.fill_outside(other), filled)
    amap = rng.random((2, 20, 30)).astype(np.float32)
    masked = LEFT_HALF.mask_map(amap, -1.0)
    assert (masked[:, ~inside] == -1).all() and np.array_equal(masked[:, inside], amap[:, inside])


def test_recipe_stores_the_mask(store):
    recipe = store.create("roi-part")
    assert recipe.roi().is_empty
    recipe.set_roi(LEFT_HALF)
    assert store.get("roi-part").roi() == LEFT_HALF
    with pytest.raises(RecipeError):
        recipe.set_roi(RoiMask((RoiShape("rect", ((0.0, 0.0), (1.0, 1.0)), include=False),)))
    assert recipe.roi() == LEFT_HALF  # a refused mask leaves the saved one
    recipe.set_roi(RoiMask())
    assert recipe.roi().is_empty


def _paste_defect(image: np.ndarray, x0: float, x1: float) -> np.ndarray:
    """A dark scratched patch over the columns x0..x1 (fractions of the width), rows 30..70 %."""
    out = image.copy()
    h, w = out.shape[:2]
    ys, xs = slice(int(0.3 * h), int(0.7 * h)), slice(int(x0 * w), int(x1 * w))
    out[ys, xs] = (out[ys, xs] * 0.15).astype(out.dtype)
    out[ys, xs][::4] = 255
    return out


@pytest.mark.dataset
def test_defect_outside_the_mask_changes_nothing_inside_it_does(mtd, store, tmp_path, capsys):
    import cv2

    from core.cli import main
    from core.data.io import load_image
    from core.predictor import Predictor
    from core.training import preset, run_fit

    recipe = store.create("masked")
    recipe.set_roi(LEFT_HALF)
    trained = run_fit(mtd.train[:20], preset("tiny", steps=30), roi=recipe.roi())
    version = recipe.save_version(trained, activate=True)
    assert recipe.version_roi(version) == LEFT_HALF  # the version records the mask it was trained with
    recipe.set_roi(RoiMask())  # a later change of the category's mask does not alter the version
    predictor = Predictor.from_recipe(recipe)
    assert predictor.roi == LEFT_HALF

    goods = [s.path for s in mtd.test if s.label == 0][:16]
    clean = {p: predictor.predict(load_image(p)) for p in goods}
    # a part lit as the model was calibrated (outside that range it is CHECK whatever the mask: the guard's tests)
    path = min((p for p in clean if not clean[p].reason), key=lambda p: clean[p].score)
    image = load_image(path)
    base = clean[path]
    outside = predictor.predict(_paste_defect(image, 0.6, 0.95))
    inside = predictor.predict(_paste_defect(image, 0.1, 0.4))
    assert outside.score == pytest.approx(base.score, abs=1e-5)
    assert outside.verdict == base.verdict
    assert not outside.region_mask()[:, int(0.55 * image.shape[1]) :].any()  # no outline outside
    assert float(np.abs(outside.anomaly_map[:, int(0.55 * image.shape[1]) :]).max()) == 0.0
    assert inside.score > base.score + 0.5
    assert inside.verdict != base.verdict and inside.verdict.value == "NG"

    # the CLI inspects with the version's mask too
    folder = tmp_path / "cli"
    folder.mkdir()
    for name, img in (("a_clean", image), ("b_outside", _paste_defect(image, 0.6, 0.95))):
        cv2.imwrite(str(folder / f"{name}.png"), np.ascontiguousarray(img[:, :, ::-1]))
    cv2.imwrite(str(folder / "c_inside.png"), np.ascontiguousarray(_paste_defect(image, 0.1, 0.4)[:, :, ::-1]))
    capsys.readouterr()
    assert main(["infer", "--recipes", str(store.root), "--category", "masked", str(folder)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["verdict"] for r in rows] == [base.verdict.value, base.verdict.value, "NG"]
    assert rows[0]["score"] == rows[1]["score"] == pytest.approx(base.score, abs=1e-3)
