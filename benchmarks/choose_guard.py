"""Choose the lighting guard's range settings on validation data: how often does it send a frame to CHECK?

The guard needs no network: its range is fitted on the lighting measured from calibration views, so this script
repeats training's calibration rendering (:func:`core.postprocess.views.as_lowlight`, ``calibration_views`` cameras per
held-out image, low-light and well-lit modes) on a tenth of each set's ``train/good`` images, fits
:class:`core.lighting.LightingRange` for each (quantile, margin) pair, and counts CHECK verdicts on frames of
*other* ``train/good`` images:

- ``train family``: random cameras of the training family, as the model was trained and calibrated for; every
  CHECK here is a good part sent to a person for nothing (want: about 1 % or less);
- ``suite``: the robustness suite's base camera and each of its low-light axes down to 1/16 exposure and full
  well 1,000 e- (the issue's target range: want 0);
- ``beyond``: frames the model was never made for, 1/64 and 1/128 exposure of the base camera and a 100 e- full
  well at 1/16 (want: CHECK).

No test image is read. Usage::

    python benchmarks/choose_guard.py --data-root ../shared/datasets [--sets mtd,bottle] [--frames 60]
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.data.datasets import read_mvtec
from core.data.io import load_image
from core.data.sensor import render
from core.lighting import LightingRange, measure
from core.postprocess.views import as_lowlight
from core.preprocess import lowlight_cutoff, mean_linear, resize_rgb
from core.robustness import BASE
from core.training import TrainConfig
from core.types import InputMode

QUANTILES = (0.0, 0.005, 0.01, 0.02, 0.05)
MARGINS = (1.0, 1.25, 1.5, 2.0)
SUITE = [
    ("base", BASE),
    *[(f"exposure 1/{round(1 / e)}", replace(BASE, exposure=e)) for e in (1.0, 0.5, 0.125, 1 / 16)],
    *[(f"full well {fw:.0f}", replace(BASE, full_well=fw)) for fw in (1000.0, 20000.0)],
    ("read noise 12", replace(BASE, read_noise=12.0)),
    ("spot 6:1", replace(BASE, shape="spot", falloff=6.0)),
    ("exposure 1/16, full well 1000", replace(BASE, exposure=1 / 16, full_well=1000.0)),
]
BEYOND = [
    ("exposure 1/64", replace(BASE, exposure=1 / 64)),
    ("exposure 1/128", replace(BASE, exposure=1 / 128)),
    ("1/16, full well 100", replace(BASE, exposure=1 / 16, full_well=100.0)),
    ("mono camera", replace(BASE, colour="mono")),  # outside the family only for a colour part
]


def run_set(path: Path, frames: int, size: int, seed: int = 0) -> dict:
    cfg = TrainConfig()
    samples = read_mvtec(path).train
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(samples))
    n_hold = max(3, round(len(samples) * cfg.holdout_fraction))
    hold = [load_image(samples[i].path) for i in order[:n_hold]]
    others = [load_image(samples[i].path) for i in order[n_hold : n_hold + frames]]
    exposures = [mean_linear(im) for im in others + hold]
    welllit_mean = float(np.mean(exposures))
    cutoff = lowlight_cutoff(exposures) / welllit_mean
    seen = []
    for mode in (InputMode.LOWLIGHT, InputMode.WELLLIT):
        for im in hold:
            for _ in range(cfg.calibration_views):
                seen.append(measure(resize_rgb(as_lowlight(im, mode, cfg, rng, cutoff), size), welllit_mean))
    test: dict[str, list] = {"train family": []}
    for im in others:  # the same mix of modes as calibration, other images, other cameras
        for mode in (InputMode.LOWLIGHT, InputMode.WELLLIT):
            test["train family"].append(
                measure(resize_rgb(as_lowlight(im, mode, cfg, rng, cutoff), size), welllit_mean)
            )
    for name, params in SUITE + BEYOND:
        test[name] = [measure(resize_rgb(render(im, params, rng), size), welllit_mean) for im in others]
    out = {}
    for q, m in itertools.product(QUANTILES, MARGINS):
        guard = LightingRange.fit(seen, m, q)
        out[f"q={q} m={m}"] = {
            name: float(np.mean([guard.reason(v) != "" for v in views])) for name, views in test.items()
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--sets", default="mtd,bottle,bsdata,ksdd")
    ap.add_argument("--frames", type=int, default=60, help="other train/good images inspected per set")
    ap.add_argument("--out", default="/tmp/choose_guard.json")
    args = ap.parse_args()
    size = TrainConfig().image_size
    results = {s: run_set(Path(args.data_root) / s, args.frames, size) for s in args.sets.split(",")}
    Path(args.out).write_text(json.dumps(results, indent=1))
    sets = list(results)
    for setting in results[sets[0]]:
        row = []
        for s in sets:
            r = results[s][setting]
            suite = max(v for k, v in r.items() if k in dict(SUITE))
            beyond = min(v for k, v in r.items() if k in dict(BEYOND))
            row.append(f"{s}: train {r['train family']:.3f} suite-max {suite:.2f} beyond-min {beyond:.2f}")
        print(f"{setting:14s} | " + " | ".join(row))


if __name__ == "__main__":
    main()
