"""Screenshots for the operator guide, taken from the real main window offscreen.

    python packaging/screenshots.py [--home TRAINED_HOME] [--out docs/screenshots]

Without ``--home`` it trains a small category "tiles" (core's "tiny" preset) on a few MTD good images into a
temporary LLAD home. It then opens an MTD test folder, inspects it, shows the defective image that scores
highest, and saves at 1024 x 768 (the smallest panel the window is laid out for): the first-start guide, the
inspect page with the overlay on that part, the illumination view, the history/histogram strip, and the same
part darkened as on a dim line (heatmap over the brightened image). Settings go to a temporary folder; nothing
of the user's is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402

SIZE = (1024, 768)
DEFECT_TYPES = ("blowhole", "break", "crack", "fray", "uneven")


def wait(app, condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()


def train(home: Path, mtd: Path, images: int = 30, steps: int = 40) -> None:
    from core.data.io import list_images
    from core.recipes import RecipeStore
    from core.training import preset, run_fit

    store = RecipeStore(home / "recipes")
    store.root.mkdir(parents=True, exist_ok=True)
    recipe = store.create("tiles")
    recipe.import_samples(list_images(mtd / "train" / "good")[:images])
    print(f"training 'tiles' on {images} good images ({steps} steps)...", flush=True)
    recipe.save_version(run_fit(recipe.samples(), preset("tiny", steps=steps), calibration_defects=12), activate=True)


def most_defective(predictor, mtd: Path, per_type: int = 12) -> tuple[str, int]:
    """(defect folder, index) of the highest-scoring defective image among the first few of each type."""
    from core.data.io import list_images

    best = (float("-inf"), "", 0)
    for kind in DEFECT_TYPES:
        paths = list_images(mtd / "test" / kind)[:per_type]
        for i, r in enumerate(predictor.predict_batch([str(p) for p in paths])):
            best = max(best, (r.score, kind, i))
    print(f"most defective: {best[1]} #{best[2]} (score {best[0]:.2f})", flush=True)
    return best[1], best[2]


def dark_shot(app, window, image_path: Path, tmp: Path, out: Path) -> None:
    """The part taken as on a dim line (synthetic low light) and inspected as low-light."""
    import cv2

    from core.data.io import load_image
    from core.data.lowlight import synthesize_lowlight
    from core.types import InputMode
    from llad_gui.workers.acquisition import SourceSpec

    dark, _ = synthesize_lowlight(load_image(image_path), seed=3)
    path = tmp / f"dark_{image_path.stem}.png"
    cv2.imwrite(str(path), dark[:, :, ::-1])
    page = window.inspect
    page.set_lighting(InputMode.LOWLIGHT)
    n = len(page.history)
    page.open_source(SourceSpec("files", str(path), files=[str(path)]))
    wait(app, lambda: len(page.history) > n)
    page.view.reset_zoom()
    grab(app, window, out)
    page.set_lighting(None)


def grab(app, widget, path: Path) -> None:
    for _ in range(10):
        app.processEvents()
    widget.grab().save(str(path))
    print(f"saved {path}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="an LLAD home with a trained 'tiles' category (else train one)")
    parser.add_argument("--mtd", type=Path, default=REPO.parent / "shared" / "datasets" / "mtd")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    if not (args.mtd / "test").is_dir():
        print(f"MTD dataset not found at {args.mtd}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="llad-shots-"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    from llad_gui.app import build_window, make_application
    from llad_gui.workers.acquisition import SourceSpec

    app = make_application()
    QCoreApplication.setApplicationName("LLAD Inspector screenshots")

    state, window = build_window(tmp / "empty")
    window.resize(*SIZE)
    window.show()
    grab(app, window, args.out / "first-start.png")
    window.close()
    state.close()

    home = args.home
    if home is None:
        home = tmp / "home"
        train(home, args.mtd)
    state, window = build_window(home, category="tiles")
    window.resize(*SIZE)
    window.show()
    wait(app, lambda: state.predictor is not None)
    kind, index = most_defective(state.predictor, args.mtd)
    page = window.inspect
    page.view_controls.set_view_mode("overlay")
    page.open_source(SourceSpec("folder", str(args.mtd / "test" / kind)))
    wait(app, lambda: len(page.history) >= 1)
    page.source_bar.rate.setValue(0)
    page.run.play(0.0)
    from core.data.io import list_images

    images = list_images(args.mtd / "test" / kind)
    wait(app, lambda: len(page.history) >= min(40, len(images)))  # MTD's fray folder holds 32
    page.run.pause()
    wait(app, lambda: not page.run.is_playing)
    target = str(images[index])
    page.run.acquisition.seek(index)
    wait(app, lambda: page.current is not None and page.current.frame.ref == target)
    page.view.reset_zoom()
    grab(app, window, args.out / "inspect-overlay.png")
    page.view_controls.set_view_mode("illumination")
    grab(app, window, args.out / "illumination.png")
    page.view_controls.set_view_mode("overlay")
    left = page.splitters["inspect/left"]
    sizes = left.sizes()
    left.setSizes([sum(sizes) - 300, 300])  # the strip under the image taller, for a readable picture of it
    grab(app, page.histogram.parentWidget(), args.out / "thresholds-histogram.png")
    left.setSizes(sizes)
    dark_shot(app, window, images[index], tmp, args.out / "inspect-dark.png")
    window.close()
    state.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
