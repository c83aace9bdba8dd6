"""accord.quorum is pure: standard library, cryptography, rfc8785 and pure accord modules only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import accord.quorum

PACKAGE = Path(accord.quorum.__file__).parent
ALLOWED_THIRD_PARTY = {"cryptography", "rfc8785"}
ALLOWED_ACCORD = {"accord.errors", "accord.encoding", "accord.merkle", "accord.quorum"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_module_imports_only_pure_dependencies(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "accord":
            assert any(name == a or name.startswith(a + ".") for a in ALLOWED_ACCORD), name
        else:
            assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY, name


def test_every_module_declares_all() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assigned = {
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)
        }
        assert "__all__" in assigned, path.name
