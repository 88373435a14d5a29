"""Inference: result shapes at input resolution, the three input modes, batching, and re-deciding from cache."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.io import load_image
from core.data.lowlight import synthesize_lowlight
from core.predictor import Predictor
from core.types import Frame, InputMode, Thresholds, Verdict


@pytest.fixture(scope="module")
def predictor(trained):
    return Predictor(trained, category="tiles", version="v001")


@pytest.fixture(scope="module")
def tile(generated, predictor):
    """The first test part whose lighting is inside the model's range (a part outside it is CHECK whatever its
    score: the lighting guard's own tests cover that)."""
    for s in generated.test:
        image = load_image(s.path)
        if not predictor.predict(image).reason:
            return image
    raise AssertionError("every generated test part is outside the model's lighting range")


def test_result_maps_are_at_input_resolution_and_timed(predictor, tile):
    r = predictor.predict(Frame(tile, source="test", ref="x.png"))
    h, w = tile.shape[:2]
    assert r.anomaly_map.shape == (h, w) and r.anomaly_map.dtype == np.float32
    assert r.illumination_map.shape == (h, w)
    assert float(r.illumination_map.min()) > 0 and float(r.illumination_map.max()) <= 1
    assert set(r.timings) == {"pre", "model", "post"} and r.total_ms > 0
    assert r.category == "tiles" and r.model_version == "v001" and r.frame.ref == "x.png"
    assert np.isfinite(r.score)


def test_auto_mode_follows_the_exposure(predictor, tile):
    dark, _ = synthesize_lowlight(tile, 0.9, 0)
    assert predictor.predict(tile).mode == InputMode.WELLLIT
    assert predictor.predict(dark).mode == InputMode.LOWLIGHT
    assert predictor.predict(Frame(dark, partner=tile)).mode == InputMode.PAIRED
    assert predictor.predict(tile, InputMode.LOWLIGHT).mode == InputMode.LOWLIGHT


