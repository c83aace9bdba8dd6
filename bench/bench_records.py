"""Benchmark the node's per-statement path in accord.records (and the FHIR mapping).

Measures, on one core, statements per second for:

- ``parse+header``: SignedStatement.parse (strict JSON, complete validation,
  canonical bytes, body, record hash) + build_header (MapFn v1 keys) + leaf
  bytes: the path the node runs per statement, excluding the Ed25519 verify;
- ``+verify``: the same with ``SignedStatement.verify`` (Ed25519, cryptography);
- ``fhir``: auditevent_to_statement on the R5 PatientRead scenario resource
  (fhir.resources validation included) - the FHIR gateway's extra cost.

Usage: ``.venv/bin/python bench/bench_records.py [--quick] [--n N]``. Prints a
table and writes bench/out/records.json (machine, date, figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.compliance.fhir import auditevent_to_statement
from accord.records import SignedStatement, Statement, build_header, sign_statement

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT.parent / "shared" / "testdata" / "fhir" / "scenario"
INDEX_KEY = bytes(range(32))
LATENESS = 3_600_000
DIRECTORY = {
    "Organization/6ad683e2-8401-3bfe-9d9b-4fa263d2d92f": "pcp91959",
    "Organization/69176529-fd1f-3b3f-abce-a0a3626769eb": "mount-auburn",
}


def _access(i: int) -> dict[str, Any]:
    return {
        "v": 1,
        "schema": "ehr.access",
        "id": f"evt-{i:012d}",
        "org": "cornell",
        "source": "ehr",
        "event_ts": 1_710_000_000_000 + i,
        "principals": [{"kind": "patient", "id": f"MPI-{i % 50_000:08d}"}],
        "fields": {
            "accessor": {"id": f"staff-{i % 3_000:05d}", "role": "ATTPHYS", "name": "Dr. Example"},
            "accessor_org": "nyu",
            "patient": f"MPI-{i % 50_000:08d}",
            "record_ref": f"{i:064x}",
            "action": "R",
            "purpose": "TREAT",
            "outcome": "success",
            "break_glass": False,
        },
    }


def _disclosure(i: int) -> dict[str, Any]:
    value = _access(i)
    value["schema"] = "ehr.disclosure"
    value["fields"] = {
        "half": "export",
        "transfer_id": f"xfer-{i}",
        "discloser_org": "cornell",
        "recipient_org": "nyu",
        "patient": value["fields"]["patient"],
        "record_refs": [f"{i:064x}", f"{i + 1:064x}"],
        "purpose": "TREAT",
        "description": "discharge summary",
    }
    return value


def _bodies(make: Callable[[int], dict[str, Any]], n: int, key: Ed25519PrivateKey) -> list[bytes]:
    return [sign_statement(Statement.from_json(make(i)), key).body for i in range(n)]


def _rate(n: int, run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return n / (time.perf_counter() - start)


def _path(bodies: list[bytes], verify_key: Any = None) -> Callable[[], None]:
    def run() -> None:
        log_ts = 1_710_000_001_000
        for body in bodies:
            signed = SignedStatement.parse(body)
            if verify_key is not None:
                signed.verify(verify_key)
            header = build_header(signed, log_ts=log_ts, index_key=INDEX_KEY, lateness_ms=LATENESS)
            _ = header.leaf, signed.record_hash

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (2,000 statements)")
    parser.add_argument("--n", type=int, default=20_000, help="statements per measurement")
    args = parser.parse_args()
    n = 2_000 if args.quick else args.n
    key = Ed25519PrivateKey.generate()
    pub = key.public_key()
    fhir_resource = json.loads((SCENARIO / "r5-auditevent-patientread-treat.json").read_text())
    fhir_bodies = []
    for i in range(n):
        resource = dict(fhir_resource, id=f"r{i}")
        st = auditevent_to_statement(
            resource, org="pcp91959", source="fhir-gw", directory=DIRECTORY
        )
        fhir_bodies.append(sign_statement(st, key).body)
    results: dict[str, dict[str, float]] = {}
    for name, bodies in [
        ("ehr.access", _bodies(_access, n, key)),
        ("ehr.disclosure", _bodies(_disclosure, n, key)),
        ("ehr.access+fhir", fhir_bodies),
    ]:
        size = sum(map(len, bodies)) / len(bodies)
        results[name] = {
            "body_bytes": round(size),
            "parse+header/s": _rate(n, _path(bodies)),
            "+verify/s": _rate(n, _path(bodies, pub)),
        }

    def fhir_map() -> None:
        for i in range(n // 4):
            auditevent_to_statement(
                dict(fhir_resource, id=f"r{i}"),
                org="pcp91959",
                source="fhir-gw",
                directory=DIRECTORY,
            )

    fhir_rate = _rate(n // 4, fhir_map)
    print(f"{'statement':<18}{'body B':>8}{'parse+header/s':>16}{'+verify/s':>12}")
    for name, r in results.items():
        print(
            f"{name:<18}{r['body_bytes']:>8}{r['parse+header/s']:>16,.0f}{r['+verify/s']:>12,.0f}"
        )
    print(f"FHIR AuditEvent -> statement (fhir.resources validation included): {fhir_rate:,.0f}/s")
    out = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpu, "
        f"Python {platform.python_version()}",
        "n": n,
        "results": results,
        "fhir_auditevent_to_statement/s": fhir_rate,
    }
    target = ROOT / "bench" / "out"
    target.mkdir(parents=True, exist_ok=True)
    (target / "records.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
