"""Frame sources on real files: folders with bad images, paired folders, a real MJPG video used as a camera,
a stream that cannot be reached, and a hot folder that another thread fills slowly.

Nothing here waits on a fixed sleep for the code under test: reads block until an event arrives, and a
watchdog stops the source if an expected event never does.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import core.sources.hotfolder as hotfolder_module
from core.sources import (
    FolderSource,
    FrameSource,
    HotFolderSource,
    LoadProblem,
    PairedFolderSource,
    Reconnector,
    SourceError,
    SourceEvent,
    SourceStatus,
    StatusKind,
    VideoSource,
    redact_url,
)
from core.types import Frame


def _img(seed: int, h: int = 24, w: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _write(path: Path, image: np.ndarray) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_png(image))
    return image


def _read_until(
    source: FrameSource, done: Callable[[list[SourceEvent]], bool], timeout: float = 10.0
) -> list[SourceEvent]:
    """Read events until ``done(events)``; a watchdog stops the source (read returns None) after ``timeout``."""
    events: list[SourceEvent] = []
    watchdog = threading.Timer(timeout, source.stop)
    watchdog.start()
    try:
        while not done(events):
            ev = source.read()
            if ev is None:
                break
            events.append(ev)
    finally:
        watchdog.cancel()
    return events


def _frames(events: list[SourceEvent]) -> list[Frame]:
    return [e for e in events if isinstance(e, Frame)]


# ---- folders ---------------------------------------------------------------------------------------------


def test_folder_reads_images_in_name_order_then_ends(tmp_path: Path) -> None:
    imgs = {name: _write(tmp_path / name, _img(i)) for i, name in enumerate(["b.png", "a.png", "c.png"])}
    (tmp_path / "notes.txt").write_text("not an image")
    with FolderSource(tmp_path) as src:
        assert len(src) == 3 and not src.live
        events = list(src.events())
        assert src.read() is None
    frames = _frames(events)
    assert [Path(f.ref).name for f in frames] == ["a.png", "b.png", "c.png"]
    assert [f.index for f in frames] == [0, 1, 2]
    assert all(f.source == f"folder:{tmp_path}" and f.partner is None for f in frames)
    assert all(np.array_equal(f.image, imgs[Path(f.ref).name]) for f in frames)
    assert isinstance(events[-1], SourceStatus) and events[-1].kind is StatusKind.END
    assert "3 images" in events[-1].message


def test_a_corrupt_image_is_a_load_problem_and_the_run_goes_on(tmp_path: Path) -> None:
    _write(tmp_path / "1.png", _img(1))
    (tmp_path / "2.png").write_bytes(_png(_img(2))[:60])  # truncated
    (tmp_path / "3.jpg").write_bytes(b"\x00garbage" * 50)
    last = _write(tmp_path / "4.png", _img(4))
    with FolderSource(tmp_path) as src:
        events = list(src.events())
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Frame", "LoadProblem", "LoadProblem", "Frame", "SourceStatus"]
    problem = events[1]
    assert problem.path == str(tmp_path / "2.png") and problem.index == 1 and problem.reason
    assert np.array_equal(events[3].image, last) and events[3].index == 3


def test_folder_stepping_by_index(tmp_path: Path) -> None:
    for i in range(4):
        _write(tmp_path / f"{i}.png", _img(i))
    src = FolderSource(tmp_path)
    with pytest.raises(SourceError, match="not open"):
        src.read()
    with src:
        assert src.index == -1 and src.previous() is None
        assert src.next().index == 0 and src.next().index == 1
        assert src.previous().index == 0
        third = src.frame_at(3)
        assert third.index == 3 and np.array_equal(third.image, _img(3))
        assert src.next() is None and src.index == 3
        src.seek(1)
        assert src.read().index == 1
        assert [e.index for e in _frames(list(src.events()))] == [2, 3]
        src.seek(0)  # after the end, stepping back starts again
        assert src.read().index == 0
        with pytest.raises(IndexError):
            src.frame_at(4)
        with pytest.raises(IndexError):
            src.seek(-1)


def test_empty_missing_and_recursive_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with FolderSource(tmp_path / "empty") as src:
        (ev,) = list(src.events())
        assert ev.kind is StatusKind.END and "no images" in ev.message
    with pytest.raises(SourceError, match="no such folder"):
        FolderSource(tmp_path / "missing").open()
    _write(tmp_path / "tree" / "top.png", _img(0))
    _write(tmp_path / "tree" / "sub" / "deep.png", _img(1))
    with FolderSource(tmp_path / "tree", recursive=True) as src:
        assert [Path(p).name for p in src.paths] == ["deep.png", "top.png"]
    with FolderSource(tmp_path / "tree") as src:
        assert len(src) == 1


def test_paired_folders_match_by_stem(tmp_path: Path) -> None:
    well, low = tmp_path / "well", tmp_path / "low"
    pairs = {
        s: (_write(low / f"{s}.png", _img(i)), _write(well / f"{s}.png", _img(10 + i))) for i, s in enumerate("ac")
    }
    _write(low / "b.png", _img(20))  # no well-lit partner
    _write(well / "d.png", _img(21))  # no low-light image
    _write(low / "e.png", _img(22))
    _write(low / "e.jpg", _img(23))  # ambiguous
    _write(well / "e.png", _img(24))
    with PairedFolderSource(well, low) as src:
        events = list(src.events())
    by_index = {e.index: e for e in events if not isinstance(e, SourceStatus)}
    assert [type(by_index[i]).__name__ for i in range(5)] == ["Frame", "LoadProblem", "Frame", "LoadProblem"] + [
        "LoadProblem"
    ]
    for i, stem in ((0, "a"), (2, "c")):
        f = by_index[i]
        assert f.ref == str(low / f"{stem}.png")
        assert np.array_equal(f.image, pairs[stem][0]) and np.array_equal(f.partner, pairs[stem][1])
    assert "no well-lit image named b" in by_index[1].reason
    assert "no low-light image named d" in by_index[3].reason and by_index[3].path == str(well / "d.png")
    assert "several low-light images named e" in by_index[4].reason
    assert events[-1].kind is StatusKind.END


# ---- video -----------------------------------------------------------------------------------------------

N_FRAMES = 6


def _video(path: Path, n: int = N_FRAMES) -> Path:
    """A real MJPG .avi: each frame is red on the left, blue on the right, brighter frame by frame (BGR order)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    assert writer.isOpened(), "this OpenCV cannot write MJPG"
    for i in range(n):
        frame = np.zeros((48, 64, 3), np.uint8)
        level = 100 + 25 * i
        frame[:, :32, 2] = level  # red in BGR
        frame[:, 32:, 0] = level  # blue in BGR
        writer.write(frame)
    writer.release()
    return path


