"""The modules of ``core`` import one another in one direction only: no import cycle, not even through an import
inside a function, which hides a cycle from Python until that function runs.

The source is parsed (``ast``), not imported, so every import statement counts wherever it stands. A package's
``__init__`` is its own node; importing ``core.data.io`` is not counted as importing ``core.data``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"


def module_name(path: Path, root: Path = CORE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str], root: Path = CORE) -> set[str]:
    """The modules of ``modules`` that ``path`` imports anywhere in its body (relative imports resolved)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from core.data import io`` imports the module core.data.io; ``from core.types import Frame`` core.types
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # ``import core.model.net as n`` -> core.model.net
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path = CORE) -> dict[str, set[str]]:
    """Module -> the modules of the same package tree it imports."""
    files = sorted(root.rglob("*.py"))
    modules = {module_name(p, root) for p in files}
    return {module_name(p, root): imported_modules(p, modules, root) for p in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a closed path ``[a, b, ..., a]``, or None when the graph is acyclic."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_core_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 30 and "core.checkpoint" in graph["core.recipes"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in core: " + " -> ".join(cycle)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


@pytest.mark.parametrize(
    "b_source",
    [
        "import pkg.a\n",
        "def later():\n    from pkg.a import thing\n",  # hidden in a function
        "def later():\n    from . import a\n",  # relative, in a function
        "from pkg.sub.c import x\n",  # through a sub-package: c imports a
    ],
)
def test_a_cycle_is_found_however_it_is_written(tmp_path, b_source):
    root = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import other\n",
            "pkg/b.py": b_source,
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "from ..a import thing\n",
        },
    )
    cycle = find_cycle(import_graph(root))
    assert cycle is not None and cycle[0] == cycle[-1] and {"pkg.a", "pkg.b"} <= set(cycle)


def test_one_way_imports_are_no_cycle(tmp_path):
    root = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import thing\n",  # a package re-exporting its module
            "pkg/a.py": "import json\nfrom pkg import b\n\ndef f():\n    from pkg.sub import c\n",
            "pkg/b.py": "from pkg.sub.c import x\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "import os\n",
        },
    )
    graph = import_graph(root)
    assert graph["pkg.a"] == {"pkg.b", "pkg.sub.c"} and graph["pkg.b"] == {"pkg.sub.c"}
    assert find_cycle(graph) is None
