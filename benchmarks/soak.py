"""Soak run without the GUI: many inspections through the predictor, the inspection log and the image store.

Trains a small "soak" category once (or reuses one already active in ``--home``), loads ~60 MTD test images
once as arrays (``--from-disk`` decodes each file every time instead), then inspects ``--count`` frames in a
loop the way a line would: predict, keep the NG/uncertain image in an :class:`~core.imagestore.ImageStore`
bounded to ``--max-files`` files, log the result in the :class:`~core.log.InspectionLog`.

Logging, ``--log-mode``:

- ``batch`` (default): results are buffered and written with ``record_many`` every ``--batch`` results, one
  transaction (and, with the log's default ``synchronous=FULL``, one fsync) per batch. This is how a line
  controller that buffers results would use the log; a crash loses at most the unwritten batch.
- ``single``: one ``record`` (one transaction) per result, as the GUI's inference worker does. Use it with
  ``--synchronous NORMAL`` to trade power-cut durability for speed, or FULL to measure the worst case.

The buffer holds what the log needs (score, verdict, provenance), not the anomaly maps or the image.

Measured: inspections a second, milliseconds per inspection (predict + keep + log; mean, p50, p99), resident
memory (``VmRSS``; peak ``VmHWM``) after the warm-up and at the end, the growth, log rows added == inspections,
``PRAGMA integrity_check`` of the log, and the image store's file count against its bound. Prints a JSON
summary and a markdown table row; exits 1 when the growth reaches ``--max-growth-mb`` (50), the row count
differs, the log is not intact or the store exceeds its bound.

    .venv/bin/python benchmarks/soak.py --count 20000 --json soak.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "datasets" / "mtd"
CATEGORY = "soak"
MB = 1024 * 1024
_NO_MAP = np.zeros((1, 1), np.float32)

MARKDOWN_HEADER = (
    "| run | inspections | s | insp/s | ms mean | ms p50 | ms p99 | RSS start MB | RSS end MB | growth MB "
    "| peak MB | log rows | integrity | images kept | stall max ms |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


# ---- shared with soak_gui.py ------------------------------------------------------------------------------


def memory_mb() -> dict[str, float]:
    """Resident memory now and at its peak, in MB: ``VmRSS``/``VmHWM`` of ``/proc/self/status`` on Linux, the
    working set and its peak on Windows, elsewhere the peak only (``ru_maxrss``) and NaN for now."""
    rss = hwm = float("nan")
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "VmRSS":
                rss = int(value.split()[0]) / 1024  # kB
            elif key == "VmHWM":
                hwm = int(value.split()[0]) / 1024
    elif sys.platform == "win32":
        rss, hwm = _windows_working_set()
    else:
        import resource

        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (MB if sys.platform == "darwin" else 1024)
    return {"rss": round(rss, 1), "hwm": round(hwm, 1)}


def _windows_working_set() -> tuple[float, float]:
    import ctypes
    from ctypes import wintypes

    class Counters(ctypes.Structure):
        _fields_ = [
            ("cb", wintypes.DWORD),
            ("PageFaultCount", wintypes.DWORD),
            ("PeakWorkingSetSize", ctypes.c_size_t),
            ("WorkingSetSize", ctypes.c_size_t),
            ("QuotaPeakPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t),
            ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
            ("PagefileUsage", ctypes.c_size_t),
            ("PeakPagefileUsage", ctypes.c_size_t),
        ]

    c = Counters()
    c.cb = ctypes.sizeof(c)
    process = ctypes.windll.kernel32.GetCurrentProcess()
    ctypes.windll.psapi.GetProcessMemoryInfo(process, ctypes.byref(c), c.cb)
    return c.WorkingSetSize / MB, c.PeakWorkingSetSize / MB


def ensure_model(home: Path, data: Path, train_images: int, steps: int) -> dict:
    """The category "soak" with an active model in ``home``: reused if present, else trained (tiny preset)."""
    from core.data.datasets import read_mvtec
    from core.paths import recipes_dir
    from core.recipes import RecipeStore
    from core.training import preset, run_fit

    store = RecipeStore(recipes_dir(home / "recipes"))
    store.root.mkdir(parents=True, exist_ok=True)
    if store.exists(CATEGORY):
        recipe = store.get(CATEGORY)
        if recipe.active_version:
            return {"trained": False, "version": recipe.active_version, "train_seconds": 0.0}
    else:
        recipe = store.create(CATEGORY)
    samples = read_mvtec(data).train[:train_images]
    t0 = time.perf_counter()
    trained = run_fit(samples, preset("tiny", steps=steps))
    version = recipe.save_version(trained, activate=True)
    return {"trained": True, "version": version, "train_seconds": round(time.perf_counter() - t0, 1)}


def pick_test_images(data: Path, n: int) -> list[Path]:
    """``n`` test images spread evenly over the test set (good and every defect type)."""
    from core.data.datasets import read_mvtec

    test = read_mvtec(data).test
    step = max(1, len(test) // max(1, n))
    return [s.path for s in test[::step][:n]]


def ms_stats(ms: np.ndarray) -> dict[str, float]:
    if ms.size == 0:
        return {"mean": float("nan"), "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {
        "mean": round(float(ms.mean()), 2),
        "p50": round(float(np.percentile(ms, 50)), 2),
        "p99": round(float(np.percentile(ms, 99)), 2),
        "max": round(float(ms.max()), 2),
    }


def integrity_check(db: Path) -> str:
    """``PRAGMA integrity_check`` on a fresh read-only connection: "ok" or the problems found."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return "; ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall())
    finally:
        conn.close()


