"""Soak run through the GUI: the real main window, offscreen, inspecting a folder over and over.

Uses the same "soak" category as ``soak.py`` (trained once, or reused from ``--home``), copies ~50 MTD test
images into the LLAD home, starts the main window the way ``llad-gui`` does (``build_window``) with QSettings
redirected into the home, opens the folder as a source and presses "Inspect all" again each time the folder
has been played to the end, until ``--count`` results have reached the Inspect page. The Qt event loop runs the
whole time (a ``QEventLoop``, never a sleep); a 10 ms ``QTimer`` measures how long the loop goes unserved.

The image store is replaced by one bounded to ``--max-files`` (the app's own store is unbounded), so disk use
stays bounded over a long run. When the count is reached the source is stopped and the run waits until no
result has arrived for a few seconds, so every result in flight is counted before the rows are.

Measured: results a second and the gap between results (mean, p50, p99), model milliseconds, resident memory
after the warm-up and at the end, the growth, log rows added == results shown (also after the window closed),
``PRAGMA integrity_check``, images kept against the bound, and the longest event-loop stall. JSON summary and a
markdown row; exits 1 on the same conditions as ``soak.py``, on a stall over ``--max-stall-ms`` (off by
default) and on a timeout.

    .venv/bin/python benchmarks/soak_gui.py --count 2000 --json soak_gui.json
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

import argparse
import gc
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEventLoop, QObject, QSettings, Qt, QTimer
from soak import (
    CATEGORY,
    add_common_arguments,
    count_files,
    environment,
    integrity_check,
    memory_mb,
    ms_stats,
    pick_test_images,
    prepare,
    soak_main,
)

TICK_MS = 10


class StallMonitor(QObject):
    """A 10 ms timer on the GUI thread; the gaps between its ticks say how long the event loop was busy."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self, interval=TICK_MS, timerType=Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self.long: list[tuple[float, int]] = []  # (gap ms, results so far) of gaps over 100 ms
        self.results = 0
        self._last = 0.0

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def reset(self) -> None:
        """Start measuring afresh from now (the warm-up's own gc.collect() is not a stall of the app)."""
        self.gaps.clear()
        self.long.clear()
        self._last = time.perf_counter()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self._last) * 1000
        self.gaps.append(gap)
        if gap > 100:
            self.long.append((round(gap, 1), self.results))
        self._last = now

    def summary(self) -> dict:
        gaps = np.asarray(self.gaps)
        if gaps.size == 0:
            return {"tick_ms": TICK_MS, "ticks": 0, "max_stall_ms": None}
        return {
            "tick_ms": TICK_MS,
            "ticks": int(gaps.size),
            "max_stall_ms": round(float(gaps.max()), 1),
            "p99_gap_ms": round(float(np.percentile(gaps, 99)), 1),
            "gaps_over_100ms": int((gaps > 100).sum()),
            "gaps_over_500ms": int((gaps > 500).sum()),
            "longest": sorted(self.long, reverse=True)[:5],  # (gap ms, results so far)
        }


