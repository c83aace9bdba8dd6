"""The witness core is pure like the packages of DESIGN.md section 7: the standard library,
cryptography, rfc8785 and pure accord modules only (no fastapi, httpx, psycopg, pydantic)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.unit.test_purity import ALLOWED_THIRD_PARTY, PURE_MODULES, SRC, _imports

WITNESS_FILES = sorted((SRC / "witness").rglob("*.py"))


def test_there_are_witness_modules() -> None:
    assert len(WITNESS_FILES) >= 10


@pytest.mark.parametrize("path", WITNESS_FILES, ids=lambda p: p.name)
def test_witness_imports_only_pure_modules(path: Path) -> None:
    allowed = PURE_MODULES | {"accord.witness"}
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "accord":
            assert any(name == m or name.startswith(m + ".") for m in allowed), (
                f"witness/{path.name} imports the shell module {name}"
            )
        else:
            assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY, (
                f"witness/{path.name} imports {name}"
            )
