"""Headless self-test: load the backbone, train a tiny category on generated images, inspect, report JSON.

It needs no dataset and no network, so it proves an installation or a frozen bundle works end to end. What it
checks (``ok``) is that every score is finite and that the part with a defect scores above the good part
(``separates``). The verdicts are reported, not checked: the 25-step model's thresholds come from three held-out
images, so its good part may well be over the threshold.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from core.data.synthetic_parts import generated_part


def run_selftest(keep: str | None = None, n_images: int = 14) -> dict:
    import torch

    from core.backbone import _trunk_graphs, shared_encoder
    from core.data.defects import blotch_defect
    from core.predictor import Predictor
    from core.recipes import RecipeStore
    from core.training import preset, run_fit

    t0 = time.perf_counter()
    encoder = shared_encoder()
    t_backbone = time.perf_counter() - t0
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory(prefix="llad-selftest-") as tmp:
        root = Path(keep) if keep else Path(tmp)
        store = RecipeStore(root / "recipes")
        recipe = store.get("selftest") if store.exists("selftest") else store.create("selftest")
        for i in range(n_images):
            recipe.add_sample(generated_part(rng), stem=f"good{i:02d}")
        t1 = time.perf_counter()
        trained = run_fit(recipe.samples(), preset("tiny", steps=25), encoder=encoder, calibration_defects=6)
        t_train = time.perf_counter() - t1
        version = recipe.save_version(trained, activate=True)
        predictor = Predictor.from_recipe(store.get("selftest"))
        predictor.warm_up()  # as the application does on loading: the times below are an inspection's, not a trace's
        good = generated_part(rng)
        bad, _ = blotch_defect(generated_part(rng), 3)
        r_good, r_bad = predictor.predict(good), predictor.predict(bad)
        # whether the encoder and the network ran as traced graphs (core.graphs) or fell back to the eager passes
        graphs = len(_trunk_graphs(encoder)) > 0 and len(predictor.detector._net_graphs) > 0
    separates = bool(r_bad.score > r_good.score)
    return {
        "ok": bool(np.isfinite(r_good.score) and np.isfinite(r_bad.score)) and separates,
        "separates": separates,
        "torch": torch.__version__,
        "backbone_seconds": round(t_backbone, 2),
        "train_seconds": round(t_train, 2),
        "version": version,
        "inference_graphs": graphs,
        "good": {"score": round(r_good.score, 3), "verdict": r_good.verdict.value, "ms": round(r_good.total_ms, 1)},
        "defect": {"score": round(r_bad.score, 3), "verdict": r_bad.verdict.value, "ms": round(r_bad.total_ms, 1)},
        "total_seconds": round(time.perf_counter() - t0, 2),
    }
