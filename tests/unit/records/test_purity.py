"""accord.records is pure: the standard library, cryptography, rfc8785 and pure accord modules."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

RECORDS = Path(__file__).resolve().parents[3] / "src" / "accord" / "records"
ALLOWED_THIRD_PARTY = {"cryptography", "rfc8785"}
PURE_ACCORD = ("accord.errors", "accord.encoding", "accord.merkle", "accord.records")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


@pytest.mark.parametrize("path", sorted(RECORDS.glob("*.py")), ids=lambda p: p.name)
def test_module_imports_only_pure_things(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "accord":
            assert name.startswith(PURE_ACCORD), f"{path.name} imports {name}"
        else:
            assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY, (
                f"{path.name} imports {name}"
            )


def test_every_module_declares_all() -> None:
    for path in RECORDS.glob("*.py"):
        assert "__all__" in path.read_text(encoding="utf-8"), path.name
