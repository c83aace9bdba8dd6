"""accord.keys imports only the standard library, cryptography, rfc8785 and pure accord
modules (DESIGN.md section 7): never a web, database, CLI or validation framework."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import accord.keys

PACKAGE = Path(accord.keys.__file__).parent
ALLOWED_ACCORD = {"accord.errors", "accord.encoding", "accord.keys"}
ALLOWED_THIRD_PARTY = {"cryptography", "rfc8785"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def allowed(name: str) -> bool:
    top = name.split(".")[0]
    if top == "accord":
        return any(name == a or name.startswith(a + ".") for a in ALLOWED_ACCORD)
    return top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY or top == "__future__"


def test_keys_modules_import_only_pure_dependencies() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 8
    for module in modules:
        bad = sorted(n for n in imported_modules(module) if not allowed(n))
        assert bad == [], f"{module.name} imports {bad}"


def test_the_check_would_catch_a_forbidden_import() -> None:
    assert not allowed("fastapi")
    assert not allowed("psycopg.rows")
    assert not allowed("accord.node.app")
    assert allowed("cryptography.hazmat.primitives.ciphers.aead")
    assert allowed("accord.keys.shamir")