def _check_colours(frame: Frame, i: int) -> None:
    level = 100 + 25 * i
    left, right = frame.image[8:40, 4:28].mean(axis=(0, 1)), frame.image[8:40, 36:60].mean(axis=(0, 1))
    assert frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
    assert abs(left[0] - level) < 12 and left[1] < 12 and left[2] < 12  # RGB: red first
    assert abs(right[2] - level) < 12 and right[0] < 12


def test_video_file_frames_are_rgb_then_end(tmp_path: Path) -> None:
    path = _video(tmp_path / "clip.avi")
    with VideoSource(path) as src:
        assert not src.live and src.kind == "file"
        events = list(src.events())
        assert src.read() is None
    frames = _frames(events)
    assert len(frames) == N_FRAMES and [f.index for f in frames] == list(range(N_FRAMES))
    for i, f in enumerate(frames):
        _check_colours(f, i)
        assert f.ref == str(path) and f.source == f"file:{path}"
    assert events[-1].kind is StatusKind.END and f"{N_FRAMES} frames" in events[-1].message


def test_video_file_loops_when_asked(tmp_path: Path) -> None:
    with VideoSource(_video(tmp_path / "clip.avi"), loop=True) as src:
        events = _read_until(src, lambda ev: len(_frames(ev)) >= N_FRAMES + 2)
    frames = _frames(events)
    assert len(frames) == N_FRAMES + 2
    assert [e.kind for e in events if isinstance(e, SourceStatus)] == [StatusKind.INFO]
    _check_colours(frames[N_FRAMES], 0)  # starts again from the first frame
    assert frames[N_FRAMES].index == N_FRAMES


def test_missing_or_bad_video_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such video file"):
        VideoSource(tmp_path / "none.avi").open()
    (tmp_path / "fake.avi").write_bytes(b"not a video at all" * 10)
    with pytest.raises(SourceError, match="cannot open video"):
        VideoSource(tmp_path / "fake.avi").open()


