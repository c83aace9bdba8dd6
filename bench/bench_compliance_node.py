"""Benchmark compliance through a real node over SQLite: the rules on the node path, and reports.

Measures, with a real node (SQLite file, unsealed, records appended through its
sequencer, Facts over its SQL tables, bodies decrypted on demand):

- ``rules (node path)``: records per second of the node's alert evaluator over a
  large batch of access records, as they arrive: appended through the node in
  batches of 5,000 with the evaluator paused, each batch then judged
  (``catch_up``, timed: each record as of its log index through SqlFacts,
  alerts encrypted and stored). Also "cold": the whole history judged again
  from an empty cache, as after a restart (every body decrypted and parsed).
  Beside it, the same records through MemoryFacts (the in-memory figure of
  bench_compliance.py). Target for the rules: >= 20,000 records/s.
- ``report``: latency of ``GET /v1/reports/disclosures`` and ``/accesses``
  (HTML) over real HTTP for a patient with 1,000 records (800 accesses, 200
  disclosure halves), first call (bodies decrypted) and median of 20.
  Target: < 200 ms.

Usage: ``.venv/bin/python bench/bench_compliance_node.py [--quick]``. Prints a
table and writes bench/out/compliance_node.json (machine, date, figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accord.client import generate_source_key
from accord.compliance import Entry, MemoryFacts, RuleConfig, evaluate
from accord.node.app import create_app
from accord.node.initdir import init_node
from accord.node.service import Node
from accord.records import (
    Access,
    Accessor,
    Care,
    Consent,
    Disclosure,
    Principal,
    SignedStatement,
    Statement,
)
from bench_compliance import DAY, KEY, ORGS, T0, World, _h

ROOT = Path(__file__).resolve().parents[1]
HOME = "nyu"


def _fields(view: Any) -> dict[str, Any]:
    if isinstance(view, Access):
        accessor: dict[str, Any] = {"id": view.accessor.id, "role": view.accessor.role}
        if view.accessor.name:
            accessor["name"] = view.accessor.name
        return {
            "accessor": accessor,
            "accessor_org": view.accessor_org,
            "patient": view.patient,
            "record_ref": view.record_ref.hex(),
            "action": view.action,
            "purpose": view.purpose,
            "outcome": view.outcome,
            "break_glass": view.break_glass,
        }
    if isinstance(view, Care):
        period: dict[str, int] = {"start": view.period.start}
        if view.period.end is not None:
            period["end"] = view.period.end
        return {
            "patient": view.patient,
            "clinician": {"id": view.clinician.id, "role": view.clinician.role},
            "org": view.org,
            "period": period,
        }
    if isinstance(view, Consent):
        return {
            "patient": view.patient,
            "grantee": {"kind": view.grantee.kind, "id": view.grantee.id},
            "purposes": list(view.purposes),
            "period": {"start": view.period.start, "end": view.period.end},
            "decision": view.decision,
        }
    assert isinstance(view, Disclosure)
    return {
        "half": view.half,
        "transfer_id": view.transfer_id,
        "discloser_org": view.discloser_org,
        "recipient_org": view.recipient_org,
        "patient": view.patient,
        "record_refs": [r.hex() for r in view.record_refs],
        "purpose": view.purpose,
        "description": view.description,
    }


def _statement(e: Entry, n: int) -> Statement:
    return Statement(
        schema=e.schema,
        id=f"bench-{n}",
        org=e.org,
        source="ehr",
        event_ts=e.event_ts,
        principals=(Principal("patient", e.patient or ""),),
        fields=_fields(e.view),
    )


def _append(node: Node, entries: Iterable[Entry], start: int, keys: dict[str, Any]) -> float:
    """Append the entries' statements through the node's sequencer (prepared as replication
    delivers a peer's records: no per-statement signature check); the seconds it took."""
    batch: list[SignedStatement] = []
    elapsed = 0.0

    def flush() -> None:
        nonlocal elapsed
        t = time.perf_counter()
        node._append([node.validator.prepare(s, s.statement.org) for s in batch])
        elapsed += time.perf_counter() - t
        batch.clear()

    for n, e in enumerate(entries, start):
        batch.append(keys[e.org].sign(_statement(e, n)))
        if len(batch) >= 5_000:
            flush()
    if batch:
        flush()
    return elapsed


def _node(directory: Path) -> Node:
    result = init_node(directory, HOME)
    node = Node.open(directory)
    node.start()
    node.unseal_with([p.read_text() for p in result.share_files[:2]])
    return node


def bench_rules(node: Node, n: int, patients: int, per_org: int) -> dict[str, Any]:
    world = World(7, patients, per_org)
    world.directory()  # same seeded draws as bench_compliance
    keys = {org: generate_source_key(org, "ehr") for org in ORGS}
    node.compliance.monitor.stop()  # append first, then time the evaluator alone
    evidence = list(world.evidence())
    accesses = list(world.accesses(n, 90))
    node.compliance.entries.forget()
    append_s = _append(node, evidence, 0, keys)
    node.compliance.monitor.catch_up()
    # As records arrive: batches of 5,000 appended (the listener hands their entries to the
    # cache), each judged right after; only the judging is timed.
    node_s = 0.0
    evaluated = 0
    for i in range(0, len(accesses), 5_000):
        append_s += _append(node, accesses[i : i + 5_000], len(evidence) + i, keys)
        t = time.perf_counter()
        evaluated += node.compliance.monitor.catch_up()
        node_s += time.perf_counter() - t
    fired = Counter(str(r[0]) for r in node.db.fetchall("SELECT rule FROM compliance_alerts"))
    # After a restart: every body decrypted and parsed again (cursor and alerts reset).
    with node.db.transaction() as tx:
        tx.execute("DELETE FROM compliance_alerts")
        tx.execute("DELETE FROM compliance_state")
    node.compliance.entries.forget()
    t = time.perf_counter()
    cold = node.compliance.monitor.catch_up()
    cold_s = time.perf_counter() - t
    config = RuleConfig(org=HOME, timezone="UTC")
    memory = MemoryFacts(node.compliance.directory, pseudonym_key=KEY)
    for e in evidence:
        memory.add(e)
    t = time.perf_counter()
    mem_alerts = 0
    for e in accesses:
        memory.add(e)
        mem_alerts += len(evaluate(e, memory, config))
    mem_s = time.perf_counter() - t
    return {
        "access_records": n,
        "evidence_records": len(evidence),
        "append_records_per_s": (len(evidence) + n) / append_s,
        "evaluated": evaluated,
        "node_seconds": node_s,
        "node_records_per_s": evaluated / node_s,
        "node_cold_seconds": cold_s,
        "node_cold_records_per_s": cold / cold_s,
        "memory_records_per_s": n / mem_s,
        "alerts": dict(sorted(fired.items())),
        "memory_alerts": mem_alerts,
    }


def bench_report(node: Node, records: int, repeat: int) -> dict[str, Any]:
    rng = random.Random(11)
    patient = "MPI-REPORT"
    halves = records // 5
    ts = T0 - 400 * DAY
    entries: list[Entry] = []
    for i in range(halves // 2):
        src, dst = rng.sample(ORGS, 2)
        purpose = rng.choice(("TREAT", "HPAYMT", "PUBHLTH", "HRESCH", "HLEGAL"))
        for half, org in (("export", src), ("import", dst)):
            ts += rng.randrange(1, 3_600_000)
            d = Disclosure(half, f"rep-t{i}", src, dst, patient, (_h("r", i),), purpose, "labs")
            entries.append(Entry(_h("d", i, half), org, "ehr.disclosure", ts, ts, d))
    for i in range(records - halves):
        ts += rng.randrange(1, 3_600_000)
        org = rng.choice(ORGS)

        view = Access(
            Accessor(f"u{i % 40}", "ATTPHYS", f"User {i % 40}"),
            org,
            patient,
            _h("r", i % 50),
            "R",
            "TREAT",
            "success",
            False,
        )
        entries.append(Entry(_h("a", i), org, "ehr.access", ts, ts, view))
    keys = {org: generate_source_key(org, "ehr") for org in ORGS}
    _append(node, entries, 10_000_000, keys)
    node.compliance.entries.forget()
    token = node.tokens.create("auditor")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(node), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    out: dict[str, Any] = {"patient_records": records}
    params = {"patient": patient, "from": str(T0 - 500 * DAY), "to": str(ts + DAY)}
    params["format"] = "html"
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for kind in ("disclosures", "accesses"):
            timings = []
            for _ in range(repeat + 1):
                t = time.perf_counter()
                r = client.get(f"/v1/reports/{kind}", params=params, timeout=60)
                timings.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
            out[f"{kind}_first_ms"] = timings[0] * 1000
            out[f"{kind}_ms_median"] = statistics.median(timings[1:]) * 1000
            out[f"{kind}_html_bytes"] = len(r.content)
    server.should_exit = True
    thread.join(10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (a few seconds)")
    parser.add_argument("--n", type=int, help="access records for the rules")
    args = parser.parse_args()
    n = args.n or (10_000 if args.quick else 100_000)
    patients, per_org = (1_000, 100) if args.quick else (5_000, 300)
    with tempfile.TemporaryDirectory() as tmp:
        node = _node(Path(tmp) / HOME)
        try:
            rules = bench_rules(node, n, patients, per_org)
            report = bench_report(node, 1_000, 5 if args.quick else 20)
        finally:
            node.stop()
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
        "quick": args.quick,
        "rules": rules,
        "report": report,
    }
    print(
        f"rules, node path (SQLite): {rules['node_records_per_s']:,.0f} records/s "
        f"({rules['evaluated']:,} records in {rules['node_seconds']:.1f} s; target >= 20,000/s)"
    )
    print(
        f"rules, node path, cold:    {rules['node_cold_records_per_s']:,.0f} records/s "
        "(after a restart: every body decrypted and parsed)"
    )
    print(f"rules, in memory:          {rules['memory_records_per_s']:,.0f} records/s")
    print(f"append through the node:   {rules['append_records_per_s']:,.0f} records/s")
    print(f"alerts raised (node):      {sum(rules['alerts'].values()):,}  {rules['alerts']}")
    print(f"alerts raised (in memory): {rules['memory_alerts']:,}")
    for kind in ("disclosures", "accesses"):
        print(
            f"report {kind:12} HTML, 1,000-record patient: median "
            f"{report[f'{kind}_ms_median']:.1f} ms, first {report[f'{kind}_first_ms']:.1f} ms "
            "(target < 200 ms)"
        )
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "compliance_node.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
