"""``llad bench --suite robustness``: how LLAD and the PatchCore-style reference hold up across cameras and light.

Per data set (an MVTec-layout folder), each model is trained once on the well-lit ``train/good`` images, as a
user would (LLAD synthesises its own low light), and then inspects the test split rendered by the sensor model
(:mod:`core.data.sensor`) under each condition of :func:`conditions`: the well-lit split itself, then one axis at
a time away from a base low-light camera (:data:`BASE`: exposure 1/4, full well 4000 e-, read noise 3 e-, a 2:1
gradient fall-off, the sensor type the images suggest). Every condition is seeded, so both models see the same
captures. Each condition is tagged "in training range" or "held out" (:func:`core.data.sensor.held_out_axes`).

Per condition it records image and pixel AUROC (:func:`core.evaluation.evaluate`), the false-reject rate of good
test images and the miss rate of defective ones at each model's calibrated threshold (LLAD: its saved calibration,
automatic input mode; the reference: its own held-out calibration), and every image's score.

Each model runs in its own child process (as ``llad bench`` does) and is cached in ``<out>/<set>/`` so ``--reuse``
re-runs only the evaluation. Results: ``<out>/robustness.json``, ``robustness.md`` (one table per set) and PNG
plots of AUROC and false-reject rate against exposure and full well (:mod:`core.robustness_report`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from core.data.sensor import SensorParams, held_out_axes, render
from core.types import Verdict

BASE = SensorParams(exposure=0.25, full_well=4000.0, read_noise=3.0, falloff=2.0, shape="gradient")
"""The low-light camera every axis of the sweep starts from."""

MODELS = ("llad", "patchcore")
SEED = 1234


@dataclass(frozen=True)
class Condition:
    """One test condition: ``params`` is ``None`` for the well-lit split as stored."""

    name: str
    axis: str
    value: float | str | None
    params: SensorParams | None

    def held_out(self, monochrome_image: bool) -> tuple[str, ...]:
        return () if self.params is None else held_out_axes(self.params, monochrome_image)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "axis": self.axis,
            "value": self.value,
            "params": None if self.params is None else self.params.to_dict(),
        }


def _frac(x: float) -> str:
    return str(Fraction(x).limit_denominator(64))


def conditions(names: set[str] | None = None) -> list[Condition]:
    """The sweep, in report order; only those named in ``names`` if given."""
    b = BASE
    out = [Condition("well-lit", "well-lit", None, None)]
    for e in (1.0, 0.5, 0.25, 0.125, 1 / 16, 1 / 32):
        out.append(Condition(f"exposure {_frac(e)}", "exposure", e, _with(b, exposure=e)))
    for fw in (300.0, 1000.0, 4000.0, 20000.0):
        out.append(Condition(f"full well {fw:.0f} e-", "full_well", fw, _with(b, full_well=fw)))
    for rn in (1.0, 3.0, 12.0):
        out.append(Condition(f"read noise {rn:.0f} e-", "read_noise", rn, _with(b, read_noise=rn)))
    for colour in ("mono", "bayer"):
        out.append(Condition(f"{colour} sensor", "colour", colour, _with(b, colour=colour)))
    for shape in ("gradient", "spot", "radial", "vignette"):
        out.append(Condition(f"{shape} 6:1", "falloff", shape, _with(b, shape=shape, falloff=6.0)))
    for q in (60, 95):
        out.append(Condition(f"JPEG {q}", "jpeg_quality", q, _with(b, jpeg_quality=q)))
    for g in (1.8, 2.4):
        out.append(Condition(f"gamma {g}", "gamma", g, _with(b, gamma=g)))
    out.append(Condition("defocus 1.5 px", "defocus", 1.5, _with(b, defocus=1.5)))
    out.append(Condition("fixed pattern 2 %", "fixed_pattern", 0.02, _with(b, fixed_pattern=0.02)))
    if names:
        unknown = names - {c.name for c in out}
        if unknown:
            raise ValueError(f"unknown conditions {sorted(unknown)}; known: {[c.name for c in out]}")
        out = [c for c in out if c.name in names]
    return out


def _with(p: SensorParams, **changes) -> SensorParams:
    return SensorParams(**{**p.to_dict(), **changes})


def stratified(samples: list, limit: int | None) -> list:
    """About ``limit`` of ``samples``, each defect type (and good) in proportion and at least two of each, evenly
    spaced through each type's list so the pick is deterministic."""
    if not limit or len(samples) <= limit:
        return list(samples)
    by_type: dict[str, list] = {}
    for s in samples:
        by_type.setdefault(s.defect_type, []).append(s)
    out = []
    for items in by_type.values():
        k = min(len(items), max(2, round(limit * len(items) / len(samples))))
        idx = np.linspace(0, len(items) - 1, k).round().astype(int)
        out.extend(items[i] for i in sorted(set(idx.tolist())))
    return out


