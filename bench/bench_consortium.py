"""Benchmark quorum replication: three `accord serve` processes on this machine.

Each org's source submits signed ``ehr.access`` statements to its own node in batches
of 500; every patient's trust set is the consortium default, all three orgs under the
majority model (2 of 3). A record is final when its originating node holds the
certificate (its own receipt plus one other member's). After a warm-up (one record
per patient, so every node has made its data key for every patient; with the default
``--workload explained`` that record is the care relationship that explains the
patient's accesses, as in bench_node.py, so no alert is raised), each org keeps
``--in-flight`` batches in the pipeline (closed loop: a batch is submitted when an
earlier one of that lane is final). Measured:

- final records per second: records / (last one final - first submission);
- time to final per record: when its originating node stored the certificate
  (``certificates.final_ms``) minus when its batch was submitted; p50 and p99;
- the CPU time the three node processes used per final record (robust on a shared
  machine: 2 cores need at most 1 ms per record for 2,000 records per second);
- the Ed25519 verify rate of one core in the same run (``cryptography``), to read the
  figures against: every record costs three statement verifications (its node and
  two members) plus receipt-batch checks.

Usage: ``.venv/bin/python bench/bench_consortium.py [--quick] [--records N]
[--batch 500] [--origins 3] [--in-flight 2] [--patients 1000]
[--workload explained|unexplained]``. Prints a table,
writes bench/out/consortium.json and, for full runs, the "Consortium" section of
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from accord.client import NodeClient, SourceKey, generate_source_key
from accord.node.config import load_config
from accord.node.founding import new_consortium
from accord.node.schema import NODE_STEPS
from accord.node.tokens import Tokens
from accord.records import SignedStatement
from accord.store.database import Database
from common import (
    access_statement,
    access_time,
    care_statement,
    ed25519_verify_rate,
    machine,
    percentile,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "consortium.json"
BENCHMARKS = ROOT / "BENCHMARKS.md"
ACCORD = str(Path(sys.executable).parent / "accord")
ORGS = ("cornell", "nyu", "mskcc")


class Cluster:
    """Three node processes founded with the library, served with `accord serve`."""

    def __init__(self, directory: Path) -> None:
        import random
        import socket

        while True:
            base = random.randint(20_000, 60_000)
            try:
                for i in range(len(ORGS)):
                    with socket.socket() as s:
                        s.bind(("127.0.0.1", base + i))
                break
            except OSError:
                continue
        self.founded = new_consortium(
            directory / "c", [(o, o.upper()) for o in ORGS], consortium_id="bench", base_port=base
        )
        self.tokens: dict[str, dict[str, str]] = {}
        for org, result in self.founded.nodes.items():
            config = load_config(result.directory)
            db = Database.open(config.database_url(result.directory))
            db.migrate("node", NODE_STEPS)
            tokens = Tokens(db)
            self.tokens[org] = {
                r: tokens.create(r, "bench") for r in ("admin", "source", "auditor")
            }
            db.close()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for org, result in self.founded.nodes.items():
            log = (result.directory / "serve.log").open("ab")
            self.procs[org] = subprocess.Popen(
                [
                    ACCORD,
                    "serve",
                    str(result.directory),
                    "--unseal-dir",
                    str(result.directory / "shares"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for org in ORGS:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(self.url(org) + "/v1/health", timeout=2).json()["sealed"] is False:
                        break
                except (httpx.HTTPError, ValueError, FileNotFoundError, KeyError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{org} did not start")
                time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the three node processes."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for proc in self.procs.values():
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def url(self, org: str) -> str:
        return str(
            json.loads((self.founded.nodes[org].directory / "serve.json").read_text())["url"]
        )

    def client(self, org: str, role: str) -> NodeClient:
        return NodeClient(self.url(org), self.tokens[org][role], timeout=300)

    def db_path(self, org: str) -> Path:
        return self.founded.nodes[org].directory / "accord.db"

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def final_times(db: Path, records: list[bytes]) -> dict[bytes, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        out: dict[bytes, int] = {}
        for i in range(0, len(records), 500):
            chunk = records[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for record, ms in conn.execute(
                f"SELECT record, final_ms FROM certificates WHERE record IN ({marks})",  # noqa: S608
                chunk,
            ):
                out[bytes(record)] = int(ms)
        return out
    finally:
        conn.close()


def count_final(db: Path, org: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        row = conn.execute("SELECT COUNT(*) FROM certificates WHERE org = ?", (org,)).fetchone()
        return int(row[0])
    finally:
        conn.close()


def wait_count(db: Path, org: str, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while count_final(db, org) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{org}: fewer than {n} records final after {timeout} s")
        time.sleep(0.2)


def wait_final(db: Path, records: list[bytes], timeout: float = 600) -> None:
    """Poll the originating node's database until every one of ``records`` is final."""
    deadline = time.monotonic() + timeout
    while len(final_times(db, records)) < len(records):
        if time.monotonic() > deadline:
            raise RuntimeError(f"records not final after {timeout} s")
        time.sleep(0.02)


