"""DESIGN.md section 7: the pure packages import only the standard library, cryptography,
rfc8785 and other pure accord modules; never a shell package. Every module declares __all__."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import accord

SRC = Path(accord.__file__).parent
PURE_PACKAGES = ("merkle", "note", "records", "index", "quorum", "verify", "witness")
PURE_MODULES = {"accord.errors", "accord.encoding"} | {f"accord.{p}" for p in PURE_PACKAGES}
ALLOWED_THIRD_PARTY = {"cryptography", "rfc8785"}


def _pure_files() -> list[Path]:
    files = [SRC / "errors.py", SRC / "encoding.py"]
    for pkg in PURE_PACKAGES:
        files += sorted((SRC / pkg).rglob("*.py"))
    return files


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_imports(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "accord":
            assert any(name == m or name.startswith(m + ".") for m in PURE_MODULES), (
                f"{path.relative_to(SRC)} imports the shell module {name}"
            )
        else:
            assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY, (
                f"{path.relative_to(SRC)} imports {name}"
            )


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(SRC.rglob("*.py")) if p.name != "__main__.py"],
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_every_module_declares_all(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if not tree.body or (path.name == "__init__.py" and len(tree.body) <= 2):
        return  # a package marker with only a docstring (and maybe a version)
    assigned = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    }
    assert "__all__" in assigned, f"{path.relative_to(SRC)} has no __all__"
