"""``llad``: train, inspect, evaluate, benchmark and export the log from the command line.

Every subcommand has ``--help``. Recipes live in the per-user data folder (``$LLAD_HOME/recipes``; see
:mod:`core.paths`) unless ``--recipes DIR`` is given. Errors the user can fix are printed as one line,
``error: ...``, with exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core import __version__
from core.errors import DatasetError, LladError


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--recipes", metavar="DIR", help="recipes folder (default: $LLAD_HOME/recipes or the per-user data folder)"
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads for PyTorch (default: all cores)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llad", description="LLAD Inspector: anomaly detection under low light.")
    parser.add_argument("--version", action="version", version=f"llad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "train",
        help="train a category from good images",
        description="Train a category (recipe) from defect-free images and save it as a new model version.",
    )
    _add_common(p)
    p.add_argument(
        "--data",
        required=True,
        metavar="DIR",
        help="good images: an MVTec category (train/good is used) or a plain folder",
    )
    p.add_argument(
        "--lowlight", metavar="DIR", help="low-light partners of --data, matched by file name (paired training)"
    )
    p.add_argument("--lowlight-only", action="store_true", help="--data holds low-light images only (no well-lit ones)")
    p.add_argument("--category", required=True, help="category name (created if it does not exist)")
    p.add_argument("--preset", default="default", choices=["default", "fast", "tiny"], help="training preset")
    p.add_argument("--steps", type=int, help="override the preset's number of training steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-activate", action="store_true", help="save the version without making it the active one")

    p = sub.add_parser(
        "infer",
        help="inspect images; one JSON line per image",
        description="Inspect images with a category's active model; prints one JSON line per image.",
    )
    _add_common(p)
    p.add_argument("--category", required=True)
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    p.add_argument(
        "--mode",
        choices=["auto", "lowlight", "welllit"],
        default="auto",
        help="input lighting (auto: decided per image from its brightness)",
    )
    p.add_argument("--partner", metavar="DIR", help="folder of well-lit partners (same file names): paired mode")
    p.add_argument("--save-maps", metavar="DIR", help="write anomaly-map overlays and illumination maps as PNG here")
    p.add_argument("--version", dest="model_version", help="model version (default: the active one)")
    p.add_argument("--log", action="store_true", help="also record every result in the inspection log")

    p = sub.add_parser(
        "eval",
        help="evaluate a category on labelled images (JSON)",
        description="Image AUROC, pixel AUROC, AUPRO, F1 at the threshold, counts and ms per image.",
    )
    _add_common(p)
    p.add_argument("--category", required=True)
    p.add_argument("--data", required=True, metavar="DIR", help="an MVTec category (test split) or good/ + bad/ folder")
    p.add_argument("--mode", choices=["auto", "lowlight", "welllit"], default="auto")
    p.add_argument("--lowlight-strength", type=float, help="synthesize a low-light version of every test image first")
    p.add_argument("--rows", action="store_true", help="include one entry per image")
    p.add_argument("--version", dest="model_version")

    p = sub.add_parser(
        "bench",
        help="benchmark against a PatchCore-style memory bank (writes JSON + markdown)",
        description="Train on the dataset's good images and compare with a memory-bank kNN "
        "on the same backbone, well-lit and on a synthetic low-light test set.",
    )
    p.add_argument("--data", metavar="DIR", help="an MVTec-layout category, e.g. ../shared/datasets/mtd")
    p.add_argument(
        "--suite",
        choices=["compare", "robustness"],
        default="compare",
        help="compare: one set well-lit and low-light; robustness: a sweep of cameras over several sets",
    )
    p.add_argument("--data-root", metavar="DIR", help="robustness: folder of MVTec-layout sets (../shared/datasets)")
    p.add_argument("--sets", help="robustness: comma-separated set names under --data-root (default: all)")
    p.add_argument("--conditions", help="robustness: comma-separated condition names (default: all)")
    p.add_argument("--reuse", action="store_true", help="robustness: reuse the models cached in --out")
    p.add_argument("--out", default="bench_out", metavar="DIR")
    p.add_argument("--preset", default="default", choices=["default", "fast", "tiny"])
    p.add_argument("--steps", type=int)
    p.add_argument("--lowlight-strength", type=float, default=0.75)
    p.add_argument("--limit-train", type=int, help="use only the first N training images (quick runs)")
    p.add_argument("--limit-test", type=int, help="use only every k-th test image so about N remain (quick runs)")
    p.add_argument("--threads", type=int, default=2)

    p = sub.add_parser("categories", help="list categories and their versions")
    _add_common(p)

    p = sub.add_parser("log", help="inspection log tools")
    logsub = p.add_subparsers(dest="log_command", required=True, metavar="ACTION")
    e = logsub.add_parser("export", help="export the inspection log as CSV")
    e.add_argument("--out", required=True, metavar="FILE")
    e.add_argument("--db", metavar="FILE", help="log database (default: $LLAD_HOME/inspections.sqlite)")
    e.add_argument("--category")
    e.add_argument("--verdict", choices=["OK", "NG", "UNCERTAIN", "ERROR"])
    e.add_argument("--since", help="ISO date or time, e.g. 2026-11-01")
    e.add_argument("--until", help="ISO date or time")

    p = sub.add_parser("cameras", help="list the industrial camera back-ends and the cameras they see, as JSON")
    p.add_argument("--producer", default="", metavar="CTI", help="GenTL producer for GenICam cameras")

    p = sub.add_parser("selftest", help="load the backbone, train a tiny category, inspect one image, print JSON")
    p.add_argument("--keep", metavar="DIR", help="keep the self-test recipe in DIR")
    return parser


def _store(args):
    from core.paths import recipes_dir
    from core.recipes import RecipeStore

    return RecipeStore(recipes_dir(args.recipes))


def _threads(args) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def cmd_train(args) -> int:
    from core.data.datasets import is_mvtec, read_good_folder, read_mvtec, read_paired
    from core.training import preset, run_fit

    if args.lowlight:
        paired = read_paired(Path(args.data) / "train" / "good" if is_mvtec(args.data) else args.data, args.lowlight)
        if paired.only_welllit or paired.only_lowlight:
            print(f"note: {paired.report()}", file=sys.stderr)
        samples = paired.pairs
    elif is_mvtec(args.data):
        samples = read_mvtec(args.data).train
    else:
        samples = read_good_folder(args.data)
    overrides = {"seed": args.seed}
    if args.steps:
        overrides["steps"] = args.steps
    cfg = preset(args.preset, **overrides)
    store = _store(args)
    recipe = store.get(args.category) if store.exists(args.category) else store.create(args.category)

    def progress(e):
        if e.stage == "train" and (e.step % 25 == 0 or e.step == e.total):
            print(f"step {e.step}/{e.total} loss {e.loss:.4f} eta {e.eta:.0f}s", file=sys.stderr, flush=True)
        elif e.stage != "train":
            print(f"{e.stage}: {e.message}", file=sys.stderr, flush=True)

    trained = run_fit(samples, cfg, on_event=progress, lowlight_only=args.lowlight_only, roi=recipe.roi())
    version = recipe.save_version(trained, activate=not args.no_activate)
    print(
        json.dumps(
            {
                "category": recipe.name,
                "version": version,
                "active": not args.no_activate,
                **{k: v for k, v in trained.stats.items() if k != "loss_curve"},
            }
        )
    )
    return 0


def _expand(paths) -> list[Path]:
    from core.data.io import list_images

    out = []
    for p in map(Path, paths):
        out.extend(list_images(p) if p.is_dir() else [p])
    return out


def cmd_infer(args) -> int:
    from core.data.io import ImageLoadError, load_image
    from core.predictor import Predictor
    from core.types import Frame, InputMode

    recipe = _store(args).get(args.category)
    predictor = Predictor.from_recipe(recipe, args.model_version)
    mode = None if args.mode == "auto" else InputMode(args.mode)
    log = None
    if args.log:
        from core.log import InspectionLog
        from core.paths import log_path

        log = InspectionLog(log_path())
    failures = 0
    for path in _expand(args.paths):
        try:
            image = load_image(path)
            partner = load_image(Path(args.partner) / path.name) if args.partner else None
        except ImageLoadError as exc:
            failures += 1
            print(json.dumps({"path": str(path), "error": exc.reason}), flush=True)
            continue
        r = predictor.predict(Frame(image, source="cli", ref=str(path), partner=partner), mode)
        line = {
            "path": str(path),
            "score": round(r.score, 4),
            "raw_score": r.raw_score,
            "verdict": r.verdict.value,
            "reason": r.reason,
            "lighting": None if r.lighting is None else r.lighting.to_dict(),
            "mode": r.mode.value,
            "thresholds": r.thresholds.to_dict(),
            "ms": round(r.total_ms, 2),
            "category": recipe.name,
            "version": predictor.version,
        }
        if args.save_maps:
            from core.visualize import save_result_images

            line["maps"] = save_result_images(r, Path(args.save_maps), path.stem)
        if log is not None:
            log.record(r, source="cli", image_ref=str(path))
        print(json.dumps(line), flush=True)
    return 1 if failures else 0


def cmd_eval(args) -> int:
    from core.data.datasets import read_labelled
    from core.evaluation import evaluate
    from core.predictor import Predictor
    from core.types import InputMode

    recipe = _store(args).get(args.category)
    predictor = Predictor.from_recipe(recipe, args.model_version)
    mode = None if args.mode == "auto" else InputMode(args.mode)
    if mode == InputMode.WELLLIT and args.lowlight_strength is not None:
        print(
            "warning: --mode welllit inspects the darkened test images as if they were well lit; "
            "--mode lowlight (or auto) inspects them as the dark captures they are",
            file=sys.stderr,
        )
    report = evaluate(predictor, read_labelled(args.data), mode=mode, lowlight_strength=args.lowlight_strength)
    print(json.dumps({"category": recipe.name, "version": predictor.version, **report.to_dict(rows=args.rows)}))
    return 0


def cmd_categories(args) -> int:
    store = _store(args)
    for name in store.names():
        try:
            r = store.get(name)
            print(
                json.dumps(
                    {
                        "category": name,
                        "active": r.active_version,
                        "versions": r.versions(),
                        "samples": len(r.samples()),
                    }
                )
            )
        except LladError as exc:
            print(json.dumps({"category": name, "error": str(exc)}))
    return 0


def cmd_log(args) -> int:
    from core.log import export_main
    from core.paths import log_path

    n = export_main(log_path(args.db), Path(args.out), args.category, args.verdict, args.since, args.until)
    print(json.dumps({"rows": n, "out": args.out}))
    return 0


def cmd_bench(args) -> int:
    if args.suite == "robustness":
        from core.robustness import run_suite

        if not args.data_root:
            raise DatasetError("--suite robustness needs --data-root")
        run_suite(args)
        return 0
    from core.bench import run_benchmark

    if not args.data:
        raise DatasetError("llad bench needs --data (or --suite robustness --data-root)")
    run_benchmark(args)
    return 0


def cmd_cameras(args) -> int:
    from core.sources.cameras import camera_backends, list_cameras

    out = {}
    for name, status in camera_backends(args.producer).items():
        cameras = list_cameras(name, args.producer) if status.available else []
        out[name] = {
            "available": status.available,
            "reason": status.reason,
            "version": status.version,
            "cameras": [{"serial": c.serial, "model": c.model, "vendor": c.vendor} for c in cameras],
        }
    print(json.dumps(out))
    return 0


def cmd_selftest(args) -> int:
    from core.selftest import run_selftest

    result = run_selftest(args.keep)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


COMMANDS = {
    "train": cmd_train,
    "infer": cmd_infer,
    "eval": cmd_eval,
    "bench": cmd_bench,
    "categories": cmd_categories,
    "log": cmd_log,
    "selftest": cmd_selftest,
    "cameras": cmd_cameras,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _threads(args)
        return COMMANDS[args.command](args)
    except LladError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
