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
- ``prediction (views)``: ``prediction`` with ``n`` counted in views, as if each view were another image.

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
RULES = ("plug-in", "prediction", "prediction (MAD)", "prediction (views)")
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


def rule_threshold(cal, rule: str, n_images: int, rate: float) -> float:
    """``cal``'s (a ModeCalibration) threshold under ``rule`` from its saved good scores."""
    from core.calibration import log_median_spread

    scores = np.asarray(cal.good_scores, np.float64)
    median, spread = log_median_spread(scores)
    n = n_images if rule != "prediction (views)" else len(scores)
    dof = {"plug-in": float("inf"), "prediction (MAD)": MAD_EFFICIENCY * (n - 1)}.get(rule, n - 1)
    k = student_t_quantile(1 - rate, max(dof, 1.0)) * (1.0 if rule == "plug-in" else math.sqrt(1 + 1 / n))
    t = float(np.exp(median + k * spread))
    return max(t, float(np.quantile(scores, 1 - rate))) if scores.size * rate >= 1 else t


def _decide(results, model, rule: str, n_images: int) -> np.ndarray:
    """Whether each result is NG with every mode's threshold set by ``rule``."""
    out = []
    for r in results:
        cal = model.post.modes[r.mode.value]
        new = rule_threshold(cal, rule, n_images, model.config.false_reject_rate)
        norm = r.score * (cal.threshold - cal.center) / max(new - cal.center, 1e-9)
        out.append(norm >= 1.0)
    return np.array(out)


def choose_set(root: Path, n_train: int, n_holdout: int, preset_name: str, seed: int, **overrides) -> dict:
    from benchmarks.validate_lighting import _split, _views
    from core.predictor import Predictor
    from core.training import preset, run_fit

    train, held = _split(root, n_train, n_holdout, seed)
    model = run_fit(train, preset(preset_name, seed=seed, threads=2, **overrides))
    predictor = Predictor(model, device="cpu")
    views = _views(held, model.config.image_size, seed)
    n_images = int(model.stats["holdout_images"])
    result: dict = {"holdout_images": n_images}
    for condition in CONDITIONS:
        goods, bads = views[condition]
        g = [predictor.predict(img) for img in goods]
        b = [predictor.predict(img) for img in bads]
        result[condition] = {
            rule: {
                "false_reject_rate": round(float(_decide(g, model, rule, n_images).mean()), 4),
                "defects_found": round(float(_decide(b, model, rule, n_images).mean()), 4),
            }
            for rule in RULES
        }
        print(f"  {root.name:7s} {condition:16s} {result[condition]}", file=sys.stderr, flush=True)
    return result


def table(results: dict) -> str:
    """Markdown: per set and rule, good rejected / defects found per condition."""
    head = " | ".join(f"{c}: good rejected / defects found" for c in CONDITIONS)
    lines = [f"| set | rule | {head} |", "|---|---|" + "---|" * len(CONDITIONS)]
    for name, r in results.items():
        for rule in RULES:
            cells = [
                f"{100 * r[c][rule]['false_reject_rate']:.1f} % / {100 * r[c][rule]['defects_found']:.0f} %"
                for c in CONDITIONS
            ]
            lines.append(f"| {name} | {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.validate_lighting import run_over_sets, set_parser

    return run_over_sets(set_parser(__doc__.splitlines()[0], holdout=80).parse_args(argv), choose_set, table)


if __name__ == "__main__":
    raise SystemExit(main())
