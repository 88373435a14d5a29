"""The ``llad`` command: help everywhere, train -> infer -> eval -> categories on real files, clear errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from core.cli import build_parser, main

SUBCOMMANDS = ["train", "infer", "eval", "bench", "categories", "log", "selftest"]


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_every_subcommand_has_help(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0
    assert "usage: llad " + cmd in capsys.readouterr().out


def test_console_script_runs_without_qt_loaded():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from core.cli import main; "
            "r = main(['categories', '--recipes', '/nonexistent-llad']); print(r, 'PySide6' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0 False"


def test_parser_lists_all_subcommands():
    text = build_parser().format_help()
    for cmd in SUBCOMMANDS:
        assert cmd in text


@pytest.fixture()
def recipes(tmp_path, store, trained):
    r = store.create("tiles")
    r.save_version(trained, activate=True)
    return store.root


def test_infer_prints_one_json_line_per_image_and_reports_bad_files(recipes, generated, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for s in generated.test[:2]:
        shutil.copy(s.path, folder)
    (folder / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    maps = tmp_path / "maps"
    rc = main(["infer", "--recipes", str(recipes), "--category", "tiles", str(folder), "--save-maps", str(maps)])
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert rc == 1  # one file failed
    assert len(lines) == 3
    ok = [x for x in lines if "error" not in x]
    assert {"path", "score", "verdict", "thresholds", "ms", "mode", "version"} <= set(ok[0])
    assert ok[0]["verdict"] in {"OK", "NG", "UNCERTAIN"}
    assert lines[-1]["path"].endswith("zz_broken.png") and "damaged PNG" in lines[-1]["error"]
    assert (maps / f"{generated.test[0].path.stem}_overlay.png").is_file()


def test_eval_reports_the_metrics(recipes, generated, tmp_path, capsys):
    root = tmp_path / "gb"
    (root / "good").mkdir(parents=True)
    (root / "bad").mkdir()
    for s in [x for x in generated.test if x.label == 0][:3]:
        shutil.copy(s.path, root / "good")
    for s in [x for x in generated.test if x.label == 1][:3]:
        shutil.copy(s.path, root / "bad")
    assert main(["eval", "--recipes", str(recipes), "--category", "tiles", "--data", str(root), "--rows"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"image_auroc", "pixel_auroc", "aupro", "f1", "confusion", "counts", "ms_per_image"}
    assert report["counts"] == {"good": 3, "defective": 3, "unreadable": 0}
    assert len(report["images"]) == 6
    assert sum(report["confusion"].values()) == 6


def test_eval_warns_when_darkened_images_are_inspected_as_well_lit(recipes, generated, tmp_path, capsys):
    root = tmp_path / "gb"
    for label, samples in (
        ("good", [x for x in generated.test if x.label == 0][:2]),
        ("bad", [x for x in generated.test if x.label == 1][:2]),
    ):
        (root / label).mkdir(parents=True)
        for s in samples:
            shutil.copy(s.path, root / label)
    args = ["eval", "--recipes", str(recipes), "--category", "tiles", "--data", str(root), "--lowlight-strength", "0.7"]
    assert main(args + ["--mode", "welllit"]) == 0
    assert "warning: --mode welllit inspects the darkened test images" in capsys.readouterr().err
    assert main(args + ["--mode", "lowlight"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_categories_lists_versions(recipes, capsys):
    assert main(["categories", "--recipes", str(recipes)]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert row["category"] == "tiles" and row["active"] == "v001"


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["infer", "--recipes", str(tmp_path), "--category", "nope", "x.png"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no category named 'nope'") and "Traceback" not in err
    assert main(["train", "--recipes", str(tmp_path), "--data", str(tmp_path / "missing"), "--category", "a"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["train", "--recipes", str(tmp_path), "--data", str(tmp_path), "--category", "../x"]) == 2


def test_train_from_a_plain_folder(tmp_path, generated, capsys):
    data = tmp_path / "good"
    data.mkdir()
    for s in generated.train[:12]:
        shutil.copy(s.path, data)
    rc = main(
        [
            "train",
            "--recipes",
            str(tmp_path / "r"),
            "--data",
            str(data),
            "--category",
            "new part",
            "--preset",
            "tiny",
            "--steps",
            "2",
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["category"] == "new part" and out["version"] == "v001" and out["active"] is True
    assert (tmp_path / "r" / "new part" / "versions" / "v001" / "weights.safetensors").is_file()


def test_selftest_trains_inspects_and_runs_the_inference_graphs(capsys):
    assert main(["selftest"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["ok"] is True and result["inference_graphs"] is True
    assert result["good"]["verdict"] in ("OK", "UNCERTAIN", "NG") and result["good"]["ms"] > 0
    assert result["separates"] is True and result["defect"]["score"] > result["good"]["score"]
