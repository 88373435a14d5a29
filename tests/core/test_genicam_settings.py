"""Camera settings as data and in the recipe, back-ends that are missing, and the self-test's camera report."""

from __future__ import annotations

import json
import sys

import pytest

from core.errors import RecipeError
from core.recipes import RecipeStore
from core.selftest import camera_report
from core.sources import CameraSettings, SourceError, TriggerMode, camera_backends, camera_source, list_cameras
from core.sources.gentl_camera import NO_PRODUCER, NOT_INSTALLED, GenTLCameraSource
from core.sources.pylon_camera import PylonCameraSource


def test_settings_round_trip_and_reject_nonsense():
    s = CameraSettings("genicam", "21004711", "/opt/vendor/producer.cti", 1200.0, 6.0, "BayerRG8", 25.0,
                       TriggerMode.HARDWARE, "Line3", "FallingEdge", {"BalanceWhiteAuto": "Off"})  # fmt: skip
    d = json.loads(json.dumps(s.to_dict()))
    assert d["trigger"] == "hardware" and CameraSettings.from_dict(d) == s
    assert s.describe() == "GenICam camera (serial 21004711, hardware trigger Line3 FallingEdge)"
    assert CameraSettings.from_dict({}) == CameraSettings()  # everything left to the camera
    assert CameraSettings.from_dict({**d, "added_by_a_newer_llad": 1}) == s
    for bad in ({"backend": "sony"}, {"trigger": "sometimes"}, {"exposure_us": -5}, {"frame_rate": 0},
                {"trigger_edge": "Sideways"}, {"exposure_us": "long"}, {"features": ["a"]}):  # fmt: skip
        with pytest.raises(ValueError):
            CameraSettings.from_dict(bad)


def test_recipe_keeps_camera_settings_beside_everything_else(tmp_path):
    store = RecipeStore(tmp_path / "recipes")
    recipe = store.create("bottle")
    assert recipe.camera_settings() is None
    before = recipe.meta()
    s = CameraSettings(serial="0815-0001", exposure_us=800.0, trigger=TriggerMode.SOFTWARE)
    recipe.set_camera_settings(s)
    reopened = RecipeStore(tmp_path / "recipes").get("bottle")
    assert reopened.camera_settings() == s
    meta = json.loads(reopened.meta_path.read_text())
    assert meta["schema_version"] == before["schema_version"] and meta["thresholds"] == before["thresholds"]
    assert meta["camera"]["exposure_us"] == 800.0 and meta["camera"]["trigger"] == "software"
    store.duplicate("bottle", "bottle copy")  # a copied category brings its camera along
    assert store.get("bottle copy").camera_settings() == s
    reopened.set_camera_settings(None)
    assert reopened.camera_settings() is None
    meta["camera"] = {"trigger": "sometimes"}
    reopened.meta_path.write_text(json.dumps(meta))
    with pytest.raises(RecipeError, match="damaged camera settings"):
        reopened.camera_settings()


def test_missing_libraries_are_explained_not_raised(monkeypatch):
    for name in ("pypylon", "harvesters", "harvesters.core"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    status = camera_backends()
    assert not status["basler"].available and status["basler"].reason.startswith("Basler pylon not installed")
    assert status["genicam"].reason == NOT_INSTALLED
    assert status["basler"].label == f"Basler camera: {status['basler'].reason}"
    assert list_cameras("basler") == [] and list_cameras("genicam", "/x.cti") == []
    for source in (camera_source(CameraSettings()), camera_source(CameraSettings("genicam"))):
        with pytest.raises(SourceError, match="not installed"):
            source.open()
    report = camera_report()
    assert report["basler"]["loaded"] is False and report["genicam"]["loaded"] is False


def test_selftest_reports_which_camera_backends_loaded(monkeypatch, tmp_path):
    pytest.importorskip("pypylon")
    pytest.importorskip("harvesters.core")
    monkeypatch.setenv("GENICAM_GENTL64_PATH", str(tmp_path))
    report = camera_report()
    assert report["basler"]["loaded"] is True and report["basler"]["reason"] == ""
    assert report["basler"]["version"].split(".")[0].isdigit()
    assert report["genicam"]["loaded"] is True and report["genicam"]["reason"] == NO_PRODUCER


def test_cli_lists_backends_and_cameras(capsys):
    pytest.importorskip("harvesters.core")
    from core.cli import main
    from core.sources.gentl_camera import simulated_producer

    assert main(["cameras", "--producer", str(simulated_producer())]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["serial"] for c in out["genicam"]["cameras"]] == ["0", "1", "2"]
    assert out["genicam"]["cameras"][0]["model"] == "Viky"
    assert set(out["basler"]) == {"available", "reason", "version", "cameras"}


def test_sources_are_built_for_their_backend():
    assert isinstance(camera_source(CameraSettings()), PylonCameraSource)
    assert isinstance(camera_source(CameraSettings("genicam")), GenTLCameraSource)
    with pytest.raises(ValueError):
        PylonCameraSource(CameraSettings("genicam"))
    with pytest.raises(ValueError):
        list_cameras("sony")


def test_a_source_refuses_the_other_back_ends_settings():
    with pytest.raises(ValueError, match="basler camera source needs basler settings"):
        PylonCameraSource(CameraSettings(backend="genicam"))
    with pytest.raises(ValueError, match="genicam camera source needs genicam settings"):
        GenTLCameraSource(CameraSettings(backend="basler"))
