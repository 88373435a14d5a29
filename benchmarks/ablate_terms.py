"""Which scoring terms after the network earn their place? An inspection-time ablation on validation data.

Per data set, a model is trained on part of ``train/good`` (as :mod:`benchmarks.validate_lighting` does) and other
held-out ``train/good`` images, each with a synthetic defect (and its mask), are inspected well-lit and as random
cameras of the training and the held-out families capture them. Each variant switches one term off at inspection
(the model, its fitted terms and its thresholds are the same for all variants), and the report gives the image
AUROC (good against defective copy) and the pixel AUROC on the synthetic defects' masks per set and condition:

- ``density``: the feature density in the discrepancy (:mod:`core.model.density`);
- ``contrast``: the region contrast (:mod:`core.model.region_contrast`);
- ``foreign``: the foreign-region head (:mod:`core.model.foreign_region`);
- ``image density``: the image density in the score (:mod:`core.model.image_density`);
- ``gate``: the image gate on the map (:mod:`core.model.image_gate`; image scores unchanged by design);
- ``noise norm``: the noise-aware normalisation of the score (:meth:`core.calibration.ModeCalibration.level_factor`).

Thresholds were calibrated with every term on, so only threshold-free measures are compared. No test image is read.

    PYTHONPATH=. python benchmarks/ablate_terms.py --data ../shared/datasets --out /tmp/ablate.json
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np

SETS = ("mtd", "bottle", "bsdata", "ksdd")
CONDITIONS = ("well-lit", "train family", "held-out family")
VARIANTS = ("all", "density", "contrast", "foreign", "image density", "gate", "noise norm")


def _scoring_without(term: str):
    """:meth:`core.postprocess.ModeScoring.forward` with ``term`` left out."""

    def forward(self, recon, targets_on_grid, target_feats, captured):
        density = None if term == "density" else self.density
        amap, score = self.map(recon, targets_on_grid, captured.shape[-2:], self.baseline, self.whitening, density)
        if term != "contrast":
            amap = self.region_contrast.add_to(amap, target_feats[-1])
        if term != "foreign":
            amap = self.foreign_region.add_to(amap, target_feats, captured)
        if self.image_density.is_fitted and term != "image density":
            score = self.image_density.combine(score, self.image_density.summaries(target_feats))
        return (amap if term == "gate" else self.gate(amap, score)), score

    return forward


@contextlib.contextmanager
def without(term: str):
    """Inspection with ``term`` switched off (``"all"``: nothing switched off)."""
    from core.calibration import ModeCalibration
    from core.postprocess import ModeScoring

    saved_forward, saved_factor = ModeScoring.forward, ModeCalibration.level_factor
    if term not in ("all", "noise norm"):
        ModeScoring.forward = _scoring_without(term)
    if term == "noise norm":
        ModeCalibration.level_factor = lambda self, noise: 1.0
    try:
        yield
    finally:
        ModeScoring.forward, ModeCalibration.level_factor = saved_forward, saved_factor


def _measure(predictor, goods, bads, masks) -> dict:
    """Image AUROC (good against defective), pixel AUROC on the defects' masks, and the share of good images
    rejected and of defects found at the threshold (meaningful only for the variant calibrated: ``all``), from one
    inspection of each image."""
    import cv2

    from core.metrics import auroc

    g = [predictor.predict(img) for img in goods]
    b = [predictor.predict(img) for img in bads]
    scores = np.array([r.score for r in g + b], np.float64)
    labels = np.r_[np.zeros(len(g), bool), np.ones(len(b), bool)]
    maps = np.stack([cv2.resize(r.anomaly_map, (64, 64), interpolation=cv2.INTER_AREA) for r in g + b])
    truth = np.stack(
        [np.zeros((64, 64), bool)] * len(g)
        + [cv2.resize(m.astype(np.float32), (64, 64), interpolation=cv2.INTER_AREA) > 0.5 for m in masks]
    )
    return {
        "image_auroc": round(float(auroc(scores, labels)), 4),
        "pixel_auroc": round(float(auroc(maps.ravel(), truth.ravel())), 4),
        "false_reject_rate": round(float(np.mean(scores[~labels] >= 1.0)), 4),
        "defects_found": round(float(np.mean(scores[labels] >= 1.0)), 4),
    }


def ablate_set(root: Path, n_train: int, n_holdout: int, preset_name: str, seed: int, **overrides) -> dict:
    from benchmarks.validate_lighting import _views, trained_model
    from core.predictor import Predictor

    model, held = trained_model(root, n_train, n_holdout, preset_name, seed, **overrides)
    predictor = Predictor(model, device="cpu")
    predictor.detector.map_graphs = False  # the variants replace the scoring's Python function
    views = _views(held, model.config.image_size, seed, with_masks=True)
    result: dict = {}
    for variant in VARIANTS:
        with without(variant):
            result[variant] = {c: _measure(predictor, *views[c]) for c in CONDITIONS}
        print(f"  {root.name:7s} without {variant:14s} {result[variant]}", file=sys.stderr, flush=True)
    return result


def table(results: dict) -> str:
    """Markdown: per set and variant, image / pixel AUROC per condition, and the change from ``all``."""
    from benchmarks.validate_lighting import markdown_table

    rows = []
    for name, r in results.items():
        for v in VARIANTS:
            cells = []
            for c in CONDITIONS:
                m, a = r[v][c], r["all"][c]
                if v == "all":
                    cells.append(f"{m['image_auroc']:.3f} / {m['pixel_auroc']:.3f}")
                else:
                    di, dp = m["image_auroc"] - a["image_auroc"], m["pixel_auroc"] - a["pixel_auroc"]
                    cells.append(f"{di:+.3f} / {dp:+.3f}")
            rows.append([name, "(nothing)" if v == "all" else v, *cells])
    return markdown_table(["set", "without", *(f"{c} image / pixel" for c in CONDITIONS)], rows)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.validate_lighting import script_main

    return script_main(__doc__, 40, ablate_set, table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
