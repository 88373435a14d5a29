"""The GenICam back-end (harvesters) against the simulated GenTL producer the ``genicam`` package ships ("Viky").

Viky has three virtual cameras (serials 0, 1, 2) drawing a bouncing ball, with pixel format and frame rate but
no exposure, gain or trigger features: those are checked to be reported as missing. The pixel conversion is
checked on made-up buffers of each kind a real camera sends.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time

import numpy as np
import pytest

pytest.importorskip("harvesters.core", reason="GenICam harvesters is not installed")

from core.sources import CameraSettings, Frame, SourceStatus, StatusKind, TriggerMode  # noqa: E402
from core.sources.gentl_camera import (  # noqa: E402
    NO_PRODUCER,
    GenTLCameraSource,
    component_image,
    gentl_status,
    list_gentl_cameras,
    simulated_producer,
)

VIKY = simulated_producer()
if VIKY is None:
    pytest.skip("the genicam package ships no simulated producer here", allow_module_level=True)


def viky(serial: str = "1", **kw) -> CameraSettings:
    return CameraSettings(backend="genicam", producer=str(VIKY), serial=serial, **kw)


def read_until(source, kind, limit: int = 50):
    seen = []
    for event in source.events():
        seen.append(event)
        if isinstance(event, kind) or len(seen) >= limit:
            return seen
    return seen


def test_status_says_when_no_producer_is_configured(monkeypatch, tmp_path):
    monkeypatch.setenv("GENICAM_GENTL64_PATH", str(tmp_path))
    status = gentl_status()
    assert not status.available and status.reason == NO_PRODUCER
    assert status.label == f"GenICam camera: {NO_PRODUCER}"
    assert list_gentl_cameras() == []
    shutil.copy(VIKY, tmp_path / "viky.cti")  # the standard variable's folder now holds a producer
    assert gentl_status().available
    assert [c.serial for c in list_gentl_cameras()] == ["0", "1", "2"]
    missing = gentl_status(str(tmp_path / "vendor.cti"))
    assert not missing.available and "vendor.cti not found" in missing.reason


def test_frames_come_with_the_chosen_pixel_format_and_frame_rate():
    settings = viky(pixel_format="Mono8", frame_rate=50.0, exposure_us=1000.0, trigger=TriggerMode.SOFTWARE)
    with GenTLCameraSource(settings) as source:
        events = read_until(source, Frame)
        assert events[0].kind is StatusKind.CONNECTED and events[0].message.endswith("Viky (1)")
        notes = [e.message for e in events[1:-1]]
        assert any("no exposure setting" in n for n in notes) and any("no trigger mode setting" in n for n in notes)
        frame = events[-1]
        assert frame.image.shape == (400, 400, 3) and frame.ref == "1#0"
        assert np.array_equal(frame.image[..., 0], frame.image[..., 2])  # Mono8, repeated to three channels
        assert source.feature("PixelFormat") == "Mono8"
        assert source.feature("AcquisitionFrameRate") == pytest.approx(50.0)
        assert source.trigger() is False  # Viky has no TriggerSoftware: said, not pretended
        t0, n = time.monotonic(), 0
        for event in source.events():
            n += isinstance(event, Frame)
            if n == 10:
                break
        assert 10 / (time.monotonic() - t0) < 80  # paced by the camera's 50 fps, not a busy loop


def test_colour_frames_from_rgba():
    with GenTLCameraSource(viky("2", pixel_format="RGBa8")) as source:
        frames = [e for e in read_until(source, Frame) if isinstance(e, Frame)]
    assert frames[0].image.shape == (400, 400, 3) and frames[0].image.dtype == np.uint8


def test_a_camera_held_elsewhere_is_retried_until_it_is_free():
    holder = GenTLCameraSource(viky("0"))
    holder.open()
    assert holder.read().kind is StatusKind.CONNECTED
    waiting = GenTLCameraSource(viky("0"), backoff_start=0.05)
    events: queue.Queue = queue.Queue()
    waiting.open()
    thread = threading.Thread(target=lambda: [events.put(e) for e in waiting.events()], daemon=True)
    thread.start()
    try:
        first = events.get(timeout=10)
        assert first.kind is StatusKind.DISCONNECTED and first.message.startswith("GenICam camera 0 not found")
        holder.close()  # the other program lets go
        while not isinstance(event := events.get(timeout=10), Frame):
            assert isinstance(event, SourceStatus)
        assert event.image.shape == (400, 400, 3)
    finally:
        holder.close()
        waiting.stop()
        thread.join(5)
        waiting.close()
    assert not thread.is_alive()


def test_a_producer_that_appears_later_is_picked_up(tmp_path):
    cti = tmp_path / "drive" / "viky.cti"
    source = GenTLCameraSource(
        CameraSettings(backend="genicam", producer=str(cti), serial="1"), backoff_start=0.05, backoff_max=0.1
    )
    with source:
        first = source.read()
        assert first.kind is StatusKind.DISCONNECTED and f"GenTL producer {cti} not found" in first.message
        cti.parent.mkdir()
        shutil.copy(VIKY, cti)
        events = read_until(source, Frame)
    assert [e.kind for e in events if isinstance(e, SourceStatus)][-1] is StatusKind.CONNECTED
    assert isinstance(events[-1], Frame)


def test_pixel_formats_are_converted_to_rgb():
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 30
    assert np.array_equal(component_image(rgb.reshape(-1), 6, 4, "RGB8"), rgb)
    assert np.array_equal(component_image(rgb[..., ::-1].reshape(-1), 6, 4, "BGR8"), rgb)
    mosaic = np.zeros((4, 6), np.uint8)  # RGGB: R at (0, 0), B at (1, 1)
    mosaic[0::2, 0::2], mosaic[1::2, 1::2] = 200, 30
    mosaic[0::2, 1::2] = mosaic[1::2, 0::2] = 100
    out = component_image(mosaic.reshape(-1), 6, 4, "BayerRG8")
    assert out.shape == (4, 6, 3) and tuple(out[2, 2]) == (200, 100, 30)
    mono12 = np.full(24, 4095, np.uint16)
    from core.data.io import load_image

    assert load_image(component_image(mono12, 6, 4, "Mono12")).min() == 255  # full scale stays full scale
    assert "not supported" in component_image(np.zeros(24, np.uint8), 6, 4, "YCbCr422_8")
