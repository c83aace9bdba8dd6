"""Benchmark what body encryption costs at ingest: the same workload, encryption on and off.

Two `accord serve` processes (SQLite) on this machine, identical but for ``[keys]
encrypt_bodies`` (``true``, the default: every body AES-256-GCM under its patient's data
key; ``false``: bodies stored in the clear, a switch that exists for this benchmark only).
One source key is registered at both; the same signed ``ehr.access`` statements are
posted over HTTP to each, in batches of 500, one batch in flight. After a warm-up (one
record per patient: every data key made once), the runs are interleaved round by round
(on, off, then off, on, ...) so that drift of a shared machine hits both alike.

Measured per mode: statements per second (wall time of the posts), and the node process's
CPU time per statement (from /proc; steadier on a shared machine). Reported: each mode's
rate over all rounds and the median of the rounds, and the ratios (target: encryption on
at most 10% slower, i.e. rate ratio >= 0.90).

Usage: ``.venv/bin/python bench/bench_encryption.py [--quick] [--per-round N]
[--rounds R] [--patients P] [--batch 500]``. Prints a table and writes
bench/out/encryption.json (it does not edit BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accord.client import NodeClient, generate_source_key
from accord.node.config import NodeConfig
from accord.records import SignedStatement
from accord.store.database import Database
from common import ServedNode, access_statement, machine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "encryption.json"
ORG = "cornell"
MODES = ("on", "off")


def encryption_node(directory: Path, encrypt: bool) -> ServedNode:
    """A node with body encryption on or off (`[keys] encrypt_bodies`, for benchmarks only)
    and a checkpoint every second."""

    def configure(config: NodeConfig) -> NodeConfig:
        keys = config.keys.model_copy(update={"encrypt_bodies": encrypt})
        policy = config.policy.model_copy(update={"checkpoint_interval_ms": 1000})
        return config.model_copy(update={"keys": keys, "policy": policy})

    return ServedNode(directory, ORG, roles=("admin", "source"), configure=configure)


def post_all(client: NodeClient, statements: list[SignedStatement], batch: int) -> None:
    for i in range(0, len(statements), batch):
        result = client.submit(statements[i : i + batch])
        if result["appended"] != len(statements[i : i + batch]):
            raise RuntimeError(f"expected every statement appended, got {result['appended']}")


def encrypt_cost_us(bodies: list[SignedStatement], patients: int) -> float:
    """Microseconds of one core per body for the node's encryption step alone (data key
    from the cache, AES-256-GCM, the record hash checked), in this process."""
    import secrets

    from accord.keys import DataKeys, MemoryDataKeyStorage

    kek = secrets.token_bytes(32)
    keys = DataKeys(MemoryDataKeyStorage(), lambda: kek, cache_size=4096)
    principals = [secrets.token_bytes(32) for _ in range(patients)]
    for p in principals:
        keys.current(p)
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        for i, b in enumerate(bodies):
            keys.encrypt(principals[i % patients], b.record_hash, b.body)
        best = min(best, time.process_time() - t0)
    return 1e6 * best / len(bodies)


def run(per_round: int, rounds: int, patients: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="accord-bench-enc-") as tmp:
        nodes = {
            "on": encryption_node(Path(tmp) / "on", encrypt=True),
            "off": encryption_node(Path(tmp) / "off", encrypt=False),
        }
        try:
            key = generate_source_key(ORG, "ehr")
            for node in nodes.values():
                with node.client("admin") as admin:
                    admin.add_source("ehr", key.public_raw)
            now = int(time.time() * 1000)
            print(f"signing {patients + per_round * rounds:,} statements...", file=sys.stderr)
            warm = [key.sign(access_statement(ORG, i, now, patients)) for i in range(patients)]
            work = [
                [
                    key.sign(access_statement(ORG, patients + r * per_round + i, now, patients))
                    for i in range(per_round)
                ]
                for r in range(rounds)
            ]
            clients = {mode: node.client("source") for mode, node in nodes.items()}
            for mode in MODES:
                post_all(clients[mode], warm, batch)
            seconds: dict[str, list[float]] = {m: [] for m in MODES}
            cpu: dict[str, list[float]] = {m: [] for m in MODES}
            for r in range(rounds):
                order = MODES if r % 2 == 0 else tuple(reversed(MODES))
                for mode in order:
                    cpu0 = nodes[mode].cpu_seconds()
                    t0 = time.perf_counter()
                    post_all(clients[mode], work[r], batch)
                    seconds[mode].append(time.perf_counter() - t0)
                    cpu[mode].append(nodes[mode].cpu_seconds() - cpu0)
                line = ", ".join(f"{m} {per_round / seconds[m][-1]:,.0f}/s" for m in MODES)
                print(f"round {r + 1}/{rounds}: {line}", file=sys.stderr)
            for c in clients.values():
                c.close()
            stored = {}
            for mode, node in nodes.items():
                db = Database.open(str(node.directory / "accord.db"))
                try:
                    row = db.fetchone("SELECT COUNT(*), SUM(LENGTH(blob)) FROM record_bodies")
                finally:
                    db.close()
                assert row is not None
                stored[mode] = {"bodies": int(row[0]), "bytes": int(row[1])}
        finally:
            for node in nodes.values():
                node.stop()
    total = per_round * rounds
    encrypt_us = encrypt_cost_us(work[0], patients)
    out: dict[str, Any] = {
        "per_round": per_round,
        "rounds": rounds,
        "patients": patients,
        "batch": batch,
        "stored": stored,
    }
    for mode in MODES:
        out[mode] = {
            "per_s": total / sum(seconds[mode]),
            "median_round_per_s": statistics.median(per_round / s for s in seconds[mode]),
            "cpu_ms_per_statement": 1000 * sum(cpu[mode]) / total,
            "round_seconds": [round(s, 3) for s in seconds[mode]],
        }
    out["rate_ratio_on_over_off"] = out["on"]["per_s"] / out["off"]["per_s"]
    out["median_rate_ratio"] = out["on"]["median_round_per_s"] / out["off"]["median_round_per_s"]
    out["cpu_ratio_on_over_off"] = (
        out["on"]["cpu_ms_per_statement"] / out["off"]["cpu_ms_per_statement"]
    )
    out["slowdown_pct"] = 100 * (1 - out["rate_ratio_on_over_off"])
    out["encrypt_us_per_body"] = encrypt_us
    out["encrypt_share_of_node_cpu_pct"] = (
        100 * encrypt_us / (1000 * out["off"]["cpu_ms_per_statement"])
    )
    out["target_met"] = out["rate_ratio_on_over_off"] >= 0.90
    return out


def table(r: dict[str, Any]) -> str:
    rows = [
        "| encryption | statements/s (all rounds) | median round | node CPU per statement |",
        "|---|---:|---:|---:|",
    ]
    for mode in MODES:
        m = r[mode]
        rows.append(
            f"| {mode} | {m['per_s']:,.0f} | {m['median_round_per_s']:,.0f} | "
            f"{m['cpu_ms_per_statement']:.3f} ms |"
        )
    rows.append(
        f"\nrate on/off {r['rate_ratio_on_over_off']:.3f} (median rounds "
        f"{r['median_rate_ratio']:.3f}), CPU on/off {r['cpu_ratio_on_over_off']:.3f}: "
        f"encryption on is {abs(r['slowdown_pct']):.1f}% "
        f"{'slower' if r['slowdown_pct'] >= 0 else 'faster'} in wall time "
        f"(target <= 10%: {'met' if r['target_met'] else 'NOT met'}); the encryption step "
        f"alone: {r['encrypt_us_per_body']:.1f} us per body, "
        f"{r['encrypt_share_of_node_cpu_pct']:.1f}% of the node's CPU per statement"
    )
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (2 x 2,000)")
    parser.add_argument("--per-round", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--patients", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    per_round, rounds = (2_000, 2) if args.quick else (args.per_round, args.rounds)
    patients = min(args.patients, 200) if args.quick else args.patients
    result = run(per_round, rounds, patients, args.batch)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "result": result,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(table(result))
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
