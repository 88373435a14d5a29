"""``llad bench``: this model against a PatchCore-style memory bank, side by side, in one run.

Each model is trained and evaluated in its own child process so its peak resident memory is its own. Both see
the same training images (well-lit good ones only), the same test set well-lit, and the same seeded synthetic
low-light version of it. Timing is end to end per image (decode the file, pre-process, model, post-process),
batch 1, on the thread count given (2 by default, as the target machine). Results go to ``<out>/bench.json``
and a markdown table ``<out>/bench.md``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROWS = [
    ("image AUROC, well-lit", "welllit", "image_auroc", "{:.3f}"),
    ("image AUROC, low-light", "lowlight", "image_auroc", "{:.3f}"),
    ("pixel AUROC, well-lit", "welllit", "pixel_auroc", "{:.3f}"),
    ("pixel AUROC, low-light", "lowlight", "pixel_auroc", "{:.3f}"),
    ("AUPRO, well-lit", "welllit", "aupro", "{:.3f}"),
    ("AUPRO, low-light", "lowlight", "aupro", "{:.3f}"),
    ("F1 at calibrated threshold, well-lit", "welllit", "f1", "{:.3f}"),
    ("F1 at calibrated threshold, low-light", "lowlight", "f1", "{:.3f}"),
    ("ms per image, end to end (batch 1), well-lit", None, "ms_per_image", "{:.1f}"),
    ("ms per image, end to end (batch 1), low-light", None, "ms_per_image_lowlight", "{:.1f}"),
    ("peak resident memory (MB)", None, "peak_rss_mb", "{:.0f}"),
    ("size on disk (MB)", None, "size_mb", "{:.1f}"),
    ("training time (s)", None, "train_seconds", "{:.0f}"),
]


def _split(data: str, limit_train: int | None, limit_test: int | None):
    from core.data.datasets import read_mvtec

    ds = read_mvtec(data)
    train = ds.train[:limit_train] if limit_train else ds.train
    test = ds.test
    if limit_test and len(test) > limit_test:
        test = test[:: int(np.ceil(len(test) / limit_test))]
    return train, test


def _timed_e2e(predictor, samples, workdir: Path, n: int = 60) -> dict[str, float]:
    """Milliseconds per image at batch 1, from the file on disk to the full-resolution map: once for the well-lit
    test images and once for their low-light versions (written as PNG files first, so both include decoding)."""
    import cv2

    from core.data.io import load_image
    from core.data.lowlight import synthesize_lowlight
    from core.types import Frame

    picks = samples[:: max(1, len(samples) // n)][:n]
    workdir.mkdir(parents=True, exist_ok=True)
    dark = []
    for k, s in enumerate(picks):
        path = workdir / f"{k:03d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(synthesize_lowlight(load_image(s.path), 0.75, 5 + k)[0], cv2.COLOR_RGB2BGR))
        dark.append(path)
    times = {}
    for name, paths in (("welllit", [s.path for s in picks]), ("lowlight", dark)):
        for path in paths[:3]:  # warm-up
            predictor.predict_batch([Frame(load_image(path))])
        t0 = time.perf_counter()
        for path in paths:
            predictor.predict_batch([Frame(load_image(path), ref=str(path))])
        times[name] = (time.perf_counter() - t0) * 1000 / len(paths)
    return times


def _child(which: str, args: dict) -> dict:
    import torch

    from core.evaluation import evaluate
    from core.types import InputMode

    torch.set_num_threads(args["threads"])
    train, test = _split(args["data"], args.get("limit_train"), args.get("limit_test"))
    result: dict = {"model": which, "train_images": len(train), "test_images": len(test)}
    if which == "llad":
        from core.predictor import Predictor
        from core.recipes import RecipeStore
        from core.training import preset, run_fit

        overrides = {"steps": args["steps"]} if args.get("steps") else {}
        cfg = preset(args["preset"], **overrides)
        t0 = time.perf_counter()
        trained = run_fit(train, cfg)
        result["train_seconds"] = time.perf_counter() - t0
        store = RecipeStore(Path(args["out"]) / "recipes")
        recipe = store.get("mtd-bench") if store.exists("mtd-bench") else store.create("mtd-bench")
        version = recipe.save_version(trained, activate=True)
        result["version"] = version
        result["size_mb"] = (recipe.versions_dir / version / "weights.safetensors").stat().st_size / 1e6
        result["parameters"] = trained.net.num_parameters()
        result["stats"] = {k: v for k, v in trained.stats.items() if k != "loss_curve"}
        predictor = Predictor(trained)
        modes = {"welllit": InputMode.WELLLIT, "lowlight": InputMode.LOWLIGHT}
    else:
        from core.baseline import PatchCoreBaseline
        from core.data.io import load_image

        images = [load_image(s.path) for s in train]
        rng = np.random.default_rng(0)
        hold_idx = set(rng.choice(len(images), size=max(3, len(images) // 10), replace=False).tolist())
        t0 = time.perf_counter()
        predictor = PatchCoreBaseline()
        info = predictor.fit(
            [im for i, im in enumerate(images) if i not in hold_idx],
            [im for i, im in enumerate(images) if i in hold_idx],
        )
        result["train_seconds"] = time.perf_counter() - t0
        result["size_mb"] = predictor.size_bytes() / 1e6
        result["bank_size"] = info["bank_size"]
        modes = {"welllit": None, "lowlight": None}
    for name, mode in modes.items():
        strength = args["lowlight_strength"] if name == "lowlight" else None
        rep = evaluate(predictor, test, mode=mode, lowlight_strength=strength)
        result[name] = rep.to_dict()
    times = _timed_e2e(predictor, test, Path(args["out"]) / f"timing-{which}")
    result["ms_per_image"] = times["welllit"]
    result["ms_per_image_lowlight"] = times["lowlight"]
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run_benchmark(args) -> dict:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    child_args = {
        "data": str(Path(args.data).resolve()),
        "out": str(out.resolve()),
        "preset": args.preset,
        "steps": args.steps,
        "lowlight_strength": args.lowlight_strength,
        "threads": args.threads,
        "limit_train": args.limit_train,
        "limit_test": args.limit_test,
    }
    results = {}
    for which in ("llad", "patchcore"):
        print(f"benchmark: {which} ...", file=sys.stderr, flush=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        proc = subprocess.run(
            [sys.executable, "-m", "core.bench", which, json.dumps(child_args)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark child {which} failed:\n{proc.stderr[-3000:]}")
        results[which] = json.loads(proc.stdout.strip().splitlines()[-1])
    results["settings"] = child_args
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    table = markdown_table(results)
    (out / "bench.md").write_text(table)
    print(table)
    return results


def markdown_table(results: dict) -> str:
    lines = ["| metric | LLAD (this model) | PatchCore-style kNN |", "|---|---|---|"]
    for label, section, key, fmt in ROWS:
        cells = []
        for which in ("llad", "patchcore"):
            src = results[which][section] if section else results[which]
            v = src.get(key)
            cells.append("n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v))
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], json.loads(sys.argv[2]))))