def test_a_video_file_as_a_camera_disconnects_and_reconnects(tmp_path: Path) -> None:
    path = _video(tmp_path / "camera.avi")
    with VideoSource(path, live=True, backoff_start=0.05, backoff_max=0.2) as src:
        assert src.live
        events = _read_until(src, lambda ev: len(_frames(ev)) >= 2 * N_FRAMES + 1)
    statuses = [e for e in events if isinstance(e, SourceStatus)]
    assert [s.kind for s in statuses] == [
        StatusKind.CONNECTED,
        StatusKind.DISCONNECTED,
        StatusKind.RECONNECTED,
        StatusKind.DISCONNECTED,
        StatusKind.RECONNECTED,
    ]
    assert "64x48" in statuses[0].message
    # frames arrived between the reconnects, so the back-off started again from its first delay each time
    assert [s.retry_in for s in statuses if s.kind is StatusKind.DISCONNECTED] == [0.05, 0.05]
    assert "retrying in 0.05 s" in statuses[1].message
    frames = _frames(events)
    assert [f.index for f in frames] == list(range(2 * N_FRAMES + 1))
    _check_colours(frames[N_FRAMES], 0)


def test_an_unreachable_stream_backs_off_exponentially() -> None:
    url = "http://user:secret@127.0.0.1:9/stream.mjpg"  # the discard port: connection refused at once
    src = VideoSource(url, backoff_start=0.05, backoff_max=0.4)
    assert src.live and src.kind == "stream" and "secret" not in src.name
    with src:
        arrivals: list[float] = []
        t0 = time.monotonic()

        def done(ev: list[SourceEvent]) -> bool:
            arrivals.append(time.monotonic() - t0)
            return len(ev) >= 6

        events = _read_until(src, done)
    assert all(isinstance(e, SourceStatus) and e.kind is StatusKind.DISCONNECTED for e in events)
    assert [e.retry_in for e in events] == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]
    assert all("secret" not in e.message and "retrying in" in e.message for e in events)
    gaps = np.diff(arrivals[1:])  # the first attempt is immediate, each further one waits the announced delay
    assert all(gap >= delay - 0.005 for gap, delay in zip(gaps, [0.05, 0.1, 0.2, 0.4, 0.4]))
    assert sum(gaps) < 5.0


def test_the_reconnector_doubles_its_delay_resets_on_a_frame_and_waits_only_what_is_owed() -> None:
    """The one back-off the video and industrial camera sources share (core.sources.base.Reconnector)."""
    r = Reconnector(start=0.1, maximum=0.3)
    slept: list[float] = []

    def sleep(seconds: float) -> bool:
        slept.append(seconds)
        return False

    assert r.wait(sleep) is False and slept == []  # nothing owed before a failure
    assert r.connected() is StatusKind.CONNECTED and r.connected() is StatusKind.RECONNECTED
    lost = [r.lost("no frames from camera 0", "camera:0") for _ in range(4)]
    assert [s.retry_in for s in lost] == [0.1, 0.2, 0.3, 0.3]
    message = "no frames from camera 0; retrying in 0.2 s"
    assert lost[1] == SourceStatus(StatusKind.DISCONNECTED, message, "camera:0", 0.2)
    assert r.wait(sleep) is False and r.wait(sleep) is False and slept == [0.3]  # the last delay, once
    r.frame()
    assert r.lost("lost", "x").retry_in == 0.1
    assert r.wait(lambda seconds: True) is True and r.pending == 0.1  # stopped: still owed
    r.reset()
    assert r.pending is None and r.delay == 0.1 and r.connected() is StatusKind.CONNECTED


@pytest.mark.parametrize("target", ["rtsp://127.0.0.1:9/live", "99"])
def test_stop_interrupts_the_back_off_wait_at_once(target: str) -> None:
    src = VideoSource(target, backoff_start=30.0)
    assert src.live
    seen: list[SourceEvent] = []
    first = threading.Event()

    def worker() -> None:
        with src:
            for ev in src.events():
                seen.append(ev)
                first.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert first.wait(10), "no status from an unreachable source"
    t = time.monotonic()
    src.stop()
    thread.join(timeout=1.0)
    assert not thread.is_alive() and time.monotonic() - t < 1.0
    assert len(seen) == 1 and seen[0].kind is StatusKind.DISCONNECTED and seen[0].retry_in == 30.0


