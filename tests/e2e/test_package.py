"""The PyInstaller bundle works on its own: built from packaging/llad.spec (or taken from ``LLAD_PACKAGE_DIST``),
copied outside the source tree and run with no Python environment: no PYTHONPATH, VIRTUAL_ENV or PYTHONHOME, no
venv on PATH, no library path, and a temporary HOME/LLAD_HOME/TMPDIR, so nothing is read from or left in the
user's folders.

Run by ``make test-package`` (marker ``package``; not in the default suite: a build takes many minutes). To test a
bundle built just before, ``LLAD_PACKAGE_DIST=dist/llad make test-package``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

pytestmark = [pytest.mark.package, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "packaging" / "llad.spec"
WITH_CUDA = os.environ.get("LLAD_BUNDLE_CUDA", "") == "1"
PACKAGING = REPO / "packaging"
BUILD_INPUTS = [REPO / "pyproject.toml", SPEC, PACKAGING / "build.sh", PACKAGING / "bundle_filter.py"]
BUILD_INPUTS += [PACKAGING / "llad_main.py", PACKAGING / "rthooks"]
APP_SOURCES = ["core", "llad_gui", "resources"]

# Left out on purpose (packaging/README.md says why); finding one means an exclusion stopped working.
MUST_BE_ABSENT = ["triton", "scipy", "skimage", "hypothesis/", "pytest", "_pytest", "matplotlib", "tkinter"]
MUST_BE_ABSENT += ["torch/bin/protoc", "PySide6/QtQml", "PySide6/QtQuick", "PySide6/QtNetwork"]
CPU_ONLY_ABSENT = ["nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9", "torch/lib/libtorch_cuda_linalg.so"]


def _newest(paths: list[Path]) -> tuple[float, Path | None]:
    newest, which = 0.0, None
    for p in paths:
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
        for f in files:
            if f.stat().st_mtime > newest:
                newest, which = f.stat().st_mtime, f
    return newest, which


def say(config, text: str) -> None:
    """Measurements go to the terminal even without -s: they are what `make test-package` is run for."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(text)


def _build(config, dist: Path, work: Path) -> Path:
    """packaging/build.sh (what `make package` runs), with output and work folders in tmp."""
    env = {**os.environ, "LLAD_DIST": str(dist), "LLAD_WORK": str(work), "LLAD_PYTHON": sys.executable}
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["bash", str(REPO / "packaging" / "build.sh")], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    say(config, f"\nbuild (packaging/build.sh): {time.perf_counter() - t0:.0f} s")
    shutil.rmtree(work, ignore_errors=True)
    return dist / "llad"


@pytest.fixture(scope="module")
def built_bundle(tmp_path_factory, pytestconfig):
    """dist/llad from LLAD_PACKAGE_DIST when it is newer than the packaging files, else a fresh build in tmp
    (removed afterwards: 3.5 GB)."""
    given = os.environ.get("LLAD_PACKAGE_DIST")
    if not given:
        base = tmp_path_factory.mktemp("pyinstaller")
        yield _build(pytestconfig, base / "dist", base / "build")
        shutil.rmtree(base, ignore_errors=True)
        return
    bundle = Path(given).resolve()
    assert (bundle / "llad").is_file(), f"LLAD_PACKAGE_DIST={given} holds no executable 'llad'"
    built = (bundle / "llad").stat().st_mtime
    newest, which = _newest(BUILD_INPUTS)
    assert built >= newest, f"{bundle} is older than {which}: rebuild it (make package) or unset LLAD_PACKAGE_DIST"
    newest, which = _newest([REPO / s for s in APP_SOURCES])
    if built < newest:
        warnings.warn(
            f"{bundle} is older than {which}: it tests the packaging, not the newest application code", stacklevel=2
        )
    yield bundle