class GuiDriver(QObject):
    """Presses "Inspect all" whenever the folder has played to its end, counts results, marks the warm-up."""

    def __init__(self, window, count: int, warmup: int, monitor: StallMonitor) -> None:
        super().__init__(window)
        self.page = window.inspect
        self.count, self.warmup, self.monitor = count, warmup, monitor
        self.results = 0
        self.arrivals: list[float] = []
        self.model_ms: list[float] = []
        self.verdicts: dict[str, int] = {}
        self.rounds = 0
        self.rss_trace: list[tuple[int, float]] = []
        self._trace_every = max(1, (count - warmup) // 20)
        self.problems: list[str] = []
        self.start_mem = memory_mb()
        self.t_measure = time.perf_counter()
        self.stopping = False
        self._round_playing = False
        self.page.run.resultReady.connect(self._result)
        self.page.run.playing.connect(self._playing)

    def inspect_all(self) -> None:
        button = self.page.source_bar.all
        if not button.isEnabled():
            self.problems.append("the Inspect all button was disabled")
            self.stopping = True
            return
        self.rounds += 1
        button.click()

    def _playing(self, playing: bool) -> None:
        if playing:
            self._round_playing = True
        elif self._round_playing:  # the folder played to its end
            self._round_playing = False
            if not self.stopping:
                QTimer.singleShot(0, self.inspect_all)

    def _result(self, result) -> None:
        self.results += 1
        self.monitor.results = self.results
        self.arrivals.append(time.perf_counter())
        self.model_ms.append(result.total_ms)
        self.verdicts[result.verdict.value] = self.verdicts.get(result.verdict.value, 0) + 1
        if self.results == self.warmup:
            gc.collect()
            self.start_mem = memory_mb()
            self.t_measure = time.perf_counter()
            self.monitor.reset()
        if self.results >= self.warmup and (self.results - self.warmup) % self._trace_every == 0:
            self.rss_trace.append((self.results, memory_mb()["rss"]))
        if self.results >= self.count and not self.stopping:
            self.stopping = True
            self.page.set_playing(False)


def run_until(predicate, timeout_s: float, poll_ms: int = 50) -> bool:
    """Run the Qt event loop until ``predicate()`` is true or ``timeout_s`` passes; returns the predicate."""
    if predicate():
        return True
    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    poll = QTimer(interval=poll_ms)
    poll.timeout.connect(lambda: (predicate() or time.monotonic() > deadline) and loop.quit())
    poll.start()
    loop.exec()
    poll.stop()
    return bool(predicate())


def redirect_settings(folder: Path) -> None:
    """QSettings go to an INI file in the LLAD home, never the user's real settings (as the GUI tests do)."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))


def copy_parts(data: Path, folder: Path, n: int) -> int:
    """Copy ``n`` MTD test images (good and each defect type) into ``folder``, names prefixed to mix the order."""
    shutil.rmtree(folder, ignore_errors=True)  # a reused home may hold another run's selection
    folder.mkdir(parents=True)
    paths = pick_test_images(data, n)
    for i, p in enumerate(paths):
        shutil.copy(p, folder / f"{i:03d}_{p.parent.name}_{p.name}")
    return len(paths)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    add_common_arguments(p, count=2000, warmup=200)
    p.add_argument("--images", type=int, default=50, help="MTD test images in the folder source (50)")
    p.add_argument("--timeout", type=float, default=4 * 3600, help="give up after this many seconds (4 h)")
    p.add_argument("--settle", type=float, default=3.0, help="quiet seconds that end the run (3)")
    p.add_argument("--max-stall-ms", type=float, default=0.0, help="fail on a longer event-loop stall (0 = off)")
    return p


def run(args: argparse.Namespace, home: Path) -> dict:

    from core.imagestore import ImageStore
    from core.log import InspectionLog
    from core.paths import images_dir, log_path
    from llad_gui.app import build_window, make_application
    from llad_gui.workers.acquisition import SourceSpec

    count, warmup, model = prepare(args, home)
    parts = home / "parts"
    n_images = copy_parts(args.data, parts, args.images)
    db = log_path(home / "inspections.sqlite")
    with InspectionLog(db) as log:
        rows_before = log.count()

    redirect_settings(home / "settings")
    t_start = time.perf_counter()
    app = make_application(["soak_gui"])
    state, window = build_window(home, CATEGORY)
    window.show()
    problems: list[str] = []
    if not run_until(lambda: state.predictor is not None, 300):
        problems.append("the model did not load within 300 s")
    state.image_store = ImageStore(images_dir(home / "images"), max_files=args.max_files)
    monitor = StallMonitor(window)
    monitor.start()
    driver = GuiDriver(window, count, warmup, monitor)
    page = window.inspect
    page.open_source(SourceSpec("folder", str(parts)))  # shows the first image at once: one result
    driver.inspect_all()
    finished = run_until(lambda: driver.stopping, args.timeout)
    if not finished:
        problems.append(f"timed out after {args.timeout:g} s with {driver.results} results")
    page.stop_source()

    def quiet() -> bool:
        last = driver.arrivals[-1] if driver.arrivals else 0.0
        return time.perf_counter() - last >= args.settle

    run_until(quiet, args.settle + 600)
    t_end = driver.arrivals[-1] if driver.arrivals else time.perf_counter()
    end_mem = memory_mb()
    rows_shown = state.log.count() - rows_before
    results = driver.results
    stall = monitor.summary()
    monitor.timer.stop()
    store = state.image_store
    window.close()  # stops the workers; anything they still logged is counted below
    state.close()
    app.processEvents()

    with InspectionLog(db) as log:
        rows_after = log.count()
    arrivals = np.asarray(driver.arrivals)
    gaps = np.diff(arrivals[warmup - 1 :]) * 1000 if arrivals.size > warmup else np.zeros(0)
    measured = max(0, results - warmup)
    seconds = t_end - driver.t_measure
    problems += driver.problems
    if rows_shown != results:
        problems.append(f"log rows when the run went quiet {rows_shown} != results shown {results}")
    if args.max_stall_ms and (stall["max_stall_ms"] or 0) > args.max_stall_ms:
        problems.append(f"event loop stalled {stall['max_stall_ms']} ms (limit {args.max_stall_ms:g} ms)")
    return {
        "run": "GUI offscreen, folder, Inspect all",
        "inspections": results,
        "requested": count,
        "warmup": warmup,
        "rounds": driver.rounds,
        "seconds": round(t_end - t_start, 1),
        "measured_seconds": round(seconds, 1),
        "inspections_per_s": round(measured / seconds, 2) if seconds > 0 and measured else float("nan"),
        "ms_per_inspection": ms_stats(gaps),
        "ms_model": ms_stats(np.asarray(driver.model_ms[warmup:])),
        "memory_mb": {
            "rss_start": driver.start_mem["rss"],
            "rss_end": end_mem["rss"],
            "growth": round(end_mem["rss"] - driver.start_mem["rss"], 1),
            "hwm_start": driver.start_mem["hwm"],
            "hwm_end": end_mem["hwm"],
            "rss_trace": [*driver.rss_trace, (results, end_mem["rss"])],
        },
        "log": {
            "path": str(db),
            "writer": "the app's inference worker (record per result, the log's default durability)",
            "rows_before": rows_before,
            "rows_when_quiet": rows_before + rows_shown,
            "rows_after": rows_after,
            "rows_added": rows_after - rows_before,
            "integrity": integrity_check(db),
            "size_mb": round(db.stat().st_size / (1024 * 1024), 2),
        },
        "images": {
            "files_in_store": store.file_count,
            "files_on_disk": count_files(store.root),
            "max_files": args.max_files,
        },
        "event_loop": stall,
        "verdicts": driver.verdicts,
        "test_images": n_images,
        "model": model,
        "environment": environment(),
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    return soak_main(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
