"""Does the TorchScript graph cache (:mod:`core.graphs`) still pay? Paired timing of inspection with and without it.

One model (a recipe's active version, or a short training on generated parts: the weights do not change the time)
inspects the same frames with the traced graphs on (encoder, network and each mode's map) and off (eager), the
two alternating frame by frame in one process, so a busy machine slows both alike; the report is the median of the
per-frame differences and each side's median, well-lit and low-light, at one frame per call as a camera gives them,
with the graphs' time split into the predictor's stages (preparing the frame, the model, scoring).

    PYTHONPATH=. python benchmarks/graph_cache.py --frames 200 [--recipe RECIPE_DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _predictor(recipe: Path | None, work: Path):
    """(predictor, the well-lit test frames to inspect) for a recipe folder or a short training on generated parts."""
    from core.data.datasets import read_mvtec
    from core.data.io import load_image
    from core.data.synthetic_parts import write_parts_dataset
    from core.predictor import Predictor
    from core.recipes import RecipeStore
    from core.training import preset, run_fit

    root = write_parts_dataset(work / "parts", n_train=24, n_test_good=10, n_defective=2, size=256)
    frames = [load_image(s.path) for s in read_mvtec(root).test]
    if recipe is not None:
        return Predictor.from_recipe(RecipeStore(recipe.parent).get(recipe.name)), frames
    model = run_fit(read_mvtec(root).train, preset("fast", steps=20, swap_images=16, refinish_images=16))
    return Predictor(model), frames


def _switch(predictor, on: bool) -> None:
    predictor.detector.use_graphs = on
    predictor.detector.map_graphs = on
    predictor.detector.encoder.use_graphs = on


def measure(predictor, frames: list[np.ndarray], mode) -> dict:
    """Per-frame milliseconds with the graphs on and off, alternating (which goes first alternates too)."""
    for on in (True, False):  # warm-up: traces, allocator, caches
        _switch(predictor, on)
        for f in frames[:5]:
            predictor.predict(f, mode)
    times: dict[bool, list[float]] = {True: [], False: []}
    stages: dict[str, list[float]] = {}  # the predictor's own stage times, graphs on
    for k, f in enumerate(frames):
        for on in (k % 2 == 0, k % 2 == 1):
            _switch(predictor, on)
            t0 = time.perf_counter()
            result = predictor.predict(f, mode)
            times[on].append(1000 * (time.perf_counter() - t0))
            if on:
                for stage, ms in result.timings.items():
                    stages.setdefault(stage, []).append(ms)
    _switch(predictor, True)
    on, off = np.array(times[True]), np.array(times[False])
    return {
        "graphs_ms": round(float(np.median(on)), 2),
        "eager_ms": round(float(np.median(off)), 2),
        "paired_saving_ms": round(float(np.median(off - on)), 2),
        "saving_iqr_ms": [round(float(q), 2) for q in np.percentile(off - on, [25, 75])],
        "graphs_stage_ms": {stage: round(float(np.median(ms)), 2) for stage, ms in stages.items()},
        "frames": len(frames),
    }


def main(argv: list[str] | None = None) -> int:
    import tempfile

    import torch

    from core.data.sensor import SensorParams, render
    from core.types import InputMode

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=200, help="frames per mode (each inspected both ways)")
    p.add_argument("--recipe", type=Path, help="a recipe folder (default: train briefly on generated parts)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, help="JSON file to write")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as work:
        predictor, parts = _predictor(args.recipe, Path(work))
    dark = SensorParams(exposure=0.25, full_well=4000.0, read_noise=3.0, falloff=2.0)
    lit = [parts[k % len(parts)] for k in range(args.frames)]
    low = [render(f, dark, k) for k, f in enumerate(lit)]
    result = {
        "well-lit": measure(predictor, lit, InputMode.WELLLIT),
        "low-light": measure(predictor, low, InputMode.LOWLIGHT),
        "threads": args.threads,
    }
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