@pytest.fixture(scope="module")
def bundle(built_bundle, tmp_path_factory):
    """A copy of the bundle outside the source tree, so nothing can be found through the checkout."""
    base = tmp_path_factory.mktemp("copied")
    shutil.copytree(built_bundle, base / "llad", symlinks=True)
    yield base / "llad"
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def clean_env(tmp_path) -> dict[str, str]:
    """The environment of a machine without Python: nothing pointing at the venv or the checkout."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP", "LD_LIBRARY_PATH", "LD_PRELOAD"}
    drop |= {"QT_PLUGIN_PATH", "QT_QPA_PLATFORM_PLUGIN_PATH", "CONDA_PREFIX"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    venv, repo = str(Path(sys.prefix).resolve()), str(REPO)
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith((venv, repo, sys.prefix))
    )
    home = tmp_path / "home"
    for sub in ("", ".config", ".cache", ".local/share", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local/share"),
        TMPDIR=str(home / "tmp"),
        LLAD_HOME=str(tmp_path),
        QT_QPA_PLATFORM="offscreen",
    )
    return env


def run_bundle(bundle: Path, args: list[str], env: dict, cwd: Path, timeout: float = 1200):
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(bundle / "llad"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc, time.perf_counter() - t0


def test_layout(bundle):
    internal = bundle / "_internal"
    assert os.access(bundle / "llad", os.X_OK)
    for name in ("icons/llad.svg", "icons/llad.png", "styles/app.qss"):
        assert (internal / "resources" / name).is_file(), f"resources/{name} missing from the bundle"

    from core.backbone import BACKBONES, DEFAULT_BACKBONE

    spec = BACKBONES[DEFAULT_BACKBONE]
    weights = internal / spec.package / spec.filename
    assert weights.is_file(), f"backbone weights not at {weights}"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == spec.sha256

    for name in ("_C_stable.so", "image_stable.so"):  # torchvision's operators, loaded by path
        assert (internal / "torchvision" / name).is_file(), f"torchvision/{name} missing"

    platforms = internal / "PySide6" / "Qt" / "plugins" / "platforms"
    for plugin in ("libqoffscreen.so", "libqxcb.so", "libqminimal.so"):
        assert (platforms / plugin).is_file(), f"Qt platform plugin {plugin} missing"

    absent = MUST_BE_ABSENT + ([] if WITH_CUDA else CPU_ONLY_ABSENT)
    found = [name for name in absent if list(internal.glob(name + "*"))]
    assert not found, f"excluded parts are in the bundle: {found}"


def test_every_application_module_is_bundled(bundle):
    """The main window imports its pages by name, so the import scan alone would miss them."""
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(bundle / "llad"))
    pyz = archive.open_embedded_archive(next(name for name in archive.toc if name.endswith(".pyz")))
    bundled = set(pyz.toc)
    expected = set()
    for package in ("core", "llad_gui"):
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            expected.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    missing = sorted(expected - bundled)
    assert not missing, f"modules missing from the bundle: {missing}"


# Linked but provided by the user's machine, never bundled: the NVIDIA driver (only torch's NVRTC wrapper, for GPU
# kernels) and GTK (only Qt's GTK theme plugin, which loads on a GTK desktop).
PROVIDED_BY_THE_SYSTEM = ("libcuda.so.1", "libgtk-3.so.0", "libgdk-3.so.0")


def test_no_shared_library_is_missing(bundle):
    """Every ELF file in the bundle finds what it links against, in the bundle or in the system's base libraries.

    _internal is on the library path as the bootloader puts it; torch/lib too, because torch's extensions
    (torchvision's operators) link libtorch without a search path and rely on torch having loaded it first."""
    internal = bundle / "_internal"
    env = {"LD_LIBRARY_PATH": f"{internal}:{internal / 'torch' / 'lib'}", "PATH": "/usr/bin:/bin"}
    problems = []
    for path in sorted(internal.rglob("*.so*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as f:
            if f.read(4) != b"\x7fELF":
                continue
        out = subprocess.run(["ldd", str(path)], env=env, capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if "not found" in line and line.split()[0] not in PROVIDED_BY_THE_SYSTEM:
                problems.append(f"{path.relative_to(internal)}: {line.strip()}")
    assert not problems, "unresolved libraries (packaging/build.sh installs the X11 ones):\n" + "\n".join(problems)


def _loaded_libraries(debug_prefix: Path) -> set[str]:
    libs = set()
    for log in debug_prefix.parent.glob(debug_prefix.name + ".*"):
        libs |= set(re.findall(r"calling init: (\S+)", log.read_text(errors="replace")))
    return libs


def test_selftest_from_a_copy(bundle, clean_env, tmp_path, pytestconfig):
    debug = tmp_path / "ld-debug"
    env = {**clean_env, "LD_DEBUG": "files", "LD_DEBUG_OUTPUT": str(debug)}
    proc, seconds = run_bundle(bundle, ["--selftest"], env, tmp_path)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr[-4000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    say(pytestconfig, f"\nselftest from the copied bundle: {seconds:.1f} s wall\n{json.dumps(result)}")
    assert result["ok"] is True
    assert result["good"]["verdict"] in ("OK", "UNCERTAIN", "NG")
    assert result["inference_graphs"] is True  # torch.jit traces and freezes inside the bundle too
    # the camera back-ends' libraries came along (packaging/hooks/, pypylon's contrib hook)
    assert result["cameras"]["basler"]["loaded"] and result["cameras"]["genicam"]["loaded"], result["cameras"]
    assert result["cameras"]["basler"]["version"] and result["cameras"]["genicam"]["version"], result["cameras"]

    # Every library came from the copy or from the system's own folders, never the venv, the checkout or a CUDA
    # installation that a user's machine would not have.
    loaded = _loaded_libraries(debug)
    assert any(lib.startswith(str(bundle)) for lib in loaded), "LD_DEBUG recorded nothing"
    system = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/")
    foreign = sorted(lib for lib in loaded if not lib.startswith((str(bundle), *system)))
    assert not foreign, f"libraries loaded from outside the bundle: {foreign}"
    # The self-test trains in a temporary folder and removes it; torch's compile cache folder is created on import.
    left = [p.name for p in (tmp_path / "home" / "tmp").iterdir() if not p.name.startswith("torchinductor_")]
    assert not left, f"left in TMPDIR: {left}"


def test_cli_categories_from_a_copy(bundle, clean_env, tmp_path, pytestconfig):
    from core.recipes import RecipeStore

    recipes = tmp_path / "recipes"
    RecipeStore(recipes).create("tiles")
    proc, seconds = run_bundle(bundle, ["categories", "--recipes", str(recipes)], clean_env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [r["category"] for r in rows] == ["tiles"]
    assert rows[0]["versions"] == []
    say(pytestconfig, f"\nllad categories: {seconds:.1f} s")


def test_executable_runs_core_modules_like_python_m(bundle, clean_env, tmp_path):
    """core.bench starts its children as `sys.executable -m core.bench`; in the bundle that is `llad -m ...`."""
    proc, _ = run_bundle(bundle, ["-m", "core.cli", "--version"], clean_env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    from core import __version__

    assert proc.stdout.strip() == f"llad {__version__}"


QUIT_FLAGS = ("--quit-after-start", "--quit-after-show", "--exit-after-start")


def test_gui_cold_start_to_first_window(bundle, clean_env, tmp_path, pytestconfig):
    proc, _ = run_bundle(bundle, ["--help"], clean_env, tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    flag = next((f for f in QUIT_FLAGS if f in proc.stdout), None)
    if flag is None:
        pytest.skip("llad_gui/__main__.py offers no flag to quit after the first window (--quit-after-start)")
    proc, seconds = run_bundle(bundle, [flag], clean_env, tmp_path, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr[-4000:]}"
    say(pytestconfig, f"\ncold start to first window (offscreen): {seconds:.1f} s")
