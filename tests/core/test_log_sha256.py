"""Every logged inspection carries the SHA-256 of its picture: the file it was read from, else the NG image
saved for it, else the pixels of a camera frame; the column reaches the CSV export."""

from __future__ import annotations

import csv
import hashlib

import cv2
import numpy as np

from core.log import InspectionLog
from core.types import Frame, InputMode, InspectionResult, Thresholds


def _result(frame: Frame | None, score: float = 0.3) -> InspectionResult:
    t = Thresholds()
    return InspectionResult(
        score, score, t.decide(score), np.zeros((4, 4), np.float32), None, t, InputMode.WELLLIT, frame=frame
    )


def test_image_sha256_of_the_file_the_saved_image_or_the_pixels(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    part = tmp_path / "part.png"
    cv2.imwrite(str(part), image[:, :, ::-1])
    saved = tmp_path / "saved.png"
    saved.write_bytes(b"an NG image as the image store keeps it")
    with InspectionLog(tmp_path / "log.sqlite") as log:
        from_file = log.record(_result(Frame(image, source="folder", ref=str(part))))
        from_saved = log.record(_result(Frame(image, source="camera")), saved_image=saved)
        from_pixels = log.record(_result(Frame(image, source="camera")))
        given = log.record(_result(Frame(image, source="cli", ref=str(part))), image_sha256="ab" * 32)
        nothing = log.record(_result(None))
        rows = {r.id: r.image_sha256 for r in log.query()}
        assert rows[from_file] == hashlib.sha256(part.read_bytes()).hexdigest()
        assert rows[from_saved] == hashlib.sha256(saved.read_bytes()).hexdigest()
        assert rows[from_pixels] == hashlib.sha256(image.tobytes()).hexdigest()
        assert rows[given] == "ab" * 32
        assert rows[nothing] == ""
        out = tmp_path / "export.csv"
        log.export_csv(out)
    with open(out, newline="", encoding="utf-8") as fh:
        exported = {int(r["id"]): r["image_sha256"] for r in csv.DictReader(fh)}
    assert exported[from_file] == rows[from_file] and exported[from_pixels] == rows[from_pixels]