def statements(
    org: str, key: SourceKey, first: int, n: int, patients: int, workload: str
) -> list[SignedStatement]:
    """Accesses ``first .. first + n`` at ``org`` (bench_node.py's workloads: "explained"
    has practitioner ``p{patient % 300}`` read the patient's records in working hours,
    "unexplained" 300 practitioners after hours with no care relationship)."""
    start = access_time(workload)
    out = []
    for i in range(first, first + n):
        p = i % patients
        accessor = f"Practitioner/p{p % 300}" if workload == "explained" else None
        out.append(key.sign(access_statement(org, i, start + i, patients, accessor=accessor)))
    return out


def warm_up(org: str, key: SourceKey, patients: int, workload: str) -> list[SignedStatement]:
    """One record per patient (each node makes its data key): a care relationship of the
    patient's practitioner for the explained workload, an access for the other."""
    if workload != "explained":
        return statements(org, key, 0, patients, patients, workload)
    start = access_time(workload) - 30 * 86_400_000
    return [
        key.sign(care_statement(org, f"MPI-{p:06d}", f"Practitioner/p{p % 300}", start))
        for p in range(patients)
    ]


def run(
    records: int, batch: int, origins: int, in_flight: int, patients: int, workload: str
) -> dict[str, Any]:
    verify_rate = ed25519_verify_rate()
    with tempfile.TemporaryDirectory(prefix="accord-bench-") as tmp:
        cluster = Cluster(Path(tmp))
        cluster.start()
        try:
            senders = ORGS[:origins]
            keys = {}
            for org in senders:
                keys[org] = generate_source_key(org, "ehr")
                with cluster.client(org, "admin") as admin:
                    admin.add_source("ehr", keys[org].public_raw)
            time.sleep(2.0)  # let the registrations reach every member
            # Warm-up (not timed): one record per patient at each origin, so that every
            # node has made its data key for every patient (a one-off cost per patient).
            for org in senders:
                warm = warm_up(org, keys[org], patients, workload)
                with cluster.client(org, "source") as client:
                    for i in range(0, len(warm), batch):
                        client.submit(warm[i : i + batch])
            for org in senders:
                wait_count(cluster.db_path(org), org, patients, timeout=600)
            per_org = records // len(senders)
            signed: dict[str, list[list[SignedStatement]]] = {}
            for org in senders:
                items = statements(org, keys[org], patients, per_org, patients, workload)
                signed[org] = [items[i : i + batch] for i in range(0, len(items), batch)]
            submitted: dict[bytes, tuple[str, int]] = {}  # record -> (origin, submit ms)
            lock = threading.Lock()

            def submit(org: str, batches: list[list[SignedStatement]]) -> None:
                """Closed loop: submit a batch, wait until it is final, submit the next."""
                with cluster.client(org, "source") as client:
                    for b in batches:
                        t = int(time.time() * 1000)
                        result = client.submit(b)
                        hashes = [bytes.fromhex(r["record"]) for r in result["results"]]
                        with lock:
                            for h in hashes:
                                submitted[h] = (org, t)
                        wait_final(cluster.db_path(org), hashes)

            print("timed run starts", file=sys.stderr, flush=True)
            cpu_before = cluster.cpu_seconds()
            start = time.time()
            jobs = []
            with ThreadPoolExecutor(max_workers=len(senders) * in_flight) as pool:
                for org in senders:
                    lanes = [signed[org][k::in_flight] for k in range(in_flight)]
                    jobs += [pool.submit(submit, org, lane) for lane in lanes]
                for j in jobs:
                    j.result()
            submit_s = time.time() - start
            cpu_used = cluster.cpu_seconds() - cpu_before
            times: dict[bytes, int] = {}
            for org in senders:
                mine = [r for r, (o, _) in submitted.items() if o == org]
                times.update(final_times(cluster.db_path(org), mine))
        finally:
            cluster.stop()
    lat = [times[r] - t for r, (_, t) in submitted.items() if r in times]
    elapsed = max(times.values()) / 1000 - start
    return {
        "records": len(submitted),
        "final": len(times),
        "batch": batch,
        "origins": origins,
        "in_flight_per_origin": in_flight,
        "patients": patients,
        "workload": workload,
        "elapsed_seconds": round(elapsed, 2),
        "run_seconds": round(submit_s, 2),
        "final_per_s": len(times) / elapsed,
        "node_cpu_ms_per_record": 1000 * cpu_used / len(times),
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": max(lat),
        "ed25519_verify_per_s": verify_rate,
    }