def _report(rep, seconds: float) -> dict:
    c = rep.confusion
    good, bad = c["fp"] + c["tn"], c["tp"] + c["fn"]
    return {
        "image_auroc": rep.image_auroc,
        "pixel_auroc": rep.pixel_auroc,
        "false_reject": c["fp"] / good if good else float("nan"),
        # of the good images, those the lighting guard sent to CHECK (counted in false_reject too)
        "check": sum(r.verdict == Verdict.UNCERTAIN.value and r.label == 0 for r in rep.rows) / good if good else 0.0,
        "miss": c["fn"] / bad if bad else float("nan"),
        "good": good,
        "defective": bad,
        "threshold": rep.threshold,
        "seconds": round(seconds, 1),
        "scores": [round(r.score, 5) for r in rep.rows],
        "labels": [r.label for r in rep.rows],
    }


def _progress(event) -> None:
    if event.stage != "train" or event.step % 50 == 0 or event.step == event.total:
        print(f"  {event.stage} {event.step}/{event.total} {event.message}", file=sys.stderr, flush=True)


def _llad(train: list, args: dict, setdir: Path):
    from core.predictor import Predictor
    from core.recipes import RecipeStore
    from core.training import preset, run_fit

    store = RecipeStore(setdir / "recipes")
    if args["reuse"] and store.exists("llad") and store.get("llad").active_version:
        recipe = store.get("llad")
        info = {"reused": True, **json.loads((setdir / "llad.json").read_text())}
    else:
        overrides = {"steps": args["steps"]} if args.get("steps") else {}
        t0 = time.perf_counter()
        trained = run_fit(train, preset(args["preset"], **overrides), on_event=_progress)
        info = {"train_seconds": time.perf_counter() - t0, "train_images": len(train), "commit": args["commit"]}
        recipe = store.get("llad") if store.exists("llad") else store.create("llad")
        info["version"] = recipe.save_version(trained, activate=True)
        (setdir / "llad.json").write_text(json.dumps(info))
        info["reused"] = False
    return Predictor.from_recipe(recipe), info


