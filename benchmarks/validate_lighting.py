"""Validation of the model under light and sensors: the harness its design choices and constants are chosen on.

It uses **validation data only**, never a test split: per data set, part of ``train/good`` trains a model (the fast
preset by default) and other images of ``train/good``, held out, are inspected with synthetic defects made from
them (:func:`core.data.defects.synthetic_defect`). Each held-out image and its defective copy are inspected

- ``well-lit``: as they are;
- ``train family``: as a random camera of the family training draws from captures them
  (:func:`core.data.sensor.sample_params` ``"train"``), the same camera for the good image and its copy;
- ``held-out family``: the same with cameras training never sees (``"held_out"``: other fall-off shapes, gamma,
  JPEG, defocus, fixed-pattern noise);

and the report gives, per set and condition, the image AUROC (good against defective copy), the false-reject rate
at the calibrated threshold (good parts scored at or above 1.0, the NG threshold, whatever the guard says) and the
share of good parts the lighting guard sent to CHECK (absent before the guard existed).

    PYTHONPATH=. python benchmarks/validate_lighting.py --data ../shared/datasets --train 100 --holdout 40 \\
        --out /tmp/validate.json

Each set trains in the same process, one after the other; ``--sets`` picks some. The model code it runs is the
checkout's: run the harness from two checkouts to compare a change with what came before.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

SETS = ("mtd", "bottle", "bsdata", "ksdd")
CONDITIONS = ("well-lit", "train family", "held-out family")


def _split(root: Path, n_train: int, n_holdout: int, seed: int):
    """(training samples, held-out good paths) from ``root/train/good``, disjoint, shuffled by ``seed``."""
    from core.data.datasets import read_mvtec

    good = read_mvtec(root).train
    order = np.random.default_rng(seed).permutation(len(good))
    train = [good[i] for i in order[:n_train]]
    held = [good[i].path for i in order[n_train : n_train + n_holdout]]
    return train, held


MODEL_CACHE = Path("/tmp/llad_validation_models")
"""Where :func:`trained_model` keeps models between runs of the validation scripts."""


def trained_model(root: Path, n_train: int, n_holdout: int, preset_name: str, seed: int, **overrides):
    """(model, held-out good paths) of :func:`_split`: the model trained on the split's training part, or read from
    :data:`MODEL_CACHE` when the same split and settings were trained from the same committed ``core``. A ``core``
    with uncommitted changes trains anew and caches nothing (its model could not be told apart)."""
    import subprocess

    from core.checkpoint import read_version, write_version
    from core.training import preset, run_fit

    train, held = _split(root, n_train, n_holdout, seed)
    cfg = preset(preset_name, seed=seed, threads=2, **overrides)
    repo = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(repo)]
    dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "core"], check=False).returncode != 0
    if dirty:
        return run_fit(train, cfg), held
    core_tree = subprocess.run([*git, "rev-parse", "HEAD:core"], capture_output=True, text=True).stdout.strip()
    settings = "-".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    folder = MODEL_CACHE / f"{root.name}-{n_train}-{seed}-{preset_name}-{settings}-{core_tree[:12]}"
    if (folder / "complete").exists():
        return read_version(folder), held
    model = run_fit(train, cfg)
    folder.mkdir(parents=True, exist_ok=True)
    write_version(folder, model)
    (folder / "complete").write_text("")
    return model, held


def _views(held: list[Path], size: int, seed: int, with_masks: bool = False):
    """Per condition, (good images, defective images) of the held-out paths, each pair taken by one camera; with
    ``with_masks``, (good, defective, the defects' masks)."""
    from core.data.defects import synthetic_defect
    from core.data.io import load_image
    from core.data.sensor import render, sample_params
    from core.preprocess import resize_rgb

    rng = np.random.default_rng(seed)
    good = [resize_rgb(load_image(p), size) for p in held]
    pairs = [synthetic_defect(g, rng) for g in good]
    bad, masks = [b for b, _ in pairs], [m for _, m in pairs]
    out = {"well-lit": (good, bad)}
    for condition, family in (("train family", "train"), ("held-out family", "held_out")):
        goods, bads = [], []
        for k, (g, b) in enumerate(zip(good, bad)):
            params = sample_params(rng, family)
            goods.append(render(g, params, seed * 1000 + k))
            bads.append(render(b, params, seed * 1000 + k + 500))
        out[condition] = (goods, bads)
    return {c: (*v, masks) for c, v in out.items()} if with_masks else out


def _measure(predictor, goods, bads) -> dict:
    from core.metrics import auroc

    g = [predictor.predict(img) for img in goods]
    b = [predictor.predict(img) for img in bads]
    scores = np.array([r.score for r in g + b], np.float64)
    labels = np.r_[np.zeros(len(g), bool), np.ones(len(b), bool)]
    return {
        "image_auroc": round(float(auroc(scores, labels)), 4),
        "false_reject_rate": round(float(np.mean([r.score >= 1.0 for r in g])), 4),
        "defects_found": round(float(np.mean([r.score >= 1.0 for r in b])), 4),
        "check_rate_good": round(float(np.mean([bool(getattr(r, "reason", "")) for r in g])), 4),
        "check_rate_defect": round(float(np.mean([bool(getattr(r, "reason", "")) for r in b])), 4),
        "ms_per_image": round(float(np.mean([r.total_ms for r in g + b])), 1),
    }


def validate_set(root: Path, n_train: int, n_holdout: int, preset_name: str, seed: int, **overrides) -> dict:
    from core.predictor import Predictor
    from core.training import preset, run_fit

    train, held = _split(root, n_train, n_holdout, seed)
    t0 = time.perf_counter()
    model = run_fit(train, preset(preset_name, seed=seed, threads=2, **overrides))
    train_s = time.perf_counter() - t0
    predictor = Predictor(model, device="cpu")
    views = _views(held, model.config.image_size, seed)
    result = {"train_images": len(train), "held_out": len(held), "train_seconds": round(train_s, 1)}
    for condition in CONDITIONS:
        result[condition] = _measure(predictor, *views[condition])
        print(f"  {root.name:7s} {condition:16s} {result[condition]}", file=sys.stderr, flush=True)
    return result


def table(results: dict) -> str:
    """A markdown table: one row per set and condition."""
    head = ["set", "condition", "image AUROC", "false rejects at threshold", "defects found", "good sent to CHECK"]
    rows = []
    for name, r in results.items():
        for c in CONDITIONS:
            m = r[c]
            rates = (m["false_reject_rate"], m["defects_found"], m["check_rate_good"])
            rows.append([name, c, f"{m['image_auroc']:.3f}", *(f"{100 * x:.1f} %" for x in rates)])
    return markdown_table(head, rows)


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    """A markdown table of ``rows`` (cells as text) under the column names ``head``."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main(argv: list[str] | None = None) -> int:
    p = set_parser(__doc__.splitlines()[0], holdout=40)
    p.add_argument("--composites", type=int, help="swapped-in and re-finished composites each (default: the preset's)")
    return run_over_sets(p.parse_args(argv), validate_set, table)


def script_main(doc: str, holdout: int, per_set, make_table, argv: list[str] | None) -> int:
    """A per-set validation script's ``main``: :func:`set_parser` named by the first line of its ``doc``, then
    :func:`run_over_sets` of ``per_set`` and ``make_table``."""
    return run_over_sets(set_parser(doc.splitlines()[0], holdout=holdout).parse_args(argv), per_set, make_table)


def set_parser(description: str, holdout: int) -> argparse.ArgumentParser:
    """The command line the per-set validation scripts share (this harness's, :mod:`benchmarks.ablate_terms`',
    :mod:`benchmarks.choose_threshold`'s): which sets, how many images to train on and to validate on, the preset."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", type=Path, default=Path("../shared/datasets"), help="folder holding the four sets")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    p.add_argument("--train", type=int, default=100, help="good images to train on, per set")
    p.add_argument("--holdout", type=int, default=holdout, help="other good images to validate on, per set")
    p.add_argument("--preset", default="fast")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write (outside the repository)")
    p.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a TrainConfig setting to override (repeatable), e.g. holdout_fraction=0.2",
    )
    return p


def config_overrides(pairs: list[str]) -> dict:
    """``FIELD=VALUE`` pairs as TrainConfig overrides, each value read as JSON (a number) or else as text."""
    from core.train_setup import TrainConfig

    out = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or field not in TrainConfig.__dataclass_fields__:
            raise SystemExit(f"--config {pair!r}: expected FIELD=VALUE with a TrainConfig field")
        try:
            out[field] = json.loads(value)
        except json.JSONDecodeError:
            out[field] = value
    return out


def run_over_sets(args, per_set, make_table) -> int:
    """``per_set`` (root, train, holdout, preset, seed, **overrides) for each of ``args.sets``, the results written
    to ``args.out`` after each set, then ``make_table`` of them printed (this harness's and
    :mod:`benchmarks.ablate_terms`'s command line)."""
    overrides = config_overrides(getattr(args, "config", []))
    if args.steps is not None:
        overrides["steps"] = args.steps
    if getattr(args, "composites", None) is not None:
        overrides |= {"swap_images": args.composites, "refinish_images": args.composites}
    results = {}
    for name in args.sets:
        results[name] = per_set(args.data / name, args.train, args.holdout, args.preset, args.seed, **overrides)
        args.out.write_text(json.dumps(results, indent=1))
    print(make_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
