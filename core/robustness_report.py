"""The robustness suite's outputs: ``robustness.json``, a markdown table per data set and PNG plots.

Kept apart from :mod:`core.robustness` (which runs the models) so a report can be redrawn from a saved json
(:func:`write_report`) without running anything. Plots use matplotlib's Agg backend (no display, no Qt); without
matplotlib the json and tables are still written and the plots are skipped with a note.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

MODEL_LABELS = {"llad": "LLAD", "patchcore": "reference"}
PLOT_AXES = (("exposure", "exposure (fraction of well-lit)"), ("full_well", "full well (e-)"))


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{100 * v:.0f} %" if pct else f"{v:.3f}"


def _pair(set_results: dict, cond: str, key: str, pct: bool = False) -> str:
    cells = [_fmt(set_results[m]["conditions"][cond][key], pct) for m in MODEL_LABELS if m in set_results]
    return " / ".join(cells)


def set_table(name: str, set_results: dict) -> str:
    """One set's markdown table: a row a condition, LLAD / reference side by side in each cell."""
    llad = set_results.get("llad") or next(iter(set_results.values()))
    first = next(iter(llad["conditions"].values()))
    trained = ", ".join(
        f"{MODEL_LABELS[m]} {r.get('train_images', '?')} images"
        + ("" if r.get("reused") is False else f" (cached{', at ' + r['commit'] if r.get('commit') else ''})")
        for m, r in set_results.items()
    )
    lines = [
        f"#### {name}: {first['good']} good and {first['defective']} defective test images; trained on {trained}",
        "",
        "| condition | held out | image AUROC | pixel AUROC | good rejected | defects missed |",
        "|---|---|---|---|---|---|",
    ]
    for cond, r in llad["conditions"].items():
        held = ", ".join(r["held_out"]) or "-"
        lines.append(
            f"| {cond} | {held} | {_pair(set_results, cond, 'image_auroc')} | {_pair(set_results, cond, 'pixel_auroc')}"
            f" | {_pair(set_results, cond, 'false_reject', True)} | {_pair(set_results, cond, 'miss', True)} |"
        )
    return "\n".join(lines) + "\n"


def _run_line(s: dict) -> str:
    steps = f" ({s['steps']} steps)" if s.get("steps") else ""
    return (
        f"Run at commit {s['commit']}: preset {s['preset']}{steps}, training images limited to "
        f"{s.get('limit_train') or 'all'}, test images to {s.get('limit_test') or 'all'} (stratified), "
        f"{s['threads']} threads."
    )


TARGET_EXPOSURE, TARGET_FULL_WELL = 1 / 16, 1000.0
"""The issue's target range: every condition down to this exposure and full well (others at the base camera)."""


def in_target_range(condition: dict) -> bool:
    """Whether a condition (as saved in the json) is inside the target range; the well-lit split is not a
    low-light condition and is left out."""
    p = condition.get("params")
    return p is not None and p["exposure"] >= TARGET_EXPOSURE * (1 - 1e-9) and p["full_well"] >= TARGET_FULL_WELL


def target_rows(results: dict, fast: dict | None = None) -> list[dict]:
    """Per set and model, the numbers the targets are about: well-lit image AUROC, the lowest low-light image
    AUROC in the target range (and its condition), the highest rate of good parts rejected there (NG or CHECK) and
    of those sent to CHECK, and with ``fast`` (a run of the fast preset) its well-lit and lowest AUROC."""
    inside = [c["name"] for c in results["conditions"] if in_target_range(c)]
    rows = []
    for name, set_results in results["sets"].items():
        for model, r in set_results.items():
            conds = r["conditions"]
            names = [n for n in inside if n in conds]
            if not names:
                continue
            worst = min(names, key=lambda n: conds[n]["image_auroc"])
            lit = conds.get("well-lit", {})
            row = {
                "set": name,
                "model": model,
                "well_lit": lit.get("image_auroc", float("nan")),
                "worst": conds[worst]["image_auroc"],
                "worst_condition": worst,
                "well_lit_frr": lit.get("false_reject", float("nan")),
                "max_frr": max(conds[n]["false_reject"] for n in names),
                "max_frr_condition": max(names, key=lambda n: conds[n]["false_reject"]),
                "max_check": max(conds[n].get("check", 0.0) for n in names),
                "max_miss": max(conds[n]["miss"] for n in names),
            }
            f = (fast or {}).get("sets", {}).get(name, {}).get(model)
            if f is not None:
                fc = f["conditions"]
                row["fast_well_lit"] = fc.get("well-lit", {}).get("image_auroc", float("nan"))
                row["fast_worst"] = min((fc[n]["image_auroc"] for n in names if n in fc), default=float("nan"))
            rows.append(row)
    return rows