def _patchcore(train: list, args: dict, setdir: Path):
    import torch

    from core.baseline import PatchCoreBaseline
    from core.calibration import ModeCalibration
    from core.data.io import load_image

    model = PatchCoreBaseline()
    bank, meta = setdir / "patchcore.pt", setdir / "patchcore.json"
    if args["reuse"] and bank.is_file() and meta.is_file():
        model.bank = torch.load(bank, weights_only=True)["bank"]
        info = json.loads(meta.read_text())
        model.cal = ModeCalibration(**info.pop("calibration"))
        return model, {"reused": True, **info}
    images = [load_image(s.path) for s in train]
    hold = set(np.random.default_rng(0).choice(len(images), size=max(3, len(images) // 10), replace=False).tolist())
    t0 = time.perf_counter()
    fit = model.fit(
        [im for i, im in enumerate(images) if i not in hold], [im for i, im in enumerate(images) if i in hold]
    )
    info = {"train_seconds": time.perf_counter() - t0, "train_images": len(train), "bank_size": fit["bank_size"]}
    torch.save({"bank": model.bank}, bank)
    meta.write_text(json.dumps({**info, "calibration": model.cal.__dict__}))
    return model, {"reused": False, **info}


def run_child(which: str, args: dict) -> dict:
    """Train (or load) one model on one set and evaluate it under every condition (run in a child process)."""
    import torch

    from core.data.datasets import read_mvtec
    from core.data.io import load_image
    from core.data.lowlight import is_monochrome
    from core.evaluation import evaluate

    torch.set_num_threads(args["threads"])
    ds = read_mvtec(args["data"])
    train = ds.train[: args["limit_train"]] if args.get("limit_train") else ds.train
    test = stratified(ds.test, args.get("limit_test"))
    setdir = Path(args["setdir"])
    setdir.mkdir(parents=True, exist_ok=True)
    predictor, info = (_llad if which == "llad" else _patchcore)(train, args, setdir)
    mono = all(is_monochrome(load_image(s.path)) for s in train[:: max(1, len(train) // 5)][:5])
    out: dict = {"model": which, **info, "test_images": len(test), "monochrome": mono, "conditions": {}}
    done: dict[SensorParams | None, dict] = {}
    for cond in conditions(set(args["conditions"]) if args.get("conditions") else None):
        if cond.params not in done:
            t0 = time.perf_counter()
            fn = None if cond.params is None else (lambda im, s, p=cond.params: render(im, p, s))
            rep = evaluate(predictor, test, render=fn, seed=SEED)
            done[cond.params] = _report(rep, time.perf_counter() - t0)
            r = done[cond.params]
            print(
                f"  {which} {cond.name}: AUROC {r['image_auroc']:.3f} false-reject {r['false_reject']:.2f} "
                f"({r['seconds']:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        out["conditions"][cond.name] = {**done[cond.params], "held_out": list(cond.held_out(mono))}
    return out


def _commit() -> str:
    try:
        root = Path(__file__).resolve().parents[1]
        proc = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        return proc.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _previous(path: Path, rerun: list[str]) -> dict:
    """The results already in ``path`` for sets other than ``rerun`` (so sets can be run one at a time into one
    report), or an empty report."""
    empty: dict = {"conditions": [], "sets": {}, "set_settings": {}}
    if not path.is_file():
        return empty
    old = json.loads(path.read_text())
    if old.get("base") != BASE.to_dict():
        return empty  # another base camera: not comparable
    keep = [n for n in old.get("sets", {}) if n not in rerun]
    return {
        "conditions": old.get("conditions", []),
        "sets": {n: old["sets"][n] for n in keep},
        "set_settings": {n: old.get("set_settings", {}).get(n, old.get("settings", {})) for n in keep},
    }


def run_suite(args) -> dict:
    """Run the suite for every set in ``args.sets`` (default: every MVTec-layout folder under ``args.data_root``)."""
    from core.data.datasets import is_mvtec
    from core.errors import DatasetError
    from core.robustness_report import write_report

    root = Path(args.data_root)
    if not root.is_dir():
        raise DatasetError(f"data root {root} is not a folder")
    names = args.sets.split(",") if args.sets else sorted(d.name for d in root.iterdir() if is_mvtec(d))
    for n in names:
        if not is_mvtec(root / n):
            raise DatasetError(f"{root / n} is not an MVTec-layout data set")
    wanted = args.conditions.split(",") if args.conditions else None
    conds = conditions(set(wanted) if wanted else None)  # refuses unknown names before any training
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {
        "data_root": str(root.resolve()),
        "preset": args.preset,
        "steps": args.steps,
        "limit_train": args.limit_train,
        "limit_test": args.limit_test,
        "threads": args.threads,
        "reuse": args.reuse,
        "conditions": wanted,
        "commit": _commit(),
    }
    results = _previous(out / "robustness.json", names)
    results["settings"] = settings
    results["base"] = BASE.to_dict()
    known = {c["name"] for c in results["conditions"]}
    order = [c.name for c in conditions()]
    results["conditions"] = sorted(
        results["conditions"] + [c.to_dict() for c in conds if c.name not in known],
        key=lambda c: order.index(c["name"]),
    )
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    package_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    for name in names:
        results["sets"][name] = {}
        results["set_settings"][name] = settings
        for which in MODELS:
            print(f"robustness: {name} / {which} ...", file=sys.stderr, flush=True)
            child = {**settings, "data": str((root / name).resolve()), "setdir": str((out / name).resolve())}
            proc = subprocess.run(
                [sys.executable, "-m", "core.robustness", which, json.dumps(child)],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"robustness child {name}/{which} failed (exit {proc.returncode}); see stderr")
            results["sets"][name][which] = json.loads(proc.stdout.strip().splitlines()[-1])
        write_report(results, out)  # after every set, so a long run leaves its finished sets behind
    print((out / "robustness.md").read_text())
    return results


if __name__ == "__main__":
    print(json.dumps(run_child(sys.argv[1], json.loads(sys.argv[2]))))
