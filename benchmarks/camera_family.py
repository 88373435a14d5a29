"""Validation of the training cameras: today's family against a wider one that also draws camera effects.

Today training and calibration draw exposure, sensor noise, colour and gradient or spot fall-off
(:func:`core.data.sensor.sample_params` ``"train"``: gamma 2.2, no JPEG, no defocus, no fixed pattern). The wider
candidate, :func:`wide_params`, also draws radial fall-off and, each on half of the cameras, gamma 2.0 to 2.2, JPEG
75 to 100, defocus up to 1 px and a fixed pattern up to 1 %. Per set both models train on the same split of
``train/good`` (the wide one by swapping the sampler that training and calibration call) and inspect the same
held-out images, each with a synthetic defect, through the same cameras: well-lit, today's family, the wide family
and :data:`BEYOND`, which goes past both (vignette, gamma 1.8 / 2.4, JPEG 60 to 70, defocus 1.25 to 2 px, pattern
1.5 to 3 %). Validation data only, never a test split.

    PYTHONPATH=. python benchmarks/camera_family.py --data ../shared/datasets --train 100 --holdout 80 \\
        --out /tmp/family.json
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.validate_lighting import _split, markdown_table, run_over_sets, set_parser

CAMERAS = ("well-lit", "plain family", "wide family", "beyond both")
MODELS = ("plain", "wide")

#: The wide family's camera effects, each drawn on half of the cameras: (low, high), uniform.
WIDE = {"gamma": (2.0, 2.2), "jpeg_quality": (75, 100), "defocus": (0.0, 1.0), "fixed_pattern": (0.0, 0.01)}
#: What the last camera column draws: past both families on every effect.
BEYOND = {"shape": ("vignette",), "gamma": (1.8, 2.4), "jpeg_quality": (60, 70), "defocus": (1.25, 2.0),
          "fixed_pattern": (0.015, 0.03)}  # fmt: skip


def wide_params(rng: np.random.Generator, family: str = "train"):
    """A camera of the wide candidate family (``"train"``) or of :data:`BEYOND` (any other ``family``); the common
    axes are drawn as :func:`core.data.sensor.sample_params` draws them."""
    from core.data.sensor import TRAIN_RANGES, SensorParams, sample_params

    if family != "train":
        return sample_params(rng, "held_out", held_out=BEYOND)
    t = TRAIN_RANGES
    kw: dict = {
        k: float(np.exp(rng.uniform(*np.log(t[k])))) for k in ("exposure", "full_well", "read_noise", "falloff")
    }
    kw["colour"] = str(rng.choice(t["colour"]))
    kw["shape"] = str(rng.choice(("gradient", "spot", "radial")))
    on = rng.random(4) < 0.5
    if on[0]:
        kw["gamma"] = round(float(rng.uniform(*WIDE["gamma"])) * 20) / 20  # steps of 0.05: few encoding tables
    if on[1]:
        kw["jpeg_quality"] = int(rng.integers(WIDE["jpeg_quality"][0], WIDE["jpeg_quality"][1] + 1))
    if on[2]:
        kw["defocus"] = float(rng.uniform(*WIDE["defocus"]))
    if on[3]:
        kw["fixed_pattern"] = float(rng.uniform(*WIDE["fixed_pattern"]))
        kw["pattern_seed"] = int(rng.integers(0, 2**31))
    return SensorParams(**kw)


@contextlib.contextmanager
def training_cameras(sampler):
    """Training and calibration draw their cameras from ``sampler`` inside the block."""
    import core.postprocess.views as views
    import core.train_loop as train_loop

    before = train_loop.sample_params, views.sample_params
    train_loop.sample_params = views.sample_params = sampler
    try:
        yield
    finally:
        train_loop.sample_params, views.sample_params = before


def _views(held: list[Path], size: int, seed: int) -> dict:
    from core.data.defects import synthetic_defect
    from core.data.io import load_image
    from core.data.sensor import render, sample_params
    from core.preprocess import resize_rgb

    rng = np.random.default_rng(seed)
    good = [resize_rgb(load_image(p), size) for p in held]
    bad = [synthetic_defect(g, rng)[0] for g in good]
    out = {"well-lit": (good, bad)}
    draws = {"plain family": (sample_params, "train"), "wide family": (wide_params, "train")}
    draws["beyond both"] = (wide_params, "beyond")
    for camera, (draw, family) in draws.items():
        params = [draw(rng, family) for _ in good]
        out[camera] = (
            [render(g, p, seed * 1000 + k) for k, (g, p) in enumerate(zip(good, params))],
            [render(b, p, seed * 1000 + k + 500) for k, (b, p) in enumerate(zip(bad, params))],
        )
    return out


def compare_set(root: Path, n_train: int, n_holdout: int, preset_name: str, seed: int, **overrides) -> dict:
    from benchmarks.validate_lighting import _measure
    from core.data.sensor import sample_params
    from core.predictor import Predictor
    from core.training import preset, run_fit

    train, held = _split(root, n_train, n_holdout, seed)
    result: dict = {}
    views = None
    for name, sampler in zip(MODELS, (sample_params, wide_params)):
        t0 = time.perf_counter()
        with training_cameras(sampler):
            model = run_fit(train, preset(preset_name, seed=seed, threads=2, **overrides))
        result[name] = {"train_seconds": round(time.perf_counter() - t0, 1)}
        views = views or _views(held, model.config.image_size, seed)
        predictor = Predictor(model, device="cpu")
        for camera in CAMERAS:
            result[name][camera] = _measure(predictor, *views[camera])
            print(f"  {root.name:7s} {name:5s} {camera:16s} {result[name][camera]}", file=sys.stderr, flush=True)
    return result


def table(results: dict) -> str:
    """Image AUROC / good rejected at the threshold, per set and camera: today's model -> the wide family's."""
    rows = []
    for name, r in results.items():
        cells = []
        for camera in CAMERAS:
            a, b = (r[m][camera] for m in MODELS)
            cells.append(
                f"{a['image_auroc']:.3f} / {100 * a['false_reject_rate']:.1f} -> "
                f"{b['image_auroc']:.3f} / {100 * b['false_reject_rate']:.1f} %"
            )
        rows.append([name, *cells])
    return markdown_table(["set", *CAMERAS], rows)


def main(argv: list[str] | None = None) -> int:
    return run_over_sets(set_parser(__doc__.splitlines()[0], holdout=80).parse_args(argv), compare_set, table)


if __name__ == "__main__":
    raise SystemExit(main())
