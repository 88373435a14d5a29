"""How should a frame's score be corrected for its noise? Level models compared on validation data.

Calibration fits how good parts' raw scores rise with a frame's relative noise and divides every score by that
expected rise (:meth:`core.calibration.ModeCalibration.level_factor`), so a noisier camera does not shift every
verdict. Per data set, the fast preset trains on part of ``train/good``; other ``train/good`` images, never seen,
and a synthetic defect made from each are captured by the robustness suite's exposure and full-well sweeps
(:func:`core.robustness.conditions`, the base camera with one axis changed; defocus and JPEG 60 are outside the
training family) and inspected once. Each level model
below is then fitted on the scores calibration saved, and every verdict re-decided from the raw scores:

- ``power law``: ``log score = a + b log noise`` by least squares (:func:`core.calibration.fit_noise_slope`);
- ``none``: scores as they are;
- ``monotone``: the median log score of the calibration views in bins of their noise, made non-decreasing and
  interpolated (a good part's score may stop falling once the sensor's noise is below the part's own texture).

The report gives, per set and condition, the share of good images at or above the threshold (false rejects, aimed
at the preset's 1 %) and of defects at or above it. No test image is read.

    PYTHONPATH=. python benchmarks/choose_level.py --data ../shared/datasets --train 100 --holdout 40 --out l.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

LEVELS = ("power law", "none", "monotone", "local 0.5", "local 1.0", "local 0.5 or pooled")
SWEEP = (
    "well-lit",
    "exposure 1/2",
    "exposure 1/8",
    "exposure 1/32",
    "full well 300 e-",
    "full well 1000 e-",
    "full well 4000 e-",
    "full well 20000 e-",
    "defocus 1.5 px",
    "JPEG 60",
)


def monotone_level(log_noise: np.ndarray, log_scores: np.ndarray, bins: int = 5):
    """(knots, values) of a non-decreasing curve of ``log_scores`` against ``log_noise``: the medians of
    ``bins`` equal-count bins, pooled where they fall (pool-adjacent-violators)."""
    order = np.argsort(log_noise)
    parts = [p for p in np.array_split(order, min(bins, len(order))) if len(p)]
    blocks = [[float(np.median(log_noise[p])), float(np.median(log_scores[p])), len(p)] for p in parts]
    merged: list[list[float]] = []
    for b in blocks:
        merged.append(b)
        while len(merged) > 1 and merged[-2][1] > merged[-1][1]:
            x2, y2, n2 = merged.pop()
            x1, y1, n1 = merged.pop()
            merged.append([(x1 * n1 + x2 * n2) / (n1 + n2), (y1 * n1 + y2 * n2) / (n1 + n2), n1 + n2])
    return np.array([m[0] for m in merged]), np.array([m[1] for m in merged])


def level_fn(cal, kind: str):
    """A function of a frame's noise giving the factor its raw score is divided by, fitted on ``cal``'s views."""
    noise = np.maximum(np.asarray(cal.good_noise, np.float64), 1e-9)
    raw = np.asarray(cal.good_scores, np.float64) * np.asarray(cal.level_factor(noise))
    if kind == "none" or noise.size < 8:
        return lambda n: 1.0
    if kind == "power law":
        return lambda n: float(cal.level_factor(n))
    ln, ls = np.log(noise), np.log(np.maximum(raw, 1e-12))
    knots, values = monotone_level(ln, ls)
    ref = float(np.interp(np.median(ln), knots, values))
    return lambda n: float(np.exp(np.interp(np.log(max(n, 1e-9)), knots, values) - ref))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cum, v))


def local_threshold(cal, bandwidth: float, rate: float):
    """A function of a frame's noise giving the raw threshold from the calibration views near that noise: the
    log-normal quantile from their median and median absolute deviation, each view weighted by a Gaussian of
    ``bandwidth`` in log noise."""
    from statistics import NormalDist

    noise = np.maximum(np.asarray(cal.good_noise, np.float64), 1e-9)
    raw = np.asarray(cal.good_scores, np.float64) * np.asarray(cal.level_factor(noise))
    ln, ls = np.log(noise), np.log(np.maximum(raw, 1e-12))
    z = NormalDist().inv_cdf(1 - rate)
    lo, hi = ln.min(), ln.max()

    def threshold(n: float) -> float:
        x = float(np.clip(np.log(max(n, 1e-9)), lo, hi))
        w = np.exp(-0.5 * ((ln - x) / bandwidth) ** 2)
        m = weighted_quantile(ls, w, 0.5)
        spread = 1.4826 * weighted_quantile(np.abs(ls - m), w, 0.5)
        return float(np.exp(m + z * spread))

    return threshold


def _decider(cal, kind: str, rate: float):
    from core.calibration import threshold_for_false_reject

    if kind.startswith("local") and len(cal.good_noise) >= 8:
        local = local_threshold(cal, float(kind.split()[1]), rate)
        floor = cal.threshold if kind.endswith("pooled") else 0.0
        return lambda raw_score, n: raw_score >= max(local(n), floor * float(cal.level_factor(n)))
    if kind.startswith("local"):
        kind = "power law"
    factor = level_fn(cal, kind)
    noise = np.maximum(np.asarray(cal.good_noise, np.float64), 1e-9)
    raw = np.asarray(cal.good_scores, np.float64) * np.asarray(cal.level_factor(noise))
    corrected = raw / np.array([factor(n) for n in noise]) if noise.size == raw.size else raw
    threshold = threshold_for_false_reject(corrected, rate)
    return lambda raw_score, n: raw_score / factor(n) >= threshold


def choose_set(root: Path, n_train: int, n_holdout: int, preset_name: str, seed: int, **overrides) -> dict:
    from benchmarks.validate_lighting import trained_model
    from core.data.defects import synthetic_defect
    from core.data.io import load_image
    from core.data.sensor import render
    from core.predictor import Predictor
    from core.preprocess import resize_rgb
    from core.robustness import conditions

    model, held = trained_model(root, n_train, n_holdout, preset_name, seed, **overrides)
    predictor = Predictor(model, device="cpu")
    size, rate = model.config.image_size, model.config.false_reject_rate
    rng = np.random.default_rng(seed)
    good = [resize_rgb(load_image(p), size) for p in held]
    bad = [synthetic_defect(g, rng)[0] for g in good]
    deciders = {(mode, kind): _decider(cal, kind, rate) for mode, cal in model.post.modes.items() for kind in LEVELS}
    result: dict = {}
    for cond in conditions(set(SWEEP)):
        rows = {"good": [], "bad": []}
        for k, (g, b) in enumerate(zip(good, bad)):
            for label, img, s in (("good", g, k), ("bad", b, k + 500)):
                seen = img if cond.params is None else render(img, cond.params, seed * 1000 + s)
                r = predictor.predict(seen)
                noise = None if r.lighting is None else r.lighting.noise
                rows[label].append((r.mode.value, r.raw_score, noise, r.score >= 1.0))
        check = np.mean([now == deciders[(m, "power law")](raw, n) for m, raw, n, now in rows["good"] + rows["bad"]])
        result[cond.name] = {"agree_with_predictor": round(float(check), 3)}
        for kind in LEVELS:
            rej = [deciders[(m, kind)](raw, n) for m, raw, n, _ in rows["good"]]
            found = [deciders[(m, kind)](raw, n) for m, raw, n, _ in rows["bad"]]
            result[cond.name][kind] = [round(float(np.mean(rej)), 4), round(float(np.mean(found)), 4)]
        result[cond.name]["median_noise"] = round(float(np.median([n or 0 for _, _, n, _ in rows["good"]])), 4)
        print(f"  {root.name:7s} {cond.name:20s} {result[cond.name]}", file=sys.stderr, flush=True)
    return result


def table(results: dict) -> str:
    """Markdown: per set and condition, good rejected / defects found under each level model."""
    from benchmarks.validate_lighting import markdown_table

    rows = [
        [name, cond, *(f"{100 * cells[k][0]:.1f} / {100 * cells[k][1]:.0f} %" for k in LEVELS)]
        for name, r in results.items()
        for cond, cells in r.items()
    ]
    return markdown_table(["set", "condition", *LEVELS], rows)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.validate_lighting import script_main

    return script_main(__doc__, 40, choose_set, table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
