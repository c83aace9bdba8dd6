"""The compliance core (rules, reports, worklist) is independent of HTTP and of the database:
it imports only the standard library and pure accord modules (the FHIR mapping, which needs
fhir.resources, is apart). Importing it does not load fhir.resources either."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import accord.compliance

PKG = Path(accord.compliance.__file__).parent
CORE = sorted(p for p in PKG.glob("*.py") if not p.name.startswith("fhir"))
ALLOWED_ACCORD = ("accord.errors", "accord.encoding", "accord.records", "accord.compliance")


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_core_module_imports(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            if name.startswith("accord."):
                assert name.startswith(ALLOWED_ACCORD), f"{path.name} imports {name}"
                assert not name.startswith("accord.compliance.fhir"), f"{path.name} imports {name}"
            else:
                assert name.split(".")[0] in sys.stdlib_module_names, f"{path.name} imports {name}"


def test_importing_the_core_does_not_load_fhir_resources() -> None:
    code = "import sys, accord.compliance; print('fhir' in ' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
