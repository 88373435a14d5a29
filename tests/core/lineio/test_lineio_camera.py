"""A PLC trigger inspects the camera's picture: pylon's camera emulation (``PYLON_CAMEMU``) on software trigger
replays an OK and an NG part, a pymodbus client runs the handshake. Also: a camera that takes the trigger but
sends nothing, a missing camera, and a camera pulled and found again, each answered with a code and no hang."""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path

import cv2
import pytest

os.environ.setdefault("PYLON_CAMEMU", "2")  # read when pylon first loads its transport layers

pytest.importorskip("pypylon", reason="Basler pylon (pypylon) is not installed")

from core.data.io import load_image  # noqa: E402
from core.lineio import CameraReader, CameraTriggerAcquirer, ErrorCode, LineHub, Station, TriggeredFrames  # noqa: E402
from core.lineio.modbus import ENABLE, ERROR, FAIL, PASS  # noqa: E402
from core.lineio.payload import VERDICT_CODES  # noqa: E402
from core.sources import CameraSettings, StatusKind, TriggerMode  # noqa: E402
from core.sources.pylon_camera import PylonCameraSource  # noqa: E402
from core.types import Verdict  # noqa: E402
from tests.core.lineio.support import Plc, handshake, modbus_config, wait_for  # noqa: E402

SERIAL = "0815-0000"


def camera_settings(folder: Path, size: tuple[int, int], **features: str) -> CameraSettings:
    """Emulated camera ``SERIAL`` on software trigger, replaying ``folder`` (images of ``size`` w, h) in order."""
    replay = {"Width": str(size[0]), "Height": str(size[1]), "TestImageSelector": "Off",
              "ImageFilename": str(folder), "ImageFileMode": "On"}  # fmt: skip
    return CameraSettings(
        serial=SERIAL, pixel_format="RGB8Packed", trigger=TriggerMode.SOFTWARE, features={**replay, **features}
    )


class CameraLine:
    """Camera -> reader thread -> hand-over -> station -> Modbus hub, as a headless station runs them."""

    def __init__(self, settings: CameraSettings, predictor, log, timeout: float = 5.0) -> None:
        self.config = modbus_config()
        self.camera = PylonCameraSource(settings, backoff_start=0.05)
        self.frames = TriggeredFrames()
        self.statuses: queue.Queue = queue.Queue()
        self.reader = CameraReader(self.camera, self.frames, self.statuses.put)
        acquire = CameraTriggerAcquirer(self.camera, self.frames, timeout=timeout)
        self.hub = LineHub(self.config, Station(predictor, acquire, log=log, station="cell-cam"))

    def status(self, kind: StatusKind, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while True:
            event = self.statuses.get(timeout=max(0.01, deadline - time.monotonic()))
            if event.kind is kind:
                return event

    def __enter__(self) -> CameraLine:
        self.reader.start()
        self.hub.start()
        self.plc = Plc(self.config.modbus.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.plc.close()
        self.hub.stop()
        self.reader.stop()
        assert not self.camera.is_open, "the reader did not close the camera"


@pytest.fixture
def replayed(parts, tmp_path) -> tuple[Path, tuple[int, int]]:
    """A folder the emulated camera replays: the OK part, then the NG part (pylon replays in name order)."""
    folder = tmp_path / "camera"
    folder.mkdir()
    for i, key in enumerate(("ok", "ng")):
        image = load_image(parts[key])
        assert cv2.imwrite(str(folder / f"{i:02d}_{key}.png"), image[:, :, ::-1])
    h, w = image.shape[:2]
    return folder, (w, h)


def test_plc_trigger_inspects_the_camera_frame_ok_then_ng_and_again_after_a_reconnect(
    line_predictor, parts, replayed, line_log
):
    expected = {key: line_predictor.predict(str(parts[key])).score for key in ("ok", "ng")}
    with CameraLine(camera_settings(*replayed), line_predictor, line_log) as line:
        line.status(StatusKind.CONNECTED)
        line.plc.coil(ENABLE, True)
        for key, verdict in (("ok", Verdict.OK), ("ng", Verdict.NG)):
            inputs, regs = handshake(line.plc)
            row = line_log.get(regs[0] << 16 | regs[1])
            assert row.verdict is verdict and regs[3] == VERDICT_CODES[verdict.value] and regs[4] == ErrorCode.NONE
            assert inputs[PASS] == (verdict is Verdict.OK) and inputs[FAIL] == (verdict is Verdict.NG)
            assert row.source == line.camera.name and row.image_ref.startswith(f"{SERIAL}#")
            assert row.score == pytest.approx(expected[key], abs=1e-4), "not the replayed part's frame"
        assert line.camera.triggers_sent == 2 and line.frames.taken == 2

        line.camera._device.features.set("FirePnPCallback", True)  # pylon's emulation of pulling the cable
        line.status(StatusKind.DISCONNECTED)
        line.status(StatusKind.RECONNECTED)
        inputs, regs = handshake(line.plc)  # the new connection replays the folder from its first part
        row = line_log.get(regs[0] << 16 | regs[1])
        assert row.verdict is Verdict.OK and regs[4] == ErrorCode.NONE and not inputs[ERROR]
        assert row.score == pytest.approx(expected["ok"], abs=1e-4)
    assert line_log.count() == 3


def test_a_trigger_the_camera_sends_no_frame_for_is_a_timeout_code_not_a_hang(line_predictor, replayed, line_log):
    # the software trigger goes to the burst trigger, which is off; frame start keeps waiting for its own
    settings = camera_settings(*replayed, TriggerSelector="FrameBurstStart")
    with CameraLine(settings, line_predictor, line_log, timeout=0.5) as line:
        line.status(StatusKind.CONNECTED)
        line.plc.coil(ENABLE, True)
        t0 = time.monotonic()
        inputs, regs = handshake(line.plc)
        assert time.monotonic() - t0 < 10
        assert regs[4] == ErrorCode.CAMERA_TIMEOUT and regs[3] == VERDICT_CODES["ERROR"] and inputs[ERROR]
        assert not inputs[PASS] and not inputs[FAIL]
        row = line_log.get(regs[0] << 16 | regs[1])
        assert row.verdict is Verdict.ERROR and "sent no frame within 0.5 s" in row.error
        assert line.camera.triggers_sent == 1
        wait_for(lambda: line.hub.ready, what="ready for the next trigger")  # the station is not stuck


def test_a_missing_camera_is_answered_with_no_frame_within_the_timeout(line_predictor, tmp_path, line_log):
    settings = CameraSettings(serial="no-such-serial", trigger=TriggerMode.SOFTWARE)
    with CameraLine(settings, line_predictor, line_log, timeout=0.3) as line:
        line.status(StatusKind.DISCONNECTED)
        line.plc.coil(ENABLE, True)
        inputs, regs = handshake(line.plc)
        assert regs[4] == ErrorCode.NO_FRAME and inputs[ERROR]
        row = line_log.get(regs[0] << 16 | regs[1])
        assert row.verdict is Verdict.ERROR and "not connected or not ready" in row.error
        assert line.camera.triggers_sent == 0
