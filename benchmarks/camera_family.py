"""Validation of the training cameras: the plain family training drew before against the one it draws now.

Before, training and calibration drew only exposure, sensor noise, colour and gradient or spot fall-off (gamma 2.2,
no JPEG, no defocus, no fixed pattern). Now :func:`core.data.sensor.sample_params` ``"train"`` also draws radial
fall-off and a little of each camera effect. Per set, both models train on the same split of ``train/good`` (the
plain one by swapping the sampler that training and calibration call), and both inspect the same held-out images,
each with a synthetic defect, through the same cameras: well-lit, the plain family, today's training family and
the held-out family (which goes beyond both). Validation data only, never a test split.

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

CAMERAS = ("well-lit", "plain family", "training family", "held-out family")
MODELS = ("plain", "wide")


def plain_params(rng: np.random.Generator, family: str = "train"):
    """A camera of the family training drew before (drawn as it was then); other families as today."""
    from core.data.sensor import TRAIN_RANGES, SensorParams, sample_params

    if family != "train":
        return sample_params(rng, family)
    t = TRAIN_RANGES
    kw = {k: float(np.exp(rng.uniform(*np.log(t[k])))) for k in ("exposure", "full_well", "read_noise", "falloff")}
    return SensorParams(**kw, colour=str(rng.choice(t["colour"])), shape=str(rng.choice(("gradient", "spot"))))


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
    draws = {"plain family": (plain_params, "train"), "training family": (sample_params, "train")}
    draws["held-out family"] = (sample_params, "held_out")
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
    for name, sampler in zip(MODELS, (plain_params, sample_params)):
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
    """Image AUROC / good rejected at the threshold, per set and camera: plain-family model -> today's."""
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
