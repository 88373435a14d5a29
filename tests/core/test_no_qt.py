"""``core`` must work without Qt: imported in a fresh interpreter where Qt cannot be imported, and no file of it
names a Qt binding in an import."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

QT_MODULES = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph")
CORE_MODULES = ("core", "core.data.io", "core.data.datasets", "core.data.lowlight", "core.backbone", "core.types")

_BLOCKED_IMPORT = textwrap.dedent(
    """
    import importlib.abc
    import sys

    BLOCKED = {blocked!r}
    attempts = []

    class NoQt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                attempts.append(name)
                raise ImportError(f"{{name}} is blocked: core must not need Qt")
            return None

    sys.meta_path.insert(0, NoQt())
    import importlib
    for module in {modules!r}:
        importlib.import_module(module)
    assert not attempts, f"tried to import {{attempts}}"
    assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED]
    print("imported", len({modules!r}), "modules without Qt")
    """
)


def test_blocker_really_blocks(repo_root: Path) -> None:
    """The harness itself: with the blocker in place, importing PySide6 fails."""
    code = _BLOCKED_IMPORT.format(blocked=QT_MODULES, modules=("PySide6.QtCore",))
    result = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "PySide6.QtCore is blocked" in result.stderr or "PySide6 is blocked" in result.stderr


def test_core_imports_with_qt_blocked(repo_root: Path) -> None:
    code = _BLOCKED_IMPORT.format(blocked=QT_MODULES, modules=CORE_MODULES)
    result = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"imported {len(CORE_MODULES)} modules without Qt" in result.stdout


def _qt_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            names = [a.value for a in node.args[:1] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        else:
            continue
        found += [f"line {node.lineno}: {n}" for n in names if n.split(".")[0] in QT_MODULES]
    return found


def test_static_check_finds_qt_imports() -> None:
    source = (
        "import os\nfrom PySide6.QtCore import QObject\nimport pyqtgraph as pg\nimportlib.import_module('PySide6')\n"
    )
    assert _qt_imports(source) == ["line 2: PySide6.QtCore", "line 3: pyqtgraph", "line 4: PySide6"]
    assert _qt_imports('"""Nothing here needs PySide6."""\nimport numpy\n') == []


def test_no_core_file_imports_qt(repo_root: Path) -> None:
    files = sorted((repo_root / "core").rglob("*.py"))
    if not files:
        pytest.fail("no Python files found under core/")
    offenders = {
        str(f.relative_to(repo_root)): hits for f in files if (hits := _qt_imports(f.read_text(encoding="utf-8")))
    }
    assert offenders == {}
