"""The Inspect page and the line together, in the real main window: a PLC trigger (pymodbus client) takes its
picture with the page's camera on software trigger (pylon's emulation) and the page shows that result; and what
the page inspects from its own source is published to the line, here a webhook that is down at first."""

from __future__ import annotations

import copy
import os

import cv2
import pytest

os.environ.setdefault("PYLON_CAMEMU", "2")  # read when pylon first loads its transport layers
pytest.importorskip("pypylon", reason="Basler pylon (pypylon) is not installed")

from core.data.io import list_images, load_image  # noqa: E402
from core.lineio.modbus import ACK, ENABLE, READY, RESULT_VALID, TRIGGER  # noqa: E402
from core.lineio.payload import VERDICT_CODES, ErrorCode  # noqa: E402
from core.sources import CameraSettings, TriggerMode  # noqa: E402
from llad_gui.workers.acquisition import SourceSpec  # noqa: E402
from tests.core.lineio.support import Plc, Receiver, free_port  # noqa: E402

SERIAL = "0815-0000"


def start_links(qtbot, window, edit) -> object:
    """The Line I/O controller of ``window`` with ``edit(config)`` saved and the links started."""
    controller = window.pages["Line I/O"].controller
    config = copy.deepcopy(controller.config)
    edit(config)
    assert controller.save(config)
    with qtbot.waitSignal(controller.runningChanged, timeout=30_000):
        controller.start()
    return controller


def test_a_plc_trigger_inspects_the_inspect_pages_camera_and_the_page_shows_it(qtbot, window, parts_root, tmp_path):
    images = list_images(parts_root / "test" / "good")[:2]
    folder = tmp_path / "camera"
    folder.mkdir()
    for i, path in enumerate(images):
        assert cv2.imwrite(str(folder / f"{i:02d}.png"), load_image(path)[:, :, ::-1])
    h, w = load_image(images[0]).shape[:2]
    settings = CameraSettings(serial=SERIAL, pixel_format="RGB8Packed", trigger=TriggerMode.SOFTWARE)
    settings.features = {"Width": str(w), "Height": str(h), "TestImageSelector": "Off",
                         "ImageFilename": str(folder), "ImageFileMode": "On"}  # fmt: skip
    port = free_port()

    def modbus(config) -> None:
        config.modbus.enabled, config.modbus.port, config.camera_timeout = True, port, 10.0

    controller = start_links(qtbot, window, modbus)
    page, log = window.inspect, window.state.log
    page.open_source(SourceSpec("basler", SERIAL, camera=settings.to_dict()))
    qtbot.waitUntil(lambda: (c := controller.triggered_camera()) is not None and c.connected, timeout=30_000)
    expected = window.state.predictor.predict(str(images[0])).score

    plc = Plc(port)
    try:
        plc.coil(ENABLE, True)
        qtbot.waitUntil(lambda: plc.inputs()[READY], timeout=10_000)
        with qtbot.waitSignal(controller.inspected, timeout=60_000):
            assert not plc.coil(TRIGGER, True).isError()
        qtbot.waitUntil(lambda: plc.inputs()[RESULT_VALID], timeout=10_000)
        registers = plc.registers()
        plc.coil(TRIGGER, False)
        plc.coil(ACK, True)
        plc.coil(ACK, False)
    finally:
        plc.close()
    row = log.get(registers[0] << 16 | registers[1])
    assert row.image_ref == f"{SERIAL}#0" and row.source == f"basler:{SERIAL}" and registers[4] == ErrorCode.NONE
    assert registers[3] == VERDICT_CODES[row.verdict.value] and row.score == pytest.approx(expected, abs=1e-4)
    qtbot.waitUntil(lambda: page.current is not None, timeout=10_000)
    assert page.current.frame.ref == f"{SERIAL}#0" and page.current.score == pytest.approx(row.score, abs=1e-6)
    assert log.count() == 1, "the line's picture was inspected twice (by the line and by the page)"

    page.capture()  # Space still takes a picture for the page itself; it is not the line's
    qtbot.waitUntil(lambda: log.count() == 2, timeout=60_000)
    assert max(log.query(), key=lambda r: r.id).image_ref == f"{SERIAL}#1"
    page.stop_source()


def test_the_pages_own_inspections_reach_a_webhook_that_was_down(qtbot, window, parts_root, tmp_path):
    images = list_images(parts_root / "test" / "good")[:2]
    for path in images:
        (tmp_path / "shown").mkdir(exist_ok=True)
        (tmp_path / "shown" / path.name).write_bytes(path.read_bytes())
    port = free_port()

    def webhook(config) -> None:
        config.webhook.enabled, config.webhook.url = True, f"http://127.0.0.1:{port}/llad"
        config.webhook.retry_delay, config.webhook.retry_delay_max, config.webhook.timeout = 0.05, 0.2, 2.0

    controller = start_links(qtbot, window, webhook)
    page, log = window.inspect, window.state.log
    with qtbot.waitSignal(page.run.resultReady, timeout=60_000):
        page.open_source(SourceSpec("folder", str(tmp_path / "shown")))
    page.step(1)
    qtbot.waitUntil(lambda: log.count() == 2, timeout=60_000)  # the receiver being down held nothing up
    qtbot.waitUntil(lambda: controller.hub.states()["webhook"].queued >= 1, timeout=10_000)
    receiver = Receiver(port).start()
    try:
        qtbot.waitUntil(lambda: len(receiver.bodies) == 2, timeout=30_000)
    finally:
        receiver.stop()
    rows = sorted(log.query(), key=lambda r: r.id)
    for body, row in zip(receiver.bodies, rows, strict=True):  # in order, each with its log row's id and fields
        assert body["id"] == row.id and body["origin"] == "inspect page" and body["station"] == "tiles"
        assert body["image_ref"] == row.image_ref and body["verdict"] == row.verdict.value
        assert body["score"] == pytest.approx(row.score)
    assert [b["image_ref"].rsplit("/", 1)[-1] for b in receiver.bodies] == [p.name for p in images]
    page.stop_source()