def test_illumination_map_shows_the_uneven_light(predictor, tile):
    shaded = tile.copy()
    shaded[:, : tile.shape[1] // 2] //= 5
    ill = predictor.predict(shaded, InputMode.LOWLIGHT).illumination_map
    assert ill[:, : tile.shape[1] // 4].mean() < 0.6 * ill[:, -tile.shape[1] // 4 :].mean()


def test_batch_equals_one_by_one(predictor, generated):
    imgs = [load_image(s.path) for s in generated.test[:3]]
    batch = predictor.predict_batch(imgs, InputMode.WELLLIT)
    single = [predictor.predict(i, InputMode.WELLLIT) for i in imgs]
    assert [b.raw_score for b in batch] == pytest.approx([s.raw_score for s in single], rel=1e-4)


def test_mixed_modes_in_one_batch_keep_their_order(predictor, tile):
    dark, _ = synthesize_lowlight(tile, 0.9, 1)
    out = predictor.predict_batch([tile, dark, tile])
    assert [r.mode for r in out] == [InputMode.WELLLIT, InputMode.LOWLIGHT, InputMode.WELLLIT]


def test_new_thresholds_re_decide_without_running_the_model(predictor, tile):
    r = predictor.predict(tile)
    calls = []
    original = predictor.detector.forward
    predictor.detector.forward = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        low = r.with_thresholds(Thresholds(image=r.score - 0.01))
        high = r.with_thresholds(Thresholds(image=r.score + 0.01))
        band = r.with_thresholds(Thresholds(image=r.score + 0.01, uncertain_band=0.05))
    finally:
        predictor.detector.forward = original
    assert calls == []
    assert (low.verdict, high.verdict, band.verdict) == (Verdict.NG, Verdict.OK, Verdict.UNCERTAIN)
    assert low.anomaly_map is r.anomaly_map


def test_paths_and_arrays_are_accepted(predictor, generated):
    by_path = predictor.predict(str(generated.test[1].path))
    by_array = predictor.predict(load_image(generated.test[1].path))
    assert by_path.raw_score == pytest.approx(by_array.raw_score, rel=1e-5)
    assert by_path.frame.ref == str(generated.test[1].path)


def test_traced_graphs_give_the_eager_results(trained, generated):
    """The encoder's and the network's no-gradient passes run as traced graphs (core.graphs); switched off, the
    same images give the same scores and maps to float rounding."""
    images = [load_image(s.path) for s in generated.test[:2]]
    dark, _ = synthesize_lowlight(images[0], 0.8, 4)
    fast = Predictor(trained)
    slow = Predictor(trained)
    slow.detector.use_graphs = False
    for mode, items in ((InputMode.WELLLIT, images), (InputMode.LOWLIGHT, [dark, *images])):
        with_graphs = fast.predict_batch(items, mode)
        slow.detector.encoder.use_graphs = False
        try:
            eager = slow.predict_batch(items, mode)
        finally:
            slow.detector.encoder.use_graphs = True  # the encoder is shared by every model of the process
        for g, e in zip(with_graphs, eager):
            assert g.raw_score == pytest.approx(e.raw_score, rel=1e-4, abs=1e-6)
            np.testing.assert_allclose(g.anomaly_map, e.anomaly_map, rtol=1e-3, atol=1e-4 * float(e.anomaly_map.max()))
            np.testing.assert_allclose(g.illumination_map, e.illumination_map, rtol=1e-4, atol=1e-6)
    # traced at a batch of 2, the network's graph served the batch of 3 too (and every mode: one image size);
    # each mode's map has a graph of its own, for its batch shape
    assert len(fast.detector._net_graphs) == 1 and len(slow.detector._net_graphs) == 0
    maps = fast.detector._map_graphs
    assert (len(maps[InputMode.WELLLIT]), len(maps[InputMode.LOWLIGHT]), len(maps[InputMode.PAIRED])) == (1, 1, 0)
    assert not any(len(cache) for cache in slow.detector._map_graphs.values())


def test_a_map_graph_follows_its_modes_terms_when_a_fit_replaces_them(trained, tile):
    """A term's fit assigns new buffers (its versions start again at zero): the map's graph is traced again, and
    never gives the map of the terms it was traced with."""
    import copy

    import torch

    model = copy.deepcopy(trained)  # the session's model stays as trained
    predictor = Predictor(model)
    before = predictor.predict(tile, InputMode.WELLLIT)
    density = model.post.scoring[InputMode.WELLLIT.value].density
    density.means = density.means + 3 * torch.randn_like(density.means)  # a new tensor
    after = predictor.predict(tile, InputMode.WELLLIT)
    predictor.detector.use_graphs = False
    eager = predictor.predict(tile, InputMode.WELLLIT)
    assert len(predictor.detector._map_graphs[InputMode.WELLLIT]) == 1  # traced again; the stale one dropped
    assert not np.allclose(after.anomaly_map, before.anomaly_map, atol=1e-3 * float(before.anomaly_map.max()))
    np.testing.assert_allclose(
        after.anomaly_map, eager.anomaly_map, rtol=1e-3, atol=1e-4 * float(eager.anomaly_map.max())
    )


def test_the_detector_of_a_training_traces_no_map(trained, tile):
    """Calibration fits the terms one by one between passes: its detector runs the maps eagerly."""
    import torch

    from core.backbone import shared_encoder
    from core.model.detector import AnomalyDetector
    from core.preprocess import mode_images, view_tensors

    detector = AnomalyDetector(shared_encoder(), trained.net, trained.post.scoring).eval()
    views = [mode_images(InputMode.WELLLIT, tile, None, trained.config.image_size, trained.welllit_mean)]
    inputs, targets, light = view_tensors(views)
    with torch.inference_mode():
        detector(inputs, targets, light, InputMode.WELLLIT)
    assert not any(len(cache) for cache in detector._map_graphs.values())


def test_warm_up_traces_the_graphs_before_the_first_frame(trained, tile):
    predictor = Predictor(trained)
    assert len(predictor.detector._net_graphs) == 0
    predictor.warm_up()
    maps = predictor.detector._map_graphs
    calibrated = {InputMode(m) for m in trained.post.modes}
    assert len(predictor.detector._net_graphs) == 1
    assert {m for m, cache in maps.items() if len(cache)} == calibrated and InputMode.LOWLIGHT in calibrated
    predictor.predict(tile, InputMode.LOWLIGHT)
    predictor.predict(tile, InputMode.WELLLIT)
    assert all(len(cache) == (m in calibrated) for m, cache in maps.items())  # a frame at a time: nothing new
    predictor.predict_batch([tile, tile], InputMode.WELLLIT)
    assert len(predictor.detector._net_graphs) == 1  # the network's serves every mode and batch
    assert len(maps[InputMode.WELLLIT]) == 2  # a map's graph is per batch shape


def test_a_network_in_training_mode_is_never_run_as_a_graph(trained, tile):
    """A graph runs the network as in eval mode; in training mode its batch norms use the batch's statistics."""
    import torch

    predictor = Predictor(trained)
    net = predictor.detector.net
    net.train()
    try:
        with torch.no_grad():
            x = torch.rand(2, 3, predictor.image_size, predictor.image_size)
            predictor.detector(x)
        assert len(predictor.detector._net_graphs) == 0 and net.training
    finally:
        net.eval()
