"""Where the bytes of a proof bundle go: its canonical JSON split by component.

``breakdown(value)`` takes a bundle's JSON value and returns the bytes each part takes in
the canonical text (a part's own JSON value, field names and separators around it counted
in ``framing``). ``.venv/bin/python bench/bundle_breakdown.py BUNDLE.json`` prints it for a
bundle file (bodies excluded, as in the 3 KB target).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accord.encoding import canonical


def _n(value: Any) -> int:
    return len(canonical(value))


def breakdown(value: dict[str, Any]) -> dict[str, int]:
    """Bytes per component of the bundle ``value`` without its bodies."""
    value = dict(value)
    # a record with a body carries no header: without its body it is {"body": ""}; a
    # record whose body is absent (shredded) carries its header
    value["records"] = [{"body": ""} if "body" in r else r for r in value["records"]]
    parts: dict[str, int] = {
        "query + policy": _n(value["query"]) + _n(value["policy"]),
        "checkpoint note": _n(value["checkpoint"]),
        "commit leaf": _n(value["commit"]["leaf"]),
        "commit proof": _n(value["commit"]["proof"]),
        "key ids": 0,
        "map proof siblings": 0,
        "map proof leaves": 0,
        "postings": 0,
        "range proofs": 0,
        "record headers (shredded records only)": sum(
            _n(r["header"]) for r in value["records"] if "header" in r
        ),
    }
    proofs = [(t["key"], t["proof"]) for t in value["terms"]]
    if value["late"] is not None:
        proofs.append((value["late"]["key"], value["late"]["proof"]))
    for key, proof in proofs:
        parts["key ids"] += _n(key)
        parts["map proof siblings"] += _n(proof["map"]["siblings"])
        parts["map proof leaves"] += _n(proof["map"]["leaf"])
        parts["postings"] += _n(proof["postings"])
        parts["range proofs"] += _n(proof["range_proof"])
    total = _n(value)
    framing = "framing (field names, start, driver, page, empty bodies, punctuation)"
    parts[framing] = total - sum(parts.values())
    parts["total without bodies"] = total
    return parts


def main() -> None:
    value = json.loads(Path(sys.argv[1]).read_text())
    for name, n in breakdown(value).items():
        print(f"{n:7d}  {name}")


if __name__ == "__main__":
    main()
