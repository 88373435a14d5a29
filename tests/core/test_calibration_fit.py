"""Calibration as a unit (:func:`core.postprocess.fitting.calibrate`): on a trained network and a fresh
post-processor it fits each mode's stages in the order they run, reports its progress, and leaves the
post-processor with a calibration per mode and a lighting range."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core.backbone import shared_encoder
from core.errors import TrainingCancelled
from core.model.detector import AnomalyDetector
from core.postprocess import STAGES, PostProcessor
from core.postprocess.fitting import calibrate
from core.preprocess import lowlight_cutoff, mean_linear
from core.train_setup import load_items, preset

FITTED = [name for name, _ in STAGES if name != "map"]  # the map's smoothing and score have nothing to fit


def _setup(trained, generated):
    """(detector, fresh post-processor, training items, held-out items, settings, well-lit mean, cut-off)."""
    cfg = preset("tiny", swap_images=8, refinish_images=8, baseline_images=8, density_images=10)
    items, _ = load_items(generated.train[:14], cfg.image_size, lowlight_only=False)
    exposures = [mean_linear(it.welllit) for it in items[3:]]
    post = PostProcessor.for_network(trained.net.config.channels, trained.net.map_grid)
    post.scoring.eval()
    detector = AnomalyDetector(shared_encoder(), trained.net, post.scoring)
    return detector, post, items[3:], items[:3], cfg, float(np.mean(exposures)), lowlight_cutoff(exposures)


def test_calibration_fits_the_stages_in_the_order_they_run(trained, generated, monkeypatch):
    fitted: list[tuple[str, str]] = []
    detector, post, train_items, holdout, cfg, mean, cutoff = _setup(trained, generated)
    for mode, scoring in post.scoring.items():
        for name in FITTED:
            stage = getattr(scoring, name)
            original = stage.fit

            def recording(*args, _fit=original, _name=name, _mode=mode, **kwargs):
                fitted.append((_mode, _name))
                return _fit(*args, **kwargs)

            monkeypatch.setattr(stage, "fit", recording)
    events = list(calibrate(detector, post, train_items, holdout, cfg, mean, cutoff))
    assert list(dict.fromkeys(m for m, _ in fitted)) == ["lowlight", "welllit"]  # no pairs: two modes, low light first
    order = {m: [name for mode, name in fitted if mode == m] for m in ("lowlight", "welllit")}
    # 11 good images: the image density would weigh nothing and is left out; well-lit input is not whitened
    assert order["lowlight"] == [n for n in FITTED if n != "image_density"]
    assert order["welllit"] == [n for n in FITTED if n not in ("image_density", "whitening")]
    assert events[0].stage == "calibrate" and events[-1].message == "calibrated well-lit"
    assert set(post.modes) == {"lowlight", "welllit"} and post.lighting is not None
    views = len(post.modes["lowlight"].good_scores)
    assert views == len(holdout) * cfg.calibration_views
    # the threshold's spread also from the baseline's training images, as many views each
    spread_images = min(cfg.spread_images, cfg.baseline_images, len(train_items))
    for cal in post.modes.values():
        assert len(cal.train_scores) == spread_images * cfg.calibration_views
        assert np.all(np.isfinite(cal.train_scores)) and min(cal.train_scores) > 0
    assert post.stage("lowlight", "foreign_region").is_fitted and post.stage("welllit", "density").is_fitted


def test_calibration_stops_on_cancel_within_a_mode(trained, generated):
    detector, post, train_items, holdout, cfg, mean, cutoff = _setup(trained, generated)
    cancel = threading.Event()
    run = calibrate(detector, post, train_items, holdout, cfg, mean, cutoff, cancel=cancel)
    next(run)  # the first event, before any fit
    cancel.set()
    with pytest.raises(TrainingCancelled):
        next(run)
    assert not post.modes and not bool(post.stage("lowlight", "whitening").fitted)
    assert torch.equal(post.stage("lowlight", "baseline").std, torch.ones_like(post.stage("lowlight", "baseline").std))
