"""The Basler back-end against pylon's own camera emulation (``PYLON_CAMEMU``): no hardware, the real library.

The emulated cameras replay a folder of images; these tests check that the frames coming out are those images,
one frame per software trigger, that settings reach the camera, and that a camera that disappears (pylon's
emulated device removal) is reported and found again with back-off.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("PYLON_CAMEMU", "2")  # read when pylon first loads its transport layers

pytest.importorskip("pypylon", reason="Basler pylon (pypylon) is not installed")

from core.selftest import generated_part  # noqa: E402
from core.sources import CameraSettings, Frame, SourceStatus, StatusKind, TriggerMode  # noqa: E402
from core.sources.pylon_camera import PylonCameraSource, list_pylon_cameras, pylon_status  # noqa: E402
from core.types import Frame as FrameType  # noqa: E402

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def write_parts(folder: Path, images: list[np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        assert cv2.imwrite(str(folder / f"part{i:02d}.png"), img[:, :, ::-1])


def replay(folder: Path, size: tuple[int, int], trigger=TriggerMode.SOFTWARE, **kw) -> CameraSettings:
    """Settings for emulated camera 0815-0001 replaying ``folder`` (w, h = ``size``) in colour."""
    features = {"Width": str(size[0]), "Height": str(size[1]), "TestImageSelector": "Off",
                "ImageFilename": str(folder), "ImageFileMode": "On"}  # fmt: skip
    return CameraSettings(serial="0815-0001", pixel_format="RGB8Packed", trigger=trigger, features=features, **kw)


class Reader:
    """Reads a source on its own thread, as the acquisition worker does, into a queue."""

    def __init__(self, source) -> None:
        self.source, self.events = source, queue.Queue()
        source.open()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for event in self.source.events():
            self.events.put(event)

    def next(self, kind=None, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if kind is None or isinstance(event, kind):
                return event

    def statuses_until(self, kind: StatusKind, timeout: float = 10.0) -> list[SourceStatus]:
        seen = []
        while True:
            event = self.next(SourceStatus, timeout)
            seen.append(event)
            if event.kind is kind:
                return seen

    def close(self) -> None:
        self.source.stop()
        self.thread.join(5)
        assert not self.thread.is_alive(), "the reader did not stop"
        self.source.close()


def test_the_emulated_cameras_are_listed_with_their_serials():
    assert pylon_status().available and pylon_status().version
    serials = [c.serial for c in list_pylon_cameras()]
    assert "0815-0000" in serials and "0815-0001" in serials


def test_one_software_trigger_gives_one_frame_and_it_is_the_replayed_part(tmp_path):
    rng = np.random.default_rng(3)
    parts = [generated_part(rng, 160) for _ in range(3)]
    parts[1][40:60, 70:90] = (200, 30, 30)  # one with a red defect: colour order must survive
    write_parts(tmp_path / "parts", parts)
    source = PylonCameraSource(replay(tmp_path / "parts", (160, 160)), backoff_start=0.05)
    reader = Reader(source)
    try:
        assert reader.statuses_until(StatusKind.CONNECTED)[-1].message.endswith("(0815-0001)")
        assert reader.events.empty()
        for i in range(4):
            assert source.trigger() is True
            frame = reader.next(FrameType)
            assert isinstance(frame, Frame) and frame.index == i and frame.ref == f"0815-0001#{i}"
            np.testing.assert_array_equal(frame.image, parts[i % 3])
            time.sleep(0.3)  # a second frame would have come by now (the camera runs at 100 fps)
            assert reader.events.empty(), "one trigger gave more than one frame"
        assert source.triggers_sent == 4
    finally:
        reader.close()


def test_settings_reach_the_camera_and_refused_ones_are_reported(tmp_path):
    write_parts(tmp_path / "parts", [generated_part(np.random.default_rng(0), 128)])
    settings = replay(
        tmp_path / "parts", (128, 128), TriggerMode.FREE_RUN, exposure_us=2500.0, gain_db=1e6, frame_rate=40.0
    )
    source = PylonCameraSource(settings)
    reader = Reader(source)
    try:
        reader.statuses_until(StatusKind.CONNECTED)
        notes = []
        while not isinstance(event := reader.next(), Frame):
            notes.append(event.message)
        assert len(notes) == 1 and "gain 1e+06 is out of the camera's range" in notes[0], notes
        frame = event
        assert frame.image.shape == (128, 128, 3)
        assert source.feature("ExposureTime") == pytest.approx(2500.0)
        assert source.feature("AcquisitionFrameRate") == pytest.approx(40.0)
        assert source.feature("TriggerMode") == "Off"
        assert source.feature("NoSuchFeature") is None
        assert source.trigger() is False  # free run: a trigger would give nothing
    finally:
        reader.close()
    assert source.feature("ExposureTime") is None  # closed: no camera to ask


def test_hardware_trigger_settings_and_monochrome_frames(tmp_path):
    write_parts(tmp_path / "parts", [generated_part(np.random.default_rng(1), 96)])
    settings = replay(tmp_path / "parts", (96, 96), TriggerMode.HARDWARE, trigger_line="Line2")
    settings.trigger_edge, settings.pixel_format = "FallingEdge", "Mono8"
    source = PylonCameraSource(settings)
    reader = Reader(source)
    try:
        reader.statuses_until(StatusKind.CONNECTED)
        assert (source.feature("TriggerMode"), source.feature("TriggerSource")) == ("On", "Line2")
        assert source.feature("TriggerActivation") == "FallingEdge"
        assert source.trigger() is False  # the line triggers, not software
        assert reader.events.empty()
    finally:
        reader.close()
    settings.trigger = TriggerMode.FREE_RUN
    with PylonCameraSource(settings) as source:
        frame = next(e for e in source.events() if isinstance(e, Frame))
    assert frame.image.shape == (96, 96, 3)
    assert np.array_equal(frame.image[..., 0], frame.image[..., 1])  # grey, repeated to three channels


def test_a_removed_camera_is_reported_and_found_again(tmp_path):
    write_parts(tmp_path / "parts", [generated_part(np.random.default_rng(2), 64)])
    source = PylonCameraSource(replay(tmp_path / "parts", (64, 64), TriggerMode.FREE_RUN), backoff_start=0.05)
    reader = Reader(source)
    try:
        reader.statuses_until(StatusKind.CONNECTED)
        reader.next(FrameType)
        source._device.features.set("FirePnPCallback", True)  # pylon's emulation of pulling the cable
        lost = reader.statuses_until(StatusKind.DISCONNECTED)[-1]
        assert lost.message.startswith("lost Basler Emulation (0815-0001)") and lost.retry_in == pytest.approx(0.05)
        assert "retrying in 0.05 s" in lost.message
        back = reader.statuses_until(StatusKind.RECONNECTED)[-1]
        assert back.message == "reconnected to Basler Emulation (0815-0001)"
        frame = reader.next(FrameType)
        assert frame.image.shape == (64, 64, 3)
        assert source.feature("ExposureTime") is not None  # the settings were applied to the new connection
    finally:
        reader.close()


def test_a_missing_camera_is_retried_with_growing_delays_and_stop_ends_the_wait():
    source = PylonCameraSource(CameraSettings(serial="no-such-serial"), backoff_start=0.05, backoff_max=0.2)
    with source:
        delays = []
        for event in source.events():
            assert isinstance(event, SourceStatus) and event.kind is StatusKind.DISCONNECTED
            assert event.message.startswith("Basler camera no-such-serial not found; retrying in")
            delays.append(event.retry_in)
            if len(delays) == 4:
                break
        assert delays == [0.05, 0.1, 0.2, 0.2]
        assert source.trigger() is False
        source.backoff.start = source.backoff.delay = 30.0  # a long wait, ended by stop() from another thread
        source.read()
        threading.Timer(0.2, source.stop).start()
        t0 = time.monotonic()
        assert source.read() is None
        assert time.monotonic() - t0 < 5


@pytest.mark.dataset
def test_replays_real_bottle_images_exactly(tmp_path):
    good = DATASETS / "bottle" / "test" / "good"
    if not good.is_dir():
        pytest.skip(f"the shared data sets are not at {DATASETS}")
    from core.data.io import load_image

    parts = [cv2.resize(load_image(p), (256, 256), interpolation=cv2.INTER_AREA) for p in sorted(good.iterdir())[:3]]
    write_parts(tmp_path / "bottle", parts)
    source = PylonCameraSource(replay(tmp_path / "bottle", (256, 256)))
    reader = Reader(source)
    try:
        reader.statuses_until(StatusKind.CONNECTED)
        for part in parts:
            assert source.trigger()
            np.testing.assert_array_equal(reader.next(FrameType).image, part)
    finally:
        reader.close()


def test_a_silent_free_running_camera_counts_as_lost(tmp_path):
    write_parts(tmp_path / "parts", [generated_part(np.random.default_rng(4), 64)])
    settings = replay(tmp_path / "parts", (64, 64), TriggerMode.FREE_RUN)
    settings.features["TriggerMode"] = "On"  # set last: the camera now waits for a trigger nobody sends
    source = PylonCameraSource(settings, frame_timeout=0.3, backoff_start=0.05)
    reader = Reader(source)
    try:
        reader.statuses_until(StatusKind.CONNECTED)
        t0 = time.monotonic()
        silent = reader.statuses_until(StatusKind.DISCONNECTED)[-1]
        assert silent.message.startswith("no frames from Basler Emulation (0815-0001) for 0.3 s; retrying in")
        assert 0.2 < time.monotonic() - t0 < 5
        assert reader.statuses_until(StatusKind.RECONNECTED)  # and it is tried again
    finally:
        reader.close()
