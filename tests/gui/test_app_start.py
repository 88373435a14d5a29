"""The real entry point starts, shows its window and quits on request (used to measure start-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_quit_after_start_reports_the_first_window(tmp_path):
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),
        "LLAD_HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    out = subprocess.run(
        [sys.executable, "-m", "llad_gui", "--quit-after-start"], env=env, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert 0 < report["first_window_seconds"] < 120
    assert (tmp_path / "home" / "recipes").is_dir()  # the data folder was laid out on first start
