"""The post-processor as one saved object: its stages in order, a save/load round trip with every setting giving
the same scores, a default changed in the code after a fit leaving a saved model's scores alone, and calibration
fitting the stages in the order they run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.checkpoint import MODEL_FILE, POST_PREFIX, WEIGHTS_FILE, read_version, write_version
from core.data.io import load_image
from core.data.sensor import render
from core.model.anomaly_map import AnomalyMapGenerator
from core.model.density import FeatureDensity
from core.model.foreign_region import ForeignRegion
from core.model.image_density import ImageDensity
from core.model.image_gate import ImageGate
from core.model.region_contrast import RegionContrast
from core.model.stage import Stage
from core.postprocess import STAGES, PostProcessor
from core.predictor import Predictor
from core.robustness import BASE
from core.types import Frame, InputMode

#: settings read while scoring (not only while fitting), and a value for each that changes a score or a map
INSPECTION_SETTINGS = [
    (AnomalyMapGenerator, "top_k", 0.2),
    (FeatureDensity, "window", 1),
    (RegionContrast, "window", 1),
    (ForeignRegion, "light_blurs", (0.02, 0.6)),
    (ImageDensity, "max_factor", 1.5),
    (ImageGate, "z_cap", 0.1),
]


@pytest.fixture(scope="module")
def frames(generated):
    """A good and a defective generated part, each as a well-lit frame, a dark one and a pair."""
    out = []
    for s in (generated.test[0], [t for t in generated.test if t.label == 1][0]):
        image = load_image(s.path)
        dark = render(image, BASE, 7)
        out += [(InputMode.WELLLIT, Frame(image)), (InputMode.LOWLIGHT, Frame(dark))]
        out.append((InputMode.PAIRED, Frame(dark, partner=image)))
    return out


def _results(model, frames) -> list[tuple[float, np.ndarray]]:
    predictor = Predictor(model, device="cpu")
    return [(r.raw_score, r.anomaly_map) for r in (predictor.predict(f, m) for m, f in frames)]


def _assert_same(a, b) -> None:
    for (score_a, map_a), (score_b, map_b) in zip(a, b):
        assert score_b == pytest.approx(score_a, rel=1e-5, abs=1e-7)
        np.testing.assert_allclose(map_b, map_a, rtol=1e-4, atol=1e-5 * float(np.abs(map_a).max()))


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("version")
    write_version(folder, trained)
    return folder


def test_the_stages_are_listed_in_the_order_they_run(trained):
    names = [name for name, _ in trained.post.stages(InputMode.LOWLIGHT)]
    assert names == [name for name, _ in STAGES] + ["calibration", "lighting"]
    stages = dict(trained.post.stages(InputMode.LOWLIGHT))
    assert stages["calibration"] is trained.post.modes["lowlight"] and stages["lighting"] is trained.post.lighting
    assert all(isinstance(stages[name], Stage) for name, _ in STAGES)


def test_a_saved_post_processor_holds_every_setting_and_tensor(trained, saved):
    meta = json.loads((saved / MODEL_FILE).read_text())
    scoring = meta["calibration"]["scoring"]
    assert set(scoring["settings"]) == {m.value for m in InputMode}
    for stages in scoring["settings"].values():
        assert set(stages) == {name for name, _ in STAGES}  # model.json is written with sorted keys
        assert stages["gate"] == {"max_weight": 0.4, "z_floor": 3.0, "z_cap": 2.5}
        assert stages["map"]["sigma"] == 4.0 and stages["foreign_region"]["light_blurs"] == [0.08, 0.3]
    from safetensors.torch import load_file

    keys = load_file(str(saved / WEIGHTS_FILE)).keys()
    post_keys = {k[len(POST_PREFIX) :] for k in keys if k.startswith(POST_PREFIX)}
    assert post_keys == set(trained.post.state_dict()) and "lowlight.gate.z_cap" not in post_keys
    assert not any(k.startswith(("whitening.", "densities.", "gates.")) for k in keys)  # none left in the network


def test_save_and_load_give_the_same_scores_and_maps(trained, saved, frames):
    loaded = read_version(saved)
    assert loaded.post.to_dict() == json.loads(json.dumps(trained.post.to_dict()))
    _assert_same(_results(trained, frames), _results(loaded, frames))


def test_a_post_processor_round_trips_through_its_dict_and_state(trained, frames):
    again = PostProcessor.from_dict(json.loads(json.dumps(trained.post.to_dict())), trained.post.state_dict())
    assert again.to_dict() == json.loads(json.dumps(trained.post.to_dict()))
    for (key, a), b in zip(trained.post.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), key
    numbers_only = PostProcessor.from_dict(trained.post.to_dict())  # what the threshold assistant reads
    assert numbers_only.scoring is None and numbers_only.modes.keys() == trained.post.modes.keys()


def test_changed_defaults_leave_a_saved_model_alone(saved, frames, monkeypatch):
    """Each setting read while scoring, changed in the code after the model was saved: the loaded model scores as
    before, while a post-processor made from the new defaults (its stages' settings not saved) does not."""
    before = _results(read_version(saved), frames)
    for cls, name, value in INSPECTION_SETTINGS:
        monkeypatch.setattr(cls, name, value)
    monkeypatch.setattr(FeatureDensity, "shrinkage", 0.5)  # a fit-only setting: saved all the same
    loaded = read_version(saved)
    assert loaded.post.stage(InputMode.LOWLIGHT, "gate").z_cap == 2.5
    _assert_same(before, _results(loaded, frames))

    meta = json.loads((saved / MODEL_FILE).read_text())["calibration"]
    meta["scoring"]["settings"] = {mode: {} for mode in meta["scoring"]["settings"]}
    defaults = PostProcessor.from_dict(meta, loaded.post.state_dict())
    assert defaults.stage(InputMode.LOWLIGHT, "gate").z_cap == 0.1
    loaded.post = defaults
    changed = _results(loaded, frames)
    assert any(
        not np.isclose(a[0], b[0], rtol=1e-3) or not np.allclose(a[1], b[1], rtol=1e-3) for a, b in zip(before, changed)
    )


def test_a_stage_refuses_a_setting_it_does_not_have_and_keeps_types():
    with pytest.raises(ValueError, match="no setting"):
        ImageGate({"z_cap": 1.0, "shininess": 2})
    head = ForeignRegion((8, 16, 32), json.loads(json.dumps({"light_blurs": [0.1, 0.4], "width": 8})))
    assert head.light_blurs == (0.1, 0.4) and head.head[0].out_channels == 8  # the head is built to its settings
    assert ForeignRegion.light_blurs == (0.08, 0.30) and ForeignRegion.width == 32  # the defaults untouched
