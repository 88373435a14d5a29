"""Screenshots of the Train, Evaluate and Log pages for docs/training-guide.md, taken offscreen in the real
main window at 1024 x 768 (the smallest panel the window is laid out for).

    python packaging/screenshots_pages.py [--out docs/screenshots] [--fast-model]

Builds a temporary LLAD home: a category "tiles" with 14 MTD good images and a first version trained with
core's "tiny" preset, then drives the pages themselves: trains a second version with the Fast preset through the
Train page (shot mid-run and at the end, with its threshold assistant), draws an inspection mask, tops the
version up with 6 new good images, evaluates an MTD subset (6 good, 6 defective) and logs a few inspections. With
``--fast-model`` the Evaluate and Log pages use a Fast-preset model of 100 images (several minutes to train)
instead of the tiny one. Settings and data go to temporary folders; the MTD dataset is read in place.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MTD = REPO.parent / "shared" / "datasets" / "mtd"
SIZE = (1024, 768)
DIALOG = (900, 640)  # the dialogs at the size they open with on such a panel


def wait(app, condition, timeout: float = 300.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the page did not get there in time")
        app.processEvents()
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()


def shoot(app, widget, path: Path) -> None:
    for _ in range(5):
        app.processEvents()
    widget.grab().save(str(path))
    print("wrote", path)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    ap.add_argument("--fast-model", action="store_true", help="evaluate a Fast-preset model of 100 images")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="llad-shots-"))
    os.environ["HOME"] = str(tmp)

    from PySide6.QtCore import QCoreApplication, QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    QCoreApplication.setOrganizationName("LLAD")

    from core.data.io import list_images, load_image
    from core.predictor import Predictor
    from core.recipes import RecipeStore
    from core.training import preset, run_fit
    from llad_gui.app import build_window, make_application

    app = make_application()
    home = tmp / "home"
    store = RecipeStore(home / "recipes")
    store.root.mkdir(parents=True)
    store.create("bracket-A")
    recipe = store.create("tiles")
    goods = list_images(MTD / "train" / "good")
    recipe.import_samples(goods[:14])
    print("training v001 (tiny)…")
    recipe.save_version(run_fit(recipe.samples(), preset("tiny", steps=15), calibration_defects=6), activate=True)

    state, window = build_window(home, category="tiles")
    window.resize(*SIZE)
    window.show()
    wait(app, lambda: state.predictor is not None)

    # ---- Train page: a repeated frame flagged, training v002 live, then the summary ----------------------
    page = window.pages["Train"]
    window.show_page("Train")
    wait(app, lambda: page.gallery.counts()[1] == 14)
    page.add_good_sample(load_image(goods[2]))  # the same view again, as a still camera would give it
    wait(app, lambda: len(page.gallery.duplicates()) == 1)
    # the preset the page shows is the one it trains with (the versions table then names it too)
    page.preset_combo.setCurrentIndex(page.preset_combo.findData("fast"))
    page.fit_options = {"calibration_defects": 6}
    page.train_button.click()
    wait(app, lambda: len(page.loss_plot.losses) >= 35)
    shoot(app, window, out / "train_running.png")
    wait(app, lambda: not page.is_training(), timeout=1800.0)  # the Fast preset: minutes on a busy 2-core PC
    shoot(app, window, out / "train_finished.png")
    page.assistant_dialog.resize(*DIALOG)
    page.assistant_dialog.show()
    shoot(app, page.assistant_dialog, out / "threshold_assistant.png")
    page.assistant_dialog.close()
    page.activate_new()
    wait(app, lambda: state.predictor is not None and state.predictor.version == page.last_version)

    # ---- the inspection mask editor, then a top-up with 6 new good samples -----------------------------
    from core.roi import RoiShape

    dialog = page.open_mask_editor()
    dialog.resize(*DIALOG)
    dialog.canvas.add_shape(RoiShape("rect", ((0.04, 0.04), (0.96, 0.96))))
    dialog.canvas.add_shape(RoiShape("polygon", ((0.62, 0.08), (0.9, 0.08), (0.9, 0.3)), include=False))
    shoot(app, dialog, out / "mask_editor.png")
    dialog.reject()
    before = page.gallery.counts()[1]
    recipe.import_samples(goods[14:20])
    page.gallery.reload()
    wait(app, lambda: page.gallery.counts()[1] == before + 6)
    page.topup_button.click()
    wait(app, lambda: not page.is_training(), timeout=1800.0)
    shoot(app, window, out / "train_topup.png")
    page.activate_new()
    wait(app, lambda: state.predictor is not None and state.predictor.version == page.last_version)
    if args.fast_model:  # a model as an operator would run it: the fast preset on 100 good tiles
        recipe.import_samples(goods[14:100])
        print("training v003 (fast preset, 100 images)…")
        fast = recipe.save_version(run_fit(recipe.samples(), preset("fast")))
        page.activate_version(fast)
        wait(app, lambda: state.predictor is not None and state.predictor.version == fast)

    # ---- Evaluate page -------------------------------------------------------------------------------
    subset = tmp / "mtd-subset"
    for kind, n in {"good": 6, "blowhole": 2, "crack": 2, "uneven": 2}.items():
        (subset / "test" / kind).mkdir(parents=True)
        for p in list_images(MTD / "test" / kind)[:n]:
            shutil.copy2(p, subset / "test" / kind / p.name)
            if kind != "good":
                (subset / "ground_truth" / kind).mkdir(parents=True, exist_ok=True)
                shutil.copy2(MTD / "ground_truth" / kind / f"{p.stem}_mask.png", subset / "ground_truth" / kind)
    ev = window.pages["Evaluate"]
    window.show_page("Evaluate")
    shoot(app, window, out / "evaluate_empty.png")
    ev.run(subset)
    wait(app, lambda: ev.evaluation is not None)
    shoot(app, ev, out / "evaluate_assistant.png")  # the threshold assistant's tab, with the test set drawn
    ev.threshold_tabs.setCurrentIndex(1)
    ev.frr_spin.setValue(0.0)
    ev.suggest()
    shoot(app, window, out / "evaluate_results.png")
    dialog = ev.open_row(0)
    wait(app, lambda: dialog.image.pixmap() is not None and not dialog.image.pixmap().isNull())
    shoot(app, dialog, out / "evaluate_overlay.png")
    dialog.close()

    # ---- Log page: a few real inspections, one overridden ----------------------------------------------
    predictor = Predictor.from_recipe(state.recipe())
    now = time.time()
    paths = list_images(subset / "test" / "good") + list_images(subset / "test" / "crack")
    for i, p in enumerate(paths):
        r = predictor.predict(str(p))
        state.log.record(r, source="folder", image_ref=p, when=now - (len(paths) - i) * 37)
    log = window.pages["Log"]
    window.show_page("Log")
    log.reload()
    wait(app, lambda: log.model.rowCount() >= len(paths))
    overridden = log.model.rows[2]
    said_ng = overridden.verdict.value == "NG"
    log.mark_wrong(overridden.id, "good part: the stripe is normal grain" if said_ng else "scratch on the rim, missed")
    log.table.selectRow(2)
    shoot(app, window, out / "log_page.png")

    window.close()
    state.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
