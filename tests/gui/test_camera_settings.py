"""Choosing an industrial camera in the source bar, editing its settings, and finding them in the category's
recipe again; then the chosen camera run by the real acquisition worker, one picture per trigger.

Uses pylon's camera emulation (``PYLON_CAMEMU``), so no hardware is needed.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

os.environ.setdefault("PYLON_CAMEMU", "2")  # read when pylon first loads its transport layers
pytest.importorskip("pypylon", reason="Basler pylon (pypylon) is not installed")

from core.recipes import RecipeStore  # noqa: E402
from core.selftest import generated_part  # noqa: E402
from core.sources import CameraSettings, Frame, TriggerMode  # noqa: E402
from core.sources.pylon_camera import PylonCameraSource  # noqa: E402
from llad_gui.widgets.source_bar import SourceBar  # noqa: E402
from llad_gui.workers.acquisition import AcquisitionWorker  # noqa: E402
from llad_gui.workers.inference import Mailbox  # noqa: E402


def bar_for(qtbot, recipe) -> SourceBar:
    """A source bar on ``recipe`` with the Basler cameras listed (the scan runs on its own thread)."""
    bar = SourceBar()
    qtbot.addWidget(bar)
    bar.recipe_provider = lambda: recipe
    with qtbot.waitSignal(bar.camerasListed, timeout=30_000):
        bar.kind.setCurrentIndex(bar.kind.findData("basler"))
    qtbot.waitUntil(lambda: bar._scan is None)
    return bar


def test_camera_choice_and_settings_are_kept_with_the_category(qtbot, tmp_path):
    recipe = RecipeStore(tmp_path / "recipes").create("bottle")
    bar = bar_for(qtbot, recipe)
    assert not bar.target.isVisibleTo(bar) and bar.camera_button.isVisibleTo(bar)
    labels = [bar.camera.itemText(i) for i in range(bar.camera.count())]
    assert "Basler Emulation (0815-0001)" in labels, labels
    bar.camera.setCurrentIndex(bar.camera.findData("0815-0001"))

    dialog = bar.edit_camera_settings()
    assert dialog.serial.currentText() == "0815-0001" and dialog.exposure.specialValueText() == "camera's own"
    assert not dialog.line.isEnabled()  # the input line only matters for a hardware trigger
    dialog.exposure.setValue(1500.0)
    dialog.trigger.setCurrentIndex(dialog.trigger.findData("software"))
    dialog.pixel_format.setCurrentText("RGB8Packed")
    with qtbot.waitSignal(dialog.finished):
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()

    reopened = RecipeStore(tmp_path / "recipes").get("bottle")
    stored = reopened.camera_settings()
    assert (stored.serial, stored.exposure_us, stored.trigger) == ("0815-0001", 1500.0, TriggerMode.SOFTWARE)
    assert stored.gain_db is None and stored.frame_rate is None  # left to the camera

    again = bar_for(qtbot, reopened)  # a new bar (as after a restart) finds the camera and its settings
    assert again.camera.currentData() == "0815-0001"
    dialog = again.edit_camera_settings()
    assert dialog.exposure.value() == 1500.0 and dialog.trigger.currentData() == "software"
    assert dialog.pixel_format.currentText() == "RGB8Packed"
    dialog.reject()
    spec = again.spec()
    assert (spec.kind, spec.target) == ("basler", "0815-0001") and spec.camera["exposure_us"] == 1500.0
    assert spec.label() == "Basler camera 0815-0001"


def test_the_chosen_camera_runs_in_the_acquisition_worker_one_frame_per_trigger(qtbot, tmp_path):
    parts = [generated_part(np.random.default_rng(i), 128) for i in range(2)]
    (tmp_path / "parts").mkdir()
    for i, part in enumerate(parts):
        cv2.imwrite(str(tmp_path / "parts" / f"p{i}.png"), part[:, :, ::-1])
    recipe = RecipeStore(tmp_path / "recipes").create("plates")
    bar = bar_for(qtbot, recipe)
    settings = bar.camera_settings()
    settings.serial, settings.trigger, settings.pixel_format = "0815-0000", TriggerMode.SOFTWARE, "RGB8Packed"
    settings.features = {"Width": "128", "Height": "128", "TestImageSelector": "Off",
                         "ImageFilename": str(tmp_path / "parts"), "ImageFileMode": "On"}  # fmt: skip
    bar.store_camera_settings(settings)
    source = bar.spec().build()
    assert isinstance(source, PylonCameraSource) and source.settings == settings

    mailbox = Mailbox()
    worker = AcquisitionWorker(source, mailbox)
    statuses = []
    worker.status.connect(statuses.append)
    worker.start()
    try:
        qtbot.waitUntil(lambda: source.connected, timeout=30_000)
        for i in range(3):
            worker.capture()  # Space on the Inspect page: a software trigger
            frame = mailbox.get(timeout=10)
            assert isinstance(frame, Frame) and frame.index == i
            np.testing.assert_array_equal(frame.image, parts[i % 2])
            assert mailbox.get(timeout=0.3) is None  # one trigger, one frame
        worker.pause()
        worker.capture()  # paused, a trigger still gives its picture
        frame = mailbox.get(timeout=10)
        assert isinstance(frame, Frame) and frame.index == 3 and not worker.is_playing
    finally:
        with qtbot.waitSignal(worker.finished, timeout=15_000):
            worker.stop()
        worker.wait()
    qtbot.waitUntil(lambda: any(s.message.startswith("connected to Basler") for s in statuses))


def test_genicam_says_why_until_a_producer_is_chosen(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("harvesters.core", reason="GenICam harvesters is not installed")
    from core.sources.gentl_camera import NO_PRODUCER, simulated_producer

    if simulated_producer() is None:
        pytest.skip("the genicam package ships no simulated producer here")
    monkeypatch.setenv("GENICAM_GENTL64_PATH", str(tmp_path))  # nothing configured on this machine
    recipe = RecipeStore(tmp_path / "recipes").create("castings")
    bar = SourceBar()
    qtbot.addWidget(bar)
    bar.recipe_provider = lambda: recipe
    with qtbot.waitSignal(bar.camerasListed, timeout=30_000):
        bar.kind.setCurrentIndex(bar.kind.findData("genicam"))
    assert bar.camera.currentText() == NO_PRODUCER and bar.camera.currentData() is None
    qtbot.waitUntil(lambda: bar._scan is None)

    dialog = bar.edit_camera_settings()
    assert dialog.producer.isVisibleTo(dialog)
    dialog.producer.setText(str(simulated_producer()))
    dialog.serial.setCurrentText("2")
    with qtbot.waitSignal(bar.camerasListed, timeout=30_000):
        dialog.accept()  # another producer: the list is scanned again
    qtbot.waitUntil(lambda: bar._scan is None)
    assert [bar.camera.itemData(i) for i in range(1, bar.camera.count())] == ["0", "1", "2"]
    assert bar.camera.currentData() == "2"
    stored = RecipeStore(tmp_path / "recipes").get("castings").camera_settings()
    assert (stored.backend, stored.producer, stored.serial) == ("genicam", str(simulated_producer()), "2")


def test_workstation_inspects_triggered_camera_pictures_and_survives_a_removal(qtbot, window, tmp_path, parts_root):
    """The real main window on a trained category: the camera of its recipe, one inspection per Space, a red
    banner while the camera is gone, and inspection again once it is back."""
    from core.data.io import list_images, load_image
    from core.sources import StatusKind

    folder = tmp_path / "line"
    folder.mkdir()
    for i, path in enumerate(
        list_images(parts_root / "test" / "good")[:2] + list_images(parts_root / "test" / "crack")[:1]
    ):
        image = cv2.resize(load_image(path), (256, 256), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"{i}.png"), image[:, :, ::-1])
    state, page = window.state, window.inspect
    settings = CameraSettings(serial="0815-0000", pixel_format="RGB8Packed", trigger=TriggerMode.SOFTWARE,
                              features={"Width": "256", "Height": "256", "TestImageSelector": "Off",
                                        "ImageFilename": str(folder), "ImageFileMode": "On"})  # fmt: skip
    state.recipe().set_camera_settings(settings)
    bar = page.source_bar
    with qtbot.waitSignal(bar.camerasListed, timeout=30_000):
        bar.kind.setCurrentIndex(bar.kind.findData("basler"))
    qtbot.waitUntil(lambda: bar._scan is None)
    page.open_source(bar.spec())
    qtbot.waitUntil(lambda: page.run.acquisition.source.connected, timeout=30_000)
    source = page.run.acquisition.source
    assert source.settings == settings  # the category's camera, as stored in its recipe
    for n in (1, 2):
        page.capture()  # Space
        qtbot.waitUntil(lambda n=n: len(page.history) >= n, timeout=60_000)
    assert [e.ref for e in page.history] == ["0815-0000#0", "0815-0000#1"]

    statuses = []
    page.run.status.connect(statuses.append)
    source._device.features.set("FirePnPCallback", True)  # pylon's emulation of pulling the cable
    qtbot.waitUntil(lambda: "Camera / stream lost: lost Basler Emulation (0815-0000)" in page.banner.text())
    qtbot.waitUntil(lambda: any(s.kind is StatusKind.RECONNECTED for s in statuses), timeout=30_000)
    qtbot.waitUntil(lambda: page.banner.isHidden())
    page.capture()
    qtbot.waitUntil(lambda: len(page.history) >= 3, timeout=60_000)
    assert page.history[-1].ref == "0815-0000#2"
    page.stop_source()


def test_the_gui_entry_point_forwards_the_cameras_command(capsys):
    import json

    from llad_gui.__main__ import main

    assert main(["cameras"]) == 0  # as the packaged `llad cameras` does
    out = json.loads(capsys.readouterr().out)
    assert "0815-0000" in [c["serial"] for c in out["basler"]["cameras"]]