def test_events_takes_an_external_stop_event(tmp_path: Path) -> None:
    stop = threading.Event()
    got: list[SourceEvent] = []
    with VideoSource(_video(tmp_path / "c.avi"), loop=True) as src:
        for ev in src.events(stop):
            got.append(ev)
            if len(got) == 3:
                stop.set()
    assert len(got) == 3 and src.stopped


def test_redact_url() -> None:
    assert redact_url("rtsp://admin:pa55@10.0.0.5:554/h264") == "rtsp://admin:***@10.0.0.5:554/h264"
    assert redact_url("http://10.0.0.5/mjpg") == "http://10.0.0.5/mjpg"
    assert VideoSource(0).name == "camera:0" and VideoSource("1").target == 1


# ---- hot folder ------------------------------------------------------------------------------------------


def test_hot_folder_ignores_existing_files_and_delivers_new_ones(tmp_path: Path) -> None:
    _write(tmp_path / "old.png", _img(0))
    with HotFolderSource(tmp_path, poll_interval=0.02) as src:
        assert src.live
        status = src.read()
        assert status.kind is StatusKind.INFO and "ignoring the 1 already there" in status.message
        new = _write(tmp_path / "new.png", _img(1))
        (tmp_path / ".hidden.png").write_bytes(_png(_img(2)))
        (tmp_path / "upload.png.part").write_bytes(b"partial")
        frame = _read_until(src, lambda ev: len(ev) >= 1)[0]
        assert isinstance(frame, Frame) and frame.ref == str(tmp_path / "new.png") and frame.index == 0
        assert np.array_equal(frame.image, new)

        again = _write(tmp_path / "new.png", _img(3))  # rewritten under the same name: a new part
        frame = _read_until(src, lambda ev: len(ev) >= 1)[0]
        assert np.array_equal(frame.image, again) and frame.index == 1

    with HotFolderSource(tmp_path, poll_interval=0.02, include_existing=True) as src:
        events = _read_until(src, lambda ev: len(_frames(ev)) >= 2)
        assert [Path(f.ref).name for f in _frames(events)] == ["new.png", "old.png"]


def test_hot_folder_never_reads_a_half_written_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decodes = []
    real_load = hotfolder_module.load_image

    def counting_load(path: str) -> np.ndarray:
        decodes.append(Path(path).stat().st_size)
        return real_load(path)

    monkeypatch.setattr(hotfolder_module, "load_image", counting_load)
    full = _img(5, 64, 64)
    data = _png(full)
    finished = threading.Event()

    def slow_writer() -> None:
        with open(tmp_path / "part.png", "wb") as fh:
            for k in range(0, len(data), len(data) // 6 + 1):
                fh.write(data[k : k + len(data) // 6 + 1])
                fh.flush()
                time.sleep(0.15)  # several polls see the same half-written size
        finished.set()

    with HotFolderSource(tmp_path, poll_interval=0.03) as src:
        assert src.read().kind is StatusKind.INFO
        writer = threading.Thread(target=slow_writer)
        writer.start()
        events = _read_until(src, lambda ev: len(ev) >= 1)
        writer.join()
    assert len(events) == 1 and isinstance(events[0], Frame)
    assert np.array_equal(events[0].image, full)
    assert finished.is_set()
    assert any(size < len(data) for size in decodes), "the test never offered a half-written file"


def test_hot_folder_reports_a_file_that_never_decodes_and_goes_on(tmp_path: Path) -> None:
    with HotFolderSource(tmp_path, poll_interval=0.02, settle_timeout=0.3) as src:
        src.read()
        (tmp_path / "a_broken.png").write_bytes(_png(_img(0))[:100])
        good = _write(tmp_path / "b_good.png", _img(1))
        events = _read_until(src, lambda ev: len(ev) >= 2)
    assert isinstance(events[0], Frame) and np.array_equal(events[0].image, good)
    problem = events[1]
    assert isinstance(problem, LoadProblem) and problem.path == str(tmp_path / "a_broken.png")
    assert "unchanged for 0.3 s" in problem.reason


def test_hot_folder_stops_promptly_and_needs_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such folder"):
        HotFolderSource(tmp_path / "missing").open()
    src = HotFolderSource(tmp_path, poll_interval=5.0)
    watching, ended = threading.Event(), threading.Event()

    def worker() -> None:
        with src:
            for _ in src.events():
                watching.set()  # the next read polls, then waits 5 s
        ended.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert watching.wait(5)
    t = time.monotonic()
    src.stop()
    assert ended.wait(1.0) and time.monotonic() - t < 1.0
    thread.join()
