"""The lighting guard at inspection: a frame far darker or noisier than the model was calibrated for gets CHECK
(UNCERTAIN) with its reason, in the result, from the real ``llad infer`` on files, and in the inspection log."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.cli import main
from core.data.io import load_image
from core.data.lowlight import change_exposure
from core.data.sensor import SensorParams, render
from core.lighting import TOO_DARK, TOO_NOISY
from core.log import InspectionLog
from core.predictor import Predictor
from core.preprocess import mean_linear, resize_rgb
from core.types import Thresholds, Verdict


def _frames(trained, mtd) -> dict[str, np.ndarray]:
    """A good tile as it is, far darker than calibrated, and from a far noisier camera (30 e- full well, at the
    model's input size: a signal-to-noise ratio under 1) whose frame still reads at a calibrated exposure."""
    tile = load_image(mtd.train[0].path)
    darkest = trained.post.lighting.exposure_min * trained.welllit_mean / mean_linear(tile)
    small = resize_rgb(tile, trained.config.image_size)
    return {
        "well": tile,
        "dark": change_exposure(tile, 0.05 * darkest),
        "noisy": render(small, SensorParams(exposure=0.05, full_well=30.0, read_noise=1.0), 0),
    }


def test_the_calibrated_range_is_saved_and_spans_the_training_cameras(trained):
    lighting = trained.post.lighting
    assert lighting is not None
    assert lighting.exposure_min < 1 / 16 and lighting.exposure_max > 1.0 and lighting.noise_max > 0.05
    assert "exposure" in lighting.describe()


def test_a_far_darker_or_noisier_frame_is_checked_with_its_reason(trained, mtd):
    predictor = Predictor(trained, Thresholds(image=1.0))
    frames = _frames(trained, mtd)
    well, dark, noisy = (predictor.predict(frames[k]) for k in ("well", "dark", "noisy"))
    assert well.reason == "" and well.verdict is not Verdict.UNCERTAIN
    assert (dark.reason, dark.verdict) == (TOO_DARK, Verdict.UNCERTAIN)
    assert dark.lighting.exposure < trained.post.lighting.exposure_min
    assert (noisy.reason, noisy.verdict) == (TOO_NOISY, Verdict.UNCERTAIN)
    assert noisy.lighting.noise > trained.post.lighting.noise_max
    # re-deciding with other thresholds keeps the reason's CHECK: a score can say nothing for such a frame
    assert dark.with_thresholds(Thresholds(image=1e-6)).verdict is Verdict.UNCERTAIN
    assert well.with_thresholds(Thresholds(image=well.score - 0.5)).verdict is Verdict.NG  # a frame in range: by score


def test_llad_infer_prints_and_logs_the_reason(store, trained, mtd, tmp_path, monkeypatch, capsys):
    recipe = store.create("tiles")
    recipe.save_version(trained, activate=True)
    folder = tmp_path / "frames"
    folder.mkdir()
    for name, image in _frames(trained, mtd).items():
        cv2.imwrite(str(folder / f"{name}.png"), image[:, :, ::-1])
    monkeypatch.setenv("LLAD_HOME", str(tmp_path / "home"))
    rc = main(["infer", "--recipes", str(store.root), "--category", "tiles", "--log", str(folder)])
    assert rc == 0
    lines = {json.loads(x)["path"].rsplit("/", 1)[-1]: json.loads(x) for x in capsys.readouterr().out.splitlines()}
    assert (lines["dark.png"]["verdict"], lines["dark.png"]["reason"]) == ("UNCERTAIN", TOO_DARK)
    assert (lines["noisy.png"]["verdict"], lines["noisy.png"]["reason"]) == ("UNCERTAIN", TOO_NOISY)
    assert lines["well.png"]["reason"] == ""
    assert lines["dark.png"]["lighting"]["exposure"] < trained.post.lighting.exposure_min
    with InspectionLog(tmp_path / "home" / "inspections.sqlite") as log:
        logged = {r.image_ref.rsplit("/", 1)[-1]: r for r in log.query(category="tiles")}
    assert logged["dark.png"].reason == TOO_DARK and logged["noisy.png"].reason == TOO_NOISY
    assert logged["well.png"].reason == ""


@pytest.mark.parametrize("mode", ["lowlight", "welllit"])
def test_each_mode_fitted_how_scores_rise_with_noise(trained, mode):
    """Calibration views span noise levels, so each mode's noise reference lies inside the range it saw."""
    cal = trained.post.modes[mode]
    assert cal.noise_lo <= cal.noise_ref <= cal.noise_hi
    assert cal.noise_hi - cal.noise_lo > 0.5  # views from several cameras, not one
    assert 0.0 <= cal.noise_slope <= 2.0
