"""How should the NG threshold be set from a few held-out good images? Rules compared on validation data.

Calibration sets each mode's threshold from the held-out good images' scores (a tenth of the samples: 10 images
of 100, each seen by ``calibration_views`` cameras). Per data set, a model is trained (fast preset) on part of
``train/good``; other ``train/good`` images, never seen, and a synthetic defect made from each are inspected
well-lit and through random cameras of the training and held-out families (:mod:`benchmarks.validate_lighting`).
Each rule below recomputes every mode's threshold from the scores calibration saved, and the report gives the
share of unseen good images at or above it (false rejects, aimed at ``false_reject_rate``) and of defects caught:

- ``plug-in``: a log-normal's quantile from the median and spread of the log scores (the rule of
  :func:`core.calibration.threshold_for_false_reject`);
- ``prediction``: the same log-normal's upper prediction bound for one more image, from ``n`` held-out images:
  the quantile of Student's t with ``n - 1`` degrees of freedom times ``sqrt(1 + 1/n)`` instead of the normal's
  (a spread estimated from few images is often too small);
- ``prediction (MAD)``: the same with the degrees of freedom of the spread as calibration estimates it (the
  median absolute deviation, about 37 % as efficient as the standard deviation on normal data);
- ``prediction (views)``: ``prediction`` with ``n`` counted in views, as if each view were another image;
- ``train spread``: the held-out images' median with the spread of the *training* images' scores, each seen by as
  many cameras as a held-out one (the network learnt them, so their scores sit lower, but they are nine times as
  many: their spread is the steadier estimate);
- ``pooled spread``: the spread of the held-out and the training scores together, each about its own median;
- ``train spread, at least held-out's``: the larger of the two spreads;
- ``as calibrated``: the threshold the model saved (whatever rule the checkout's calibration uses);
- ``calibrated spread, centre's error``: the saved calibration's pooled spread (its own training scores) with the
  quantile widened by ``sqrt(1 + (pi / 2) / n)``, the error of a median of ``n`` held-out images as a share of
  one image's spread (a prediction bound whose spread is known, the centre estimated).

No test image is read. Scores are re-decided from the saved ones: no image is inspected twice.

    PYTHONPATH=. python benchmarks/choose_threshold.py --data ../shared/datasets --train 100 --holdout 80
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

SETS = ("mtd", "bottle", "bsdata", "ksdd")
CONDITIONS = ("well-lit", "train family", "held-out family")
RULES = (
    "plug-in",
    "prediction",
    "prediction (MAD)",
    "prediction (views)",
    "train spread",
    "pooled spread",
    "train spread, at least held-out's",
    "as calibrated",
    "calibrated spread, centre's error",
)
TRAIN_RULES = RULES[4:7]
MAD_EFFICIENCY = 0.37
"""The median absolute deviation's efficiency against the standard deviation for normal data: its degrees of
freedom are about this share of the standard deviation's."""


def student_t_quantile(p: float, dof: float) -> float:
    """Student's t quantile: the normal's with the Cornish-Fisher correction to the third order in 1 / ``dof``
    (at the 95th to 99th percentile within 0.3 % of the exact value from 5 degrees of freedom on, 2 % at 3)."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(p)
    if not math.isfinite(dof):
        return z
    v = float(dof)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def rule_threshold(cal, rule: str, n_images: int, rate: float, train_scores=None) -> float:
    """``cal``'s (a ModeCalibration) threshold under ``rule`` from its saved good scores (and, for the
    :data:`TRAIN_RULES`, the level-corrected scores of the training images' views)."""
    from statistics import NormalDist

    from core.calibration import log_median_spread

    if rule == "as calibrated":
        return float(cal.threshold)
    if rule == "calibrated spread, centre's error":
        from statistics import NormalDist

        from core.calibration import log_median_spread, pooled_spread

        median, _ = log_median_spread(cal.good_scores)
        k = NormalDist().inv_cdf(1 - rate) * math.sqrt(1 + (math.pi / 2) / n_images)
        return float(np.exp(median + k * pooled_spread(cal.good_scores, cal.train_scores)))
    scores = np.asarray(cal.good_scores, np.float64)
    median, spread = log_median_spread(scores)
    if rule in TRAIN_RULES:
        train_logs = np.log(np.clip(np.asarray(train_scores, np.float64), 1e-9, None))
        train_median, train_spread = log_median_spread(train_scores)
        if rule == "pooled spread":
            both = np.r_[np.log(np.clip(scores, 1e-9, None)) - median, train_logs - train_median]
            train_spread = 1.4826 * float(np.median(np.abs(both)))
        elif rule.endswith("at least held-out's"):
            train_spread = max(train_spread, spread)
        return float(np.exp(median + NormalDist().inv_cdf(1 - rate) * train_spread))
    n = n_images if rule != "prediction (views)" else len(scores)
    dof = {"plug-in": float("inf"), "prediction (MAD)": MAD_EFFICIENCY * (n - 1)}.get(rule, n - 1)
    k = student_t_quantile(1 - rate, max(dof, 1.0)) * (1.0 if rule == "plug-in" else math.sqrt(1 + 1 / n))
    t = float(np.exp(median + k * spread))
    return max(t, float(np.quantile(scores, 1 - rate))) if scores.size * rate >= 1 else t