def count_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*.png") if not p.name.startswith("."))


def failures(summary: dict, max_growth_mb: float) -> list[str]:
    """Why the run failed (empty = passed): the checks below plus any ``problems`` the run itself noted."""
    out = list(summary.get("problems", []))
    growth = summary["memory_mb"]["growth"]
    if not growth < max_growth_mb:
        out.append(f"resident memory grew {growth:.1f} MB (limit {max_growth_mb:g} MB)")
    log = summary["log"]
    if log["rows_added"] != summary["inspections"]:
        out.append(f"log rows added {log['rows_added']} != inspections {summary['inspections']}")
    if log["integrity"] != "ok":
        out.append(f"log integrity check: {log['integrity']}")
    images = summary["images"]
    if images["files_on_disk"] > images["max_files"]:
        out.append(f"image store holds {images['files_on_disk']} files, bound {images['max_files']}")
    return out


def markdown_row(summary: dict) -> str:
    m, t, log = summary["memory_mb"], summary["ms_per_inspection"], summary["log"]
    stall = summary.get("event_loop", {}).get("max_stall_ms")
    cells = [
        summary["run"],
        summary["inspections"],
        f"{summary['seconds']:.0f}",
        f"{summary['inspections_per_s']:.1f}",
        f"{t['mean']:.1f}",
        f"{t['p50']:.1f}",
        f"{t['p99']:.1f}",
        f"{m['rss_start']:.0f}",
        f"{m['rss_end']:.0f}",
        f"{m['growth']:+.1f}",
        f"{m['hwm_end']:.0f}",
        f"{log['rows_added']}",
        log["integrity"],
        f"{summary['images']['files_on_disk']}/{summary['images']['max_files']}",
        "–" if stall is None else f"{stall:.0f}",
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def environment() -> dict:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def report(summary: dict, json_out: str | None, max_growth_mb: float) -> int:
    """Print the JSON summary and the markdown row, write ``json_out``; 0 if the run passed, else 1."""
    problems = failures(summary, max_growth_mb)
    summary["ok"] = not problems
    summary["failures"] = problems
    text = json.dumps(summary, indent=2)
    print(text)
    print(MARKDOWN_HEADER)
    print(markdown_row(summary))
    if json_out:
        Path(json_out).write_text(text + "\n", encoding="utf-8")
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    return 0 if not problems else 1


def add_common_arguments(p: argparse.ArgumentParser, count: int, warmup: int) -> None:
    p.add_argument("--count", type=int, default=count, help=f"inspections in all, warm-up included ({count})")
    p.add_argument(
        "--warmup",
        type=int,
        default=warmup,
        help=f"inspections before the start measurement ({warmup}; at most half of --count)",
    )
    p.add_argument("--home", metavar="DIR", help="LLAD home to use (kept); default a temporary one, removed at the end")
    p.add_argument("--keep", action="store_true", help="keep the temporary home")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MTD in MVTec layout (../shared/datasets/mtd)")
    p.add_argument("--train-images", type=int, default=30, help="good images to train the soak category on (30)")
    p.add_argument("--steps", type=int, default=40, help="training steps of the tiny preset (40)")
    p.add_argument("--max-files", type=int, default=500, help="image store bound, files (500)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default, as the app runs)")
    p.add_argument("--max-growth-mb", type=float, default=50.0, help="fail at this resident memory growth (50)")
    p.add_argument("--json", metavar="OUT", help="also write the JSON summary here")


def prepare(args: argparse.Namespace, home: Path) -> tuple[int, int, dict]:
    """Set torch's threads and make sure the soak category is trained; returns (count, warm-up, model summary)."""
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    count = max(1, args.count)
    return count, max(1, min(args.warmup, count // 2)), ensure_model(home, args.data, args.train_images, args.steps)


def make_home(arg: str | None) -> tuple[Path, bool]:
    """(home, temporary?) and point ``LLAD_HOME`` at it so nothing lands in the user's real data folder."""
    home = Path(arg).expanduser().resolve() if arg else Path(tempfile.mkdtemp(prefix="llad-soak-"))
    home.mkdir(parents=True, exist_ok=True)
    os.environ["LLAD_HOME"] = str(home)
    return home, arg is None


def remove_home(home: Path, temporary: bool, keep: bool) -> None:
    if temporary and not keep:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"LLAD home kept: {home}", file=sys.stderr)


# ---- the core soak ----------------------------------------------------------------------------------------


class LogWriter:
    """Writes results to the log one by one or in batches (see the module docstring)."""

    def __init__(self, log, mode: str, batch: int) -> None:
        from core.log import PendingRecord

        self._pending_cls = PendingRecord
        self.log, self.mode, self.batch = log, mode, max(1, batch)
        self.pending: list = []
        self.written = 0

    def add(self, result, saved: str) -> None:
        frame = result.frame
        if self.mode == "single":
            self.log.record(result, saved_image=saved)
            self.written += 1
            return
        slim = replace(result, anomaly_map=_NO_MAP, illumination_map=None, frame=None)
        self.pending.append(
            self._pending_cls(slim, source=frame.source, image_ref=frame.ref, saved_image=saved, when=frame.timestamp)
        )
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.log.record_many(self.pending)
            self.written += len(self.pending)
            self.pending = []


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    add_common_arguments(p, count=20000, warmup=200)
    p.add_argument("--images", type=int, default=60, help="MTD test images cycled over (60)")
    p.add_argument("--from-disk", action="store_true", help="decode every image from its file each time")
    p.add_argument("--log-mode", choices=("batch", "single"), default="batch", help="record_many or record (batch)")
    p.add_argument("--batch", type=int, default=50, help="results per record_many transaction (50)")
    p.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL", help="log durability (FULL)")
    return p


def run(args: argparse.Namespace, home: Path) -> dict:

    from core.data.io import load_image
    from core.imagestore import ImageStore
    from core.log import InspectionLog
    from core.paths import images_dir, log_path, recipes_dir
    from core.predictor import Predictor
    from core.recipes import RecipeStore
    from core.types import Frame, Verdict

    count, warmup, model = prepare(args, home)
    recipe = RecipeStore(recipes_dir(home / "recipes")).get(CATEGORY)
    predictor = Predictor.from_recipe(recipe, device="cpu")
    paths = pick_test_images(args.data, args.images)
    arrays = None if args.from_disk else [load_image(p) for p in paths]
    db = log_path(home / "inspections.sqlite")
    log = InspectionLog(db, synchronous=args.synchronous)
    store = ImageStore(images_dir(home / "images"), max_files=args.max_files)
    writer = LogWriter(log, args.log_mode, args.batch)
    rows_before = log.count()

    total_ms = np.zeros(count)
    predict_ms = np.zeros(count)
    verdicts = dict.fromkeys((v.value for v in Verdict), 0)
    saved_count = 0
    rss_trace: list[tuple[int, float]] = []
    trace_every = max(1, (count - warmup) // 20)
    progress_every = max(1, count // 10)
    start_mem = memory_mb()
    t_start = t_measure = time.perf_counter()
    for i in range(count):
        if i == warmup:
            writer.flush()
            gc.collect()
            start_mem = memory_mb()
            t_measure = time.perf_counter()
        if i >= warmup and (i - warmup) % trace_every == 0:
            rss_trace.append((i, memory_mb()["rss"]))
        t0 = time.perf_counter()
        k = i % len(paths)
        image = load_image(paths[k]) if arrays is None else arrays[k]
        frame = Frame(image, source="soak", ref=str(paths[k]), index=i)
        result = predictor.predict(frame)
        t1 = time.perf_counter()
        saved = ""
        if store.wants(result.verdict):
            path = store.save(image, CATEGORY, result.verdict, when=frame.timestamp)
            saved, saved_count = str(path or ""), saved_count + 1
        writer.add(result, saved)
        t2 = time.perf_counter()
        total_ms[i], predict_ms[i] = (t2 - t0) * 1000, (t1 - t0) * 1000
        verdicts[result.verdict.value] += 1
        del result, frame, image
        if (i + 1) % progress_every == 0:
            rate = (i + 1 - warmup) / (time.perf_counter() - t_measure) if i >= warmup else 0.0
            print(f"{i + 1}/{count} inspections, {rate:.1f}/s, RSS {memory_mb()['rss']:.0f} MB", file=sys.stderr)
    writer.flush()
    t_end = time.perf_counter()
    end_mem = memory_mb()
    rss_trace.append((count, end_mem["rss"]))
    rows_after = log.count()
    log.close()
    measured = count - warmup
    seconds = t_end - t_measure
    return {
        "run": "core" + (" from disk" if args.from_disk else "") + f", log {args.log_mode} {args.synchronous}",
        "inspections": count,
        "warmup": warmup,
        "seconds": round(t_end - t_start, 1),
        "measured_seconds": round(seconds, 1),
        "inspections_per_s": round(measured / seconds, 2) if seconds > 0 else float("nan"),
        "ms_per_inspection": ms_stats(total_ms[warmup:]),
        "ms_predict": ms_stats(predict_ms[warmup:]),
        "ms_keep_and_log": ms_stats(total_ms[warmup:] - predict_ms[warmup:]),
        "memory_mb": {
            "rss_start": start_mem["rss"],
            "rss_end": end_mem["rss"],
            "growth": round(end_mem["rss"] - start_mem["rss"], 1),
            "hwm_start": start_mem["hwm"],
            "hwm_end": end_mem["hwm"],
            "rss_trace": rss_trace,
        },
        "log": {
            "path": str(db),
            "mode": args.log_mode,
            "batch": args.batch if args.log_mode == "batch" else 1,
            "synchronous": args.synchronous,
            "rows_before": rows_before,
            "rows_after": rows_after,
            "rows_added": rows_after - rows_before,
            "integrity": integrity_check(db),
            "size_mb": round(db.stat().st_size / MB, 2),
        },
        "images": {
            "saved": saved_count,
            "files_in_store": store.file_count,
            "files_on_disk": count_files(store.root),
            "max_files": args.max_files,
            "mb_on_disk": round(store.total_bytes / MB, 1),
        },
        "verdicts": verdicts,
        "test_images": len(paths),
        "from_disk": args.from_disk,
        "model": model,
        "environment": environment(),
    }


def soak_main(parser: argparse.ArgumentParser, run_soak, argv: list[str] | None) -> int:
    """Parse ``argv``, run ``run_soak(args, home)`` in a scratch LLAD home (removed after), report; the exit code."""
    args = parser.parse_args(argv)
    home, temporary = make_home(args.home)
    try:
        summary = run_soak(args, home)
    finally:
        remove_home(home, temporary, args.keep)
    return report(summary, args.json, args.max_growth_mb)


def main(argv: list[str] | None = None) -> int:
    return soak_main(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
