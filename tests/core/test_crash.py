"""Crash safety: SIGKILL in the middle of saving a model version, of training, and of rewriting recipe.json.

Each test runs the work in a child process, kills it at the worst moment, and checks what a restart finds:
the last complete model active and loadable, no half-written version listed, every JSON file whole.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from core.recipes import RecipeStore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")

PRELUDE = textwrap.dedent(
    """
    import sys, time
    from core.calibration import ModeCalibration
    from core.postprocess import PostProcessor
    from core.model.net import LowLightAnomalyNet
    from core.recipes import RecipeStore
    from core.training import TrainConfig, TrainedModel

    def untrained():
        post = PostProcessor({"lowlight": ModeCalibration(1.0, 2.0, 0.1, 0.5)})
        return TrainedModel(LowLightAnomalyNet(), post, TrainConfig(), 0.1, {"train_images": 1})

    store = RecipeStore(sys.argv[1])
    """
)


def _child(script: str, root, wait_for: str, extra_lines: int = 0) -> list[str]:
    """Start the child, read its stdout until ``wait_for`` (+ ``extra_lines``), SIGKILL it, return its lines."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script), str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        while True:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"child ended early: {proc.stderr.read()[-2000:]}")
            lines.append(line.strip())
            if line.strip() == wait_for:
                for _ in range(extra_lines):
                    lines.append(proc.stdout.readline().strip())
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return lines


def test_kill_while_saving_a_version_keeps_the_previous_one_active(tmp_path):
    script = """
    r = store.create("tiles")
    r.save_version(untrained(), activate=True)
    import core.checkpoint as ck
    real = ck.write_version
    def slow(folder, trained):
        real(folder, trained)
        print("half-written", flush=True)
        time.sleep(60)
    ck.write_version = slow
    r.save_version(untrained(), activate=True)
    """
    _child(script, tmp_path, "half-written")
    recipe = RecipeStore(tmp_path).get("tiles")
    assert recipe.versions() == ["v001"]
    assert recipe.active_version == "v001"
    assert recipe.load() is not None
    assert recipe.cleanup_incomplete() == 1
    assert [p.name for p in recipe.versions_dir.iterdir()] == ["v001"]


def test_kill_during_training_leaves_the_active_model_untouched(tmp_path):
    script = """
    import numpy as np
    from core.data.synthetic_parts import generated_part
    from core.training import fit, preset
    r = store.create("tiles")
    r.save_version(untrained(), activate=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        r.add_sample(generated_part(rng, 96), stem=f"g{i}")
    for event in fit(r.samples(), preset("tiny", steps=500, image_size=64)):
        if event.stage == "train":
            print(f"step {event.step}", flush=True)
    """
    _child(script, tmp_path, "step 3")
    recipe = RecipeStore(tmp_path).get("tiles")
    assert recipe.versions() == ["v001"] and recipe.active_version == "v001"
    assert recipe.load() is not None
    assert len(recipe.samples()) == 12


def test_kill_while_rewriting_recipe_json_leaves_a_whole_file(tmp_path):
    script = """
    from core.types import Thresholds
    r = store.create("tiles")
    for i in range(1, 100000):
        r.set_thresholds(Thresholds(image=float(i)))
        print(i, flush=True)
    """
    lines = _child(script, tmp_path, "200", extra_lines=0)
    meta = json.loads((tmp_path / "tiles" / "recipe.json").read_text())
    last_confirmed = int(lines[-1])
    assert meta["thresholds"]["image"] >= last_confirmed
    assert RecipeStore(tmp_path).get("tiles").thresholds().image == meta["thresholds"]["image"]