def targets_table(results: dict, fast: dict | None = None) -> str:
    """:func:`target_rows` as markdown, one row per set and model."""
    lines = [
        "| set | model | well-lit image AUROC | lowest low-light AUROC (condition) | good rejected: well-lit / worst "
        "low-light (condition) | of them CHECK, worst | defects missed, worst | fast preset: well-lit / lowest |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in target_rows(results, fast):
        fast_cell = f"{_fmt(r['fast_well_lit'])} / {_fmt(r['fast_worst'])}" if "fast_well_lit" in r else "n/a"
        lines.append(
            f"| {r['set']} | {MODEL_LABELS.get(r['model'], r['model'])} | {_fmt(r['well_lit'])} | "
            f"{_fmt(r['worst'])} ({r['worst_condition']}) | {_fmt(r['well_lit_frr'], True)} / "
            f"{_fmt(r['max_frr'], True)} ({r['max_frr_condition']}) | {_fmt(r['max_check'], True)} | "
            f"{_fmt(r['max_miss'], True)} | {fast_cell} |"
        )
    return "\n".join(lines) + "\n"


def markdown(results: dict) -> str:
    """Every set's table, with what was run and how to read the cells."""
    base = results["base"]
    head = (
        f"Base low-light camera: exposure {base['exposure']:g}, full well {base['full_well']:g} e-, read noise "
        f"{base['read_noise']:g} e-, {base['falloff']:g}:1 {base['shape']} fall-off, the sensor type the images "
        "suggest; each row changes one axis. Cells: LLAD / reference. Rates at each model's calibrated threshold."
    )
    parts = [head, "", targets_table(results), ""]
    for name, set_results in results["sets"].items():
        settings = results.get("set_settings", {}).get(name, results["settings"])
        parts += [set_table(name, set_results), _run_line(settings), ""]
    return "\n".join(parts)


def _series(results: dict, axis: str) -> list[tuple[str, str, list[float], list[float], list[float]]]:
    conds = [c for c in results["conditions"] if c["axis"] == axis]
    out = []
    for name, set_results in results["sets"].items():
        for model, r in set_results.items():
            xs, auc, frr = [], [], []
            for c in conds:
                if c["name"] in r["conditions"]:
                    xs.append(float(c["value"]))
                    auc.append(r["conditions"][c["name"]]["image_auroc"])
                    frr.append(r["conditions"][c["name"]]["false_reject"])
            if xs:
                out.append((name, model, xs, auc, frr))
    return out


def write_plots(results: dict, out: Path) -> list[Path]:
    """``robustness_<axis>.png`` for exposure and full well: image AUROC and false-reject rate, a line per set and
    model (colour = set, solid = LLAD, dashed = reference)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed (pip install matplotlib); plots skipped", file=sys.stderr)
        return []
    written = []
    colours = {n: f"C{i}" for i, n in enumerate(results["sets"])}
    for axis, label in PLOT_AXES:
        series = _series(results, axis)
        if not series:
            continue
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
        for name, model, xs, auc, frr in series:
            style = {"color": colours[name], "linestyle": "-" if model == "llad" else "--", "marker": "o"}
            a1.plot(xs, auc, label=f"{name} {MODEL_LABELS.get(model, model)}", **style)
            a2.plot(xs, [100 * v for v in frr], **style)
        for ax, ylabel in ((a1, "image AUROC"), (a2, "good parts rejected (%)")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel(label)
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
        a1.set_ylim(0.4, 1.01)
        a2.set_ylim(-2, 102)
        a1.legend(fontsize=7, ncol=2)
        fig.suptitle(f"robustness: {label.split(' (')[0]} (other axes at the base camera)")
        path = out / f"robustness_{axis}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def write_report(results: dict, out: Path) -> dict[str, Path]:
    """Write the json, the markdown tables and the plots into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "robustness.json", "markdown": out / "robustness.md"}
    paths["json"].write_text(json.dumps(results, indent=1))
    paths["markdown"].write_text(markdown(results))
    for p in write_plots(results, out):
        paths[p.stem] = p
    return paths


def main(argv: list[str] | None = None) -> int:
    """Redraw a report from its json; with ``--fast``, the targets table beside a fast-preset run's."""
    import argparse

    p = argparse.ArgumentParser(description="redraw a robustness report from its robustness.json")
    p.add_argument("out", type=Path, help="the suite's --out folder")
    p.add_argument("--fast", type=Path, help="--out folder of a run of the fast preset, for the targets table")
    args = p.parse_args(argv)
    results = json.loads((args.out / "robustness.json").read_text())
    write_report(results, args.out)
    fast = json.loads((args.fast / "robustness.json").read_text()) if args.fast else None
    print(targets_table(results, fast))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