def table(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            "| records | batch | origins | final/s | p50 to final | p99 to final | "
            "node CPU per record | Ed25519 verify/s (1 core) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {r['final']:,} | {r['batch']} | {r['origins']} | {r['final_per_s']:,.0f} | "
            f"{r['p50_ms']:,.0f} ms | {r['p99_ms']:,.0f} ms | "
            f"{r['node_cpu_ms_per_record']:.2f} ms | {r['ed25519_verify_per_s']:,.0f} |",
        ]
    )


def write_benchmarks_md(report: dict[str, Any]) -> None:
    begin, end = "<!-- bench_consortium:begin -->", "<!-- bench_consortium:end -->"
    m = report["machine"]
    r = report["result"]
    section = (
        "## Consortium: quorum replication (bench/bench_consortium.py)\n\n"
        f"Run {report['date']} on {m['cpu']}, {m['nproc']} CPUs, {m['memory_gib']} GiB, "
        f"{m['platform']}, Python {m['python']}.\n"
        f"Three `accord serve` processes (SQLite) on this machine; each of {r['origins']} "
        f"orgs submits signed ehr.access statements to its own node in batches of "
        f"{r['batch']} ({r['in_flight_per_origin']} in flight per org), about "
        f"{r['patients']:,} patients; every patient's trust "
        "set is all three orgs (majority, 2 of 3). Final = the originating node stored the "
        "certificate. The machine may be shared with other work: the node CPU time per "
        "record is the steadier figure; "
        f"{m['nproc']} cores can finalize at most about "
        f"{m['nproc'] * 1000 / r['node_cpu_ms_per_record']:,.0f} records per second at that "
        "cost (target: 2,000).\n\n" + table(r) + "\n"
    )
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    block = f"{begin}\n{section}{end}\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    BENCHMARKS.write_text(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (6,000 records)")
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--origins", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--in-flight", type=int, default=2)
    parser.add_argument(
        "--workload",
        choices=("explained", "unexplained"),
        default="explained",
        help="as bench_node.py's: explained (care relationships, working hours: no alerts) "
        "or unexplained (two alerts per access at each node)",
    )
    parser.add_argument(
        "--patients",
        type=int,
        default=1000,
        help="distinct patients (each costs a data key at every node on first sight)",
    )
    args = parser.parse_args(argv)
    records = 6_000 if args.quick else args.records
    result = run(records, args.batch, args.origins, args.in_flight, args.patients, args.workload)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "result": result,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(table(result))
    print(json.dumps(result, indent=2))
    if not args.quick:
        write_benchmarks_md(report)
        print(f"wrote {OUT} and the Consortium section of {BENCHMARKS}", file=sys.stderr)
    else:
        print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
