"""The benchmark scripts import against today's core: they are not run by the suite, so a renamed function in core
would otherwise break them silently (benchmarks/choose_guard.py did when calibration moved to core.postprocess)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO_ROOT

SCRIPTS = sorted((REPO_ROOT / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_benchmark_script_imports(script: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(script.parent))  # as `python benchmarks/X.py` puts its folder first
    spec = importlib.util.spec_from_file_location(f"bench_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # top-level imports and definitions only: each runs under `if __name__ == ...`
    assert callable(getattr(module, "main", None)), f"{script.name} has no main()"


def _script(name: str, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    return importlib.import_module(f"benchmarks.{name}")


def test_config_overrides_read_numbers_and_refuse_unknown_fields(monkeypatch) -> None:
    lighting = _script("validate_lighting", monkeypatch)
    assert lighting.config_overrides(["holdout_fraction=0.2", "steps=30", "preset=fast"]) == {
        "holdout_fraction": 0.2,
        "steps": 30,
        "preset": "fast",
    }
    with pytest.raises(SystemExit, match="no_such_field"):
        lighting.config_overrides(["no_such_field=1"])
    with pytest.raises(SystemExit, match="FIELD=VALUE"):
        lighting.config_overrides(["steps"])


def test_monotone_level_never_falls(monkeypatch) -> None:
    level = _script("choose_level", monkeypatch)
    rng = np.random.default_rng(0)
    x = rng.uniform(-4, -1, 60)
    y = 0.5 * (x + 2.5) ** 2 + rng.normal(0, 0.1, 60)  # falls, then rises: a U
    knots, values = level.monotone_level(x, y)
    assert np.all(np.diff(knots) > 0) and np.all(np.diff(values) >= 0)
    assert values[-1] == pytest.approx(np.median(y[x > np.quantile(x, 0.8)]), abs=0.3)


def test_wide_cameras_draw_each_effect_on_half_within_range_and_beyond_goes_past(monkeypatch) -> None:
    family = _script("camera_family", monkeypatch)
    import core.postprocess.views as views
    import core.train_loop as train_loop
    from core.data.sensor import held_out_axes, sample_params

    rng = np.random.default_rng(0)
    wide = [family.wide_params(rng) for _ in range(2000)]
    plain = {"gamma": 2.2, "jpeg_quality": None, "defocus": 0.0, "fixed_pattern": 0.0}
    for name, value in plain.items():
        on = [getattr(p, name) for p in wide if getattr(p, name) != value]
        assert 0.3 < len(on) / len(wide) < 0.6, name  # about half (gamma: a fifth of those round to 2.2)
        lo, hi = family.WIDE[name]
        assert lo <= min(on) and max(on) <= hi, name
    assert {p.shape for p in wide} == {"gradient", "spot", "radial"}
    beyond = [family.wide_params(rng, "beyond") for _ in range(200)]
    assert all(set(held_out_axes(p)) == {"shape", "gamma", "jpeg_quality", "defocus", "fixed_pattern"} for p in beyond)
    w = family.WIDE
    assert all(p.jpeg_quality < w["jpeg_quality"][0] and p.defocus > w["defocus"][1] for p in beyond)
    with family.training_cameras(family.wide_params):
        assert train_loop.sample_params is views.sample_params is family.wide_params
    assert train_loop.sample_params is views.sample_params is sample_params
