"""How long does a top-up take? A category trained on N good images, then topped up with 20 new ones, timed.

Per data set: a recipe in a scratch store gets the first ``--base`` images of ``train/good``, is trained with the
fast preset (as the Train page would) and activated; the next ``--new`` images are imported and
:func:`core.topup.run_topup` runs (the foreign-region heads kept, only rescaled); with ``--refit``, once more with
the heads fitted anew. The report gives each run's wall time and where it went (loading, the fine-tuning steps,
calibration), and what each model makes of ``--holdout`` further ``train/good`` images (validation data: never a
test split) and synthetic defects on them, well-lit and through random cameras of the training and held-out
families (:mod:`benchmarks.validate_lighting`).

    PYTHONPATH=. python benchmarks/topup_time.py --data-root ../shared/datasets --sets mtd bsdata --threads 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def _timed(run) -> tuple[object, dict]:
    """Run ``run(on_event)``; return its result and the seconds spent in each training stage."""
    stages: dict[str, float] = {}
    last = [time.perf_counter(), None]

    def on_event(event) -> None:
        now = time.perf_counter()
        if last[1] is not None:
            stages[last[1]] = stages.get(last[1], 0.0) + now - last[0]
        last[0], last[1] = now, event.stage

    t0 = time.perf_counter()
    result = run(on_event)
    stages = {k: round(v, 1) for k, v in stages.items()}
    return result, {"seconds": round(time.perf_counter() - t0, 1), "stages": stages}


def measure(set_root: Path, work: Path, base: int, new: int, threads: int, holdout: int = 40, refit=False) -> dict:
    """One set: the base training and the top-up timed, both validated; with ``refit``, also a top-up whose
    foreign-region heads are fitted anew (timed and validated beside)."""
    from benchmarks.ablate_terms import _measure as quality
    from benchmarks.validate_lighting import CONDITIONS, _views
    from core.predictor import Predictor
    from core.recipes import RecipeStore
    from core.topup import finish_topup, plan_topup, run_topup
    from core.training import preset, run_fit

    goods = sorted((set_root / "train" / "good").iterdir())
    if len(goods) < base + new + holdout:
        raise SystemExit(f"{set_root} has {len(goods)} good training images; {base + new + holdout} are needed")
    recipe = RecipeStore(work).create(set_root.name)
    recipe.import_samples(goods[:base])
    cfg = preset("fast", threads=threads)
    trained, full = _timed(lambda ev: run_fit(recipe.samples(), cfg, on_event=ev, roi=recipe.roi()))
    recipe.save_version(trained, activate=True)
    recipe.import_samples(goods[base : base + new])
    (_, kept), top = _timed(lambda ev: run_topup(recipe, on_event=ev))
    row = {"set": set_root.name, "base_images": base, "new_images": new, "full_training": full, "topup": top}
    variants = [("base", trained), ("topup", kept)]
    if refit:
        plan = plan_topup(recipe)
        kwargs = {k: v for k, v in plan.fit_kwargs.items() if k != "keep_heads"}
        refitted, row["topup_heads_refitted"] = _timed(
            lambda ev: run_fit(recipe.samples(), plan.config, on_event=ev, **kwargs)
        )
        variants.append(("topup, heads refitted", finish_topup(refitted, plan)))
    views = _views(goods[base + new : base + new + holdout], cfg.image_size, seed=0, with_masks=True)
    row["validation"] = {}
    for name, model in variants:
        predictor = Predictor(model, device="cpu")
        row["validation"][name] = {c: quality(predictor, *views[c]) for c in CONDITIONS}
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--sets", nargs="+", default=["mtd", "bottle", "bsdata", "ksdd"])
    ap.add_argument("--base", type=int, default=100, help="good images the category is first trained on")
    ap.add_argument("--new", type=int, default=20, help="new good images the top-up adds")
    ap.add_argument("--holdout", type=int, default=40, help="further good images the models are validated on")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--refit", action="store_true", help="also time and validate a top-up with its heads refitted")
    ap.add_argument("--out", type=Path, help="write the results here as JSON")
    args = ap.parse_args(argv)
    rows = []
    for name in args.sets:
        with tempfile.TemporaryDirectory() as work:
            root = args.data_root / name
            row = measure(root, Path(work), args.base, args.new, args.threads, args.holdout, args.refit)
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
