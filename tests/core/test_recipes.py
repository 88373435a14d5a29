"""Recipes on disk: names, versions, round trips, and every way a file can be wrong or hostile."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from core.data.io import load_image
from core.data.lowlight import change_exposure
from core.errors import RecipeError
from core.predictor import Predictor
from core.preprocess import mean_linear
from core.recipes import SCHEMA_VERSION, RecipeStore, validate_name
from core.types import InputMode, Thresholds


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "a/b", "a\\b", "..", "../up", "x..y", ".hidden", "con", "LPT1.txt", "trailing.", "é" * 3, "a" * 65],
)
def test_bad_names_are_refused_with_a_reason(bad):
    with pytest.raises(RecipeError, match="category name|reserved|empty"):
        validate_name(bad)


def test_good_names_pass():
    for name in ["tiles", "Tile 2", "bracket_v1.2", "A-1"]:
        assert validate_name(name) == name


def test_create_rename_duplicate_delete(store):
    store.create("tiles")
    with pytest.raises(RecipeError, match="already exists"):
        store.create("tiles")
    with pytest.raises(RecipeError, match="already exists"):
        store.create("TILES")
    store.rename("tiles", "tiles-a")
    assert store.names() == ["tiles-a"]
    store.duplicate("tiles-a", "tiles-b")
    assert store.names() == ["tiles-a", "tiles-b"]
    assert store.get("tiles-b").meta()["name"] == "tiles-b"
    store.delete("tiles-a")
    assert store.names() == ["tiles-b"]
    with pytest.raises(RecipeError, match="no category"):
        store.get("tiles-a")


def test_names_cannot_escape_the_recipes_folder(store, tmp_path):
    for name in ["../evil", "/etc", "a/../../b"]:
        with pytest.raises(RecipeError):
            store.create(name)
    assert not (tmp_path / "evil").exists()


def test_samples_exclusion_and_partners(store, generated):
    r = store.create("tiles")
    img = load_image(generated.train[0].path)
    p = r.add_sample(img, lowlight=img // 4, stem="s1")
    r.add_sample(img, stem="s2")
    assert [s.path.name for s in r.samples()] == ["s1.png", "s2.png"]
    assert r.samples()[0].partner is not None and r.samples()[1].partner is None
    r.set_excluded({"s2.png"})
    assert [s.path.name for s in r.samples()] == ["s1.png"]
    r.delete_sample("s1.png")
    assert not p.exists() and not (r.lowlight_dir / "s1.png").exists()


def test_imported_pairs_stay_paired_when_names_clash(store, tmp_path, generated):
    """Importing a second batch with the same file names renames the new good images, and their low-light
    partners follow them: no existing sample loses or swaps its partner."""
    r = store.create("pairs")
    src = [generated.train[0].path, generated.train[1].path]
    well, dark = tmp_path / "well", tmp_path / "dark"
    for folder in (well, dark):
        folder.mkdir()
        for k, p in enumerate(src):
            (folder / f"part{k}.png").write_bytes(p.read_bytes())
    first = r.import_samples(sorted(well.iterdir()), sorted(dark.iterdir()))
    old_partner = (r.lowlight_dir / "part0.png").read_bytes()
    # a second batch: the same names, different pictures
    for k, p in enumerate(reversed(src)):
        (well / f"part{k}.png").write_bytes(p.read_bytes())
        (dark / f"part{k}.png").write_bytes(p.read_bytes())
    second = r.import_samples(sorted(well.iterdir()), [dark / "part0.png"])
    assert [p.name for p in first] == ["part0.png", "part1.png"]
    assert [p.name for p in second] == ["part0-1.png", "part1-1.png"]
    assert (r.lowlight_dir / "part0.png").read_bytes() == old_partner  # untouched
    pairs = {s.path.name: s.partner for s in r.samples()}
    assert pairs["part0-1.png"].name == "part0-1.png"
    assert pairs["part0-1.png"].read_bytes() == src[1].read_bytes()
    assert pairs["part1-1.png"] is None  # it came without a partner
    assert pairs["part0.png"] is not None and pairs["part1.png"] is not None


def test_version_round_trip_gives_identical_results(store, trained, generated):
    r = store.create("tiles")
    v = r.save_version(trained, activate=True)
    assert v == "v001" and r.active_version == "v001"
    assert r.save_version(trained) == "v002" and r.active_version == "v001"
    img = load_image(generated.test[0].path)
    a = Predictor(trained).predict(img)
    b = Predictor.from_recipe(store.get("tiles")).predict(img)
    assert b.raw_score == pytest.approx(a.raw_score, rel=1e-5)
    assert np.allclose(a.anomaly_map, b.anomaly_map, atol=1e-4)
    info = r.version_info("v001")
    assert info.sample_count == 20 and info.preset == "tiny"


def test_thresholds_persist_and_reset(store):
    r = store.create("tiles")
    r.set_thresholds(Thresholds(1.4, 0.8, 0.2))
    assert RecipeStore(store.root).get("tiles").thresholds() == Thresholds(1.4, 0.8, 0.2)
    assert r.reset_thresholds() == Thresholds(1.0, 1.0, 0.2)


@pytest.fixture()
def saved(store, trained):
    r = store.create("tiles")
    r.save_version(trained, activate=True)
    return r, r.versions_dir / "v001"


def test_the_low_light_cut_off_is_saved_and_older_models_keep_half_the_mean(saved, trained, generated):
    """Automatic mode's cut-off travels with the model: the saved one decides which mode a dim part gets; a
    model.json from before it was stored loads with half the training images' mean exposure, as such models were
    run."""
    r, folder = saved
    assert r.load().lowlight_below == pytest.approx(trained.lowlight_below)
    tile = load_image(generated.train[0].path)
    dim = change_exposure(tile, 0.3)  # well under half of the 20 training tiles' mean
    assert Predictor(r.load()).predict(dim).mode == InputMode.LOWLIGHT
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "lowlight_below": 0.2 * mean_linear(dim)}))
    assert Predictor(r.load()).predict(dim).mode == InputMode.WELLLIT
    del meta["lowlight_below"]
    (folder / "model.json").write_text(json.dumps(meta))
    old = r.load()
    assert old.lowlight_below is None and old.lowlight_exposure == pytest.approx(0.5 * trained.welllit_mean)
    assert Predictor(old).predict(dim).mode == InputMode.LOWLIGHT


def test_tampered_weights_are_refused(saved):
    r, folder = saved
    data = bytearray((folder / "weights.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (folder / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(RecipeError, match="SHA-256"):
        r.load()


def test_damaged_json_missing_weights_and_newer_formats_are_refused(saved):
    r, folder = saved
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(RecipeError, match="format 99"):
        r.load()
    # before the reset at 15; 15 (scoring not saved whole); 16 (scored with the noise floor since removed): retrain
    for older in (1, 6, 14, 15, 16):
        (folder / "model.json").write_text(json.dumps({**meta, "format": older}))
        with pytest.raises(RecipeError, match=f"older LLAD \\(model format {older};.*retrain this category"):
            r.load()
    (folder / "model.json").write_text("{not json")
    with pytest.raises(RecipeError, match="damaged"):
        r.load()
    (folder / "model.json").write_text(json.dumps(meta))
    (folder / "weights.safetensors").unlink()
    with pytest.raises(RecipeError, match="missing"):
        r.load()
    rj = json.loads(r.meta_path.read_text())
    r.meta_path.write_text(json.dumps({**rj, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(RecipeError, match="newer LLAD"):
        r.meta()


def test_foreign_backbone_and_foreign_architecture_are_refused(saved, trained):
    r, folder = saved
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "backbone": {"name": "resnet50", "sha256": "0" * 64}}))
    with pytest.raises(RecipeError, match="backbone"):
        r.load()
    cfg = dict(meta["net_config"], hidden=32)
    (folder / "model.json").write_text(json.dumps({**meta, "net_config": cfg}))
    with pytest.raises(RecipeError, match="does not describe a model"):
        r.load()


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {_Exploit.marker}",))


def test_a_checkpoint_crafted_to_run_code_is_refused_and_never_runs(saved, tmp_path):
    import hashlib

    r, folder = saved
    marker = tmp_path / "pwned"
    _Exploit.marker = marker
    payload = pickle.dumps({"weights": _Exploit()})
    (folder / "weights.safetensors").write_bytes(payload)
    meta = json.loads((folder / "model.json").read_text())
    meta["weights_sha256"] = hashlib.sha256(payload).hexdigest()  # the attacker fixes the hash too
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(RecipeError, match="not a valid safetensors"):
        r.load()
    assert not marker.exists()


def test_one_broken_category_does_not_hide_the_others(store, trained):
    good = store.create("good")
    good.save_version(trained, activate=True)
    bad = store.create("bad")
    bad.meta_path.write_text("garbage")
    assert store.names() == ["bad", "good"]
    with pytest.raises(RecipeError):
        store.get("bad")
    assert store.get("good").load() is not None


def test_activating_a_version_that_does_not_load_is_refused(saved, trained):
    r, folder = saved
    v2 = r.save_version(trained)
    (r.versions_dir / v2 / "weights.safetensors").write_bytes(b"junk")
    with pytest.raises(RecipeError):
        r.activate(v2)
    assert r.active_version == "v001"
