"""``benchmarks/soak.py`` end to end at a tiny scale: it trains, inspects, logs and keeps images, and its own
checks pass (every inspection is one log row, the log is intact, the image store stays within its bound).

The real soak (20,000 inspections, and ``soak_gui.py``) is a benchmark run by hand; see benchmarks/README.md.
One torch thread keeps this quick on a busy machine, where two threads fighting another process for two cores
can be ten times slower.
"""

from __future__ import annotations

import json
import subprocess
import sys


def test_soak_script_small_run_logs_every_inspection(tmp_path, repo_root, parts_root):
    out = tmp_path / "soak.json"
    cmd = [
        sys.executable,
        str(repo_root / "benchmarks" / "soak.py"),
        "--count", "60",
        "--train-images", "12",
        "--steps", "3",
        "--threads", "1",
        "--home", str(tmp_path / "home"),
        "--data", str(parts_root),
        "--json", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=repo_root)
    assert proc.returncode == 0, f"soak failed:\n{proc.stderr[-3000:]}"
    summary = json.loads(out.read_text())
    assert summary["ok"] and summary["failures"] == []
    assert summary["inspections"] == 60
    assert summary["log"]["rows_added"] == summary["inspections"] == summary["log"]["rows_after"]
    assert summary["log"]["integrity"] == "ok"
    assert summary["images"]["files_on_disk"] <= summary["images"]["max_files"]
    assert sum(summary["verdicts"].values()) == 60
    assert "| core" in proc.stdout, "the markdown row is printed"
