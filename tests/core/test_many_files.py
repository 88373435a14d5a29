"""A folder of 10,000 files: every bad one is reported by name, the run goes on, memory stays bounded."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
from PIL import Image

from core.sources import FolderSource, LoadProblem
from core.types import Frame


def test_ten_thousand_files_with_bad_ones_among_them(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(buf, "PNG")
    good = buf.getvalue()
    bad_names = set()
    for i in range(10_000):
        name = f"img{i:05d}.png"
        if i % 10 == 7:
            (tmp_path / name).write_bytes(good[: len(good) // 2])  # truncated
            bad_names.add(name)
        elif i % 10 == 3:
            (tmp_path / name).write_bytes(b"")  # zero bytes
            bad_names.add(name)
        else:
            (tmp_path / name).write_bytes(good)
    frames = 0
    problems: list[LoadProblem] = []
    tracemalloc.start()
    try:
        with FolderSource(tmp_path) as src:
            for event in src.events():
                if isinstance(event, Frame):
                    frames += 1
                elif isinstance(event, LoadProblem):
                    problems.append(event)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert frames == 8_000
    assert {p.path.rsplit("/", 1)[-1] for p in problems} == bad_names
    assert all(p.reason for p in problems)
    assert peak < 20 * 1024 * 1024  # frames are not accumulated: a few MB, not 10,000 images