def _decide(results, model, rule: str, n_images: int, train_scores: dict) -> np.ndarray:
    """Whether each result is NG with every mode's threshold set by ``rule``."""
    out = []
    for r in results:
        cal = model.post.modes[r.mode.value]
        new = rule_threshold(cal, rule, n_images, model.config.false_reject_rate, train_scores.get(r.mode.value))
        norm = r.score * (cal.threshold - cal.center) / max(new - cal.center, 1e-9)
        out.append(norm >= 1.0)
    return np.array(out)


def training_view_scores(root: Path, n_train: int, seed: int, model, predictor) -> dict:
    """Per mode, the level-corrected raw scores of the model's training images, each seen by as many cameras as
    calibration shows a held-out image (:func:`core.postprocess.views.calibration_view`)."""
    from benchmarks.validate_lighting import _split
    from core.postprocess.views import calibration_view, score_views
    from core.preprocess import resize_rgb
    from core.train_setup import load_items
    from core.types import InputMode

    train, _ = _split(root, n_train, 0, seed)
    held = set(model.stats["holdout_names"])
    cfg = model.config
    items, _ = load_items([s for s in train if s.path.name not in held], cfg.image_size, False)
    cutoff = model.lowlight_exposure / model.welllit_mean
    rng = np.random.default_rng(seed + 11)
    out = {}
    for mode_name, cal in model.post.modes.items():
        mode = InputMode(mode_name)
        views = [calibration_view(it, mode, cfg, rng, cutoff) for it in items for _ in range(cfg.calibration_views)]
        noise = np.array(
            [model.post.lighting.measure(resize_rgb(v, cfg.image_size), model.welllit_mean).noise for v, _ in views]
        )
        raw, _ = score_views(predictor.detector, views, mode, cfg, model.welllit_mean)
        out[mode_name] = raw / np.asarray(cal.level_factor(noise))
    return out


def choose_set(root: Path, n_train: int, n_holdout: int, preset_name: str, seed: int, **overrides) -> dict:
    from benchmarks.validate_lighting import _views, trained_model
    from core.predictor import Predictor

    model, held = trained_model(root, n_train, n_holdout, preset_name, seed, **overrides)
    predictor = Predictor(model, device="cpu")
    train_scores = training_view_scores(root, n_train, seed, model, predictor)
    views = _views(held, model.config.image_size, seed)
    n_images = int(model.stats["holdout_images"])
    result: dict = {"holdout_images": n_images}
    for condition in CONDITIONS:
        goods, bads = views[condition]
        g = [predictor.predict(img) for img in goods]
        b = [predictor.predict(img) for img in bads]
        result[condition] = {
            rule: {
                "false_reject_rate": round(float(_decide(g, model, rule, n_images, train_scores).mean()), 4),
                "defects_found": round(float(_decide(b, model, rule, n_images, train_scores).mean()), 4),
            }
            for rule in RULES
        }
        print(f"  {root.name:7s} {condition:16s} {result[condition]}", file=sys.stderr, flush=True)
    return result


def table(results: dict) -> str:
    """Markdown: per set and rule, good rejected / defects found per condition."""
    from benchmarks.validate_lighting import markdown_table

    head = ["set", "rule", *(f"{c}: good rejected / defects found" for c in CONDITIONS)]
    rows = []
    for name, r in results.items():
        for rule in RULES:
            rates = [(r[c][rule]["false_reject_rate"], r[c][rule]["defects_found"]) for c in CONDITIONS]
            rows.append([name, rule, *(f"{100 * fr:.1f} % / {100 * found:.0f} %" for fr, found in rates)])
    return markdown_table(head, rows)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.validate_lighting import script_main

    return script_main(__doc__, 80, choose_set, table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
