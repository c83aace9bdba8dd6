"""Benchmark one node: HTTP ingest of signed statements, and one patient's history by SQL.

**Ingest** (issue 3 item 7). One real ``accord serve`` process per database (SQLite,
and PostgreSQL when ``--postgres`` is given, default the local test server), each in a
fresh node directory with one registered source. ``ehr.access`` statements are signed
before the clock starts (signing is the client's cost), then posted in batches of 500
by ``--clients`` concurrent clients (one keep-alive ``httpx`` connection each, closed
loop) to ``POST /v1/statements``, which answers once the batch is committed. A warm-up
(one record per patient, not timed) makes the node's data key of every patient first,
a one-off cost per patient. ``--workload explained`` (the default) has each patient's
records read by a practitioner with a care relationship (recorded in the warm-up) in
working hours, so the compliance evaluator raises no alert; ``unexplained`` has none
explained and after hours, two alerts per access (the evaluator's expensive case).
Event times are fixed relative to the day (``access_time``), not to the wall clock, so
the rules judge a run the same way at any hour. Measured per round: sustained records
per second (records / wall time of the round), batch latency p50/p99, node CPU per record (from
``/proc/PID/stat``), and the single-core Ed25519 verify rate (``cryptography``) in
the same run, just before the round. Rounds alternate between the databases.
Targets: ingest >= 50% of the verify rate, p99 batch latency < 1 s.

**SQL** (issue 3 item 7). A node directory on SQLite is filled with ``--sql-records``
(default 1,000,000) ``ehr.access`` records through the node's own projection code
(``Projector.rows``, in-process, into the node's migrated tables and indexes; the log
is not built: the SQL path reads only the projection). Patients are skewed: 70% of
records pick a patient uniformly among N/10, 30% among a frequent twentieth of them.
The same ``access`` rows go to a bare SQLite file with the same table and the same
``(patient, event_ts)`` index. Then, in interleaved rounds, one patient's history
(``SELECT * FROM access WHERE patient = ? ORDER BY event_ts``, a random patient each
time) is timed through the node's read-only SQL path in-process
(``ReadOnlySQL.run``), through ``POST /v1/sql`` on a real ``accord serve`` process,
and on the bare table (one open ``sqlite3`` connection, ``fetchall``).
Target: the node's path >= 50% of the bare table's rate.

Usage: ``.venv/bin/python bench/bench_node.py [--quick] [--records N] [--rounds R]
[--clients C] [--workload explained|unexplained] [--postgres DSN|none] [--sql-records N]
[--skip-ingest] [--skip-sql]``.
Writes bench/out/node.json and, for full runs, the "Node" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from accord.client import NodeClient, SourceKey, generate_source_key
from accord.node.initdir import init_node
from accord.records import SignedStatement
from accord.store.projection import PROJECTION_STEPS
from common import (
    ServedNode,
    access_statement,
    access_time,
    care_statement,
    drop_schema,
    ed25519_verify_rate,
    fresh_schema,
    machine,
    percentile,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "node.json"
BENCHMARKS = ROOT / "BENCHMARKS.md"
DEFAULT_PG = os.environ.get("ACCORD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ORG = "cornell"
HISTORY_SQL = "SELECT * FROM access WHERE patient = '{p}' ORDER BY event_ts"
HISTORY_SQL_FN = (
    "SELECT * FROM access WHERE patient = pseudonym('patient', '{m}') ORDER BY event_ts"
)


# -- ingest ------------------------------------------------------------------------------


class IngestTarget:
    """One node and its source. Workload "explained": practitioner ``p{n % 300}`` reads
    patient ``n``'s records and has a care relationship with that patient (recorded in the
    warm-up), in working hours, so the compliance rules raise no alert. "unexplained":
    300 practitioners read every patient's records with no care relationship, after hours,
    so every access raises two alerts (no-relationship and after-hours), the evaluator's
    expensive case."""

    def __init__(
        self, name: str, served: ServedNode, key: SourceKey, patients: int, workload: str
    ) -> None:
        self.name = name
        self.served = served
        self.key = key
        self.patients = patients
        self.workload = workload
        self.counter = 0

    def sign(self, n: int) -> list[SignedStatement]:
        start = access_time(self.workload)
        out = []
        for _ in range(n):
            i = self.counter
            self.counter += 1
            p = i % self.patients
            accessor = f"Practitioner/p{p % 300}" if self.workload == "explained" else None
            out.append(
                self.key.sign(
                    access_statement(
                        ORG, i, start + i, 0, patient=f"MPI-{p:07d}", accessor=accessor
                    )
                )
            )
        return out

    def warm_up(self) -> list[SignedStatement]:
        """One record per patient (every data key made once, not timed): a care
        relationship for the explained workload, an access for the other."""
        if self.workload != "explained":
            return self.sign(self.patients)
        start = access_time(self.workload) - 30 * 86_400_000
        return [
            self.key.sign(care_statement(ORG, f"MPI-{p:07d}", f"Practitioner/p{p % 300}", start))
            for p in range(self.patients)
        ]


def start_target(
    name: str, directory: Path, database: str | None, patients: int, batch: int, workload: str
) -> IngestTarget:
    served = ServedNode(directory, ORG, database=database)
    key = generate_source_key(ORG, "ehr")
    with served.client("admin") as admin:
        admin.add_source("ehr", key.public_raw)
    target = IngestTarget(name, served, key, patients, workload)
    warm = target.warm_up()
    with served.client("source") as client:
        for i in range(0, len(warm), batch):
            client.submit(warm[i : i + batch])
    return target


def ingest_round(target: IngestTarget, records: int, batch: int, clients: int) -> dict[str, Any]:
    signed = target.sign(records)
    batches: queue.SimpleQueue[list[SignedStatement]] = queue.SimpleQueue()
    for i in range(0, len(signed), batch):
        batches.put(signed[i : i + batch])
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    conns = [target.served.client("source") for _ in range(clients)]
    for c in conns:
        c.health()  # open the keep-alive connection before the clock starts

    def worker(client: NodeClient) -> None:
        try:
            while True:
                try:
                    b = batches.get_nowait()
                except queue.Empty:
                    return
                t = time.perf_counter()
                result = client.submit(b)
                ms = (time.perf_counter() - t) * 1000
                if len(result["results"]) != len(b):
                    raise RuntimeError("a batch was not fully accepted")
                with lock:
                    latencies.append(ms)
        except BaseException as exc:
            errors.append(exc)

    cpu0, client0 = target.served.cpu_seconds(), time.process_time()
    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    cpu = target.served.cpu_seconds() - cpu0
    client_cpu = time.process_time() - client0
    for c in conns:
        c.close()
    if errors:
        raise errors[0]
    return {
        "database": target.name,
        "records": records,
        "wall_s": round(wall, 2),
        "records_per_s": records / wall,
        "batch_p50_ms": percentile(latencies, 50),
        "batch_p99_ms": percentile(latencies, 99),
        "batch_max_ms": max(latencies),
        "node_cpu_ms_per_record": 1000 * cpu / records,
        # The posting clients share the machine: what they take is not the node's.
        "client_cpu_ms_per_record": 1000 * client_cpu / records,
        "load_average": os.getloadavg()[0],
    }


def alert_count(served: ServedNode) -> int:
    """Alerts the node's compliance evaluator raised, once it has judged every record."""
    headers = {"Authorization": f"Bearer {served.tokens['admin']}"}
    httpx.post(f"{served.url}/v1/alerts/sweep", headers=headers, timeout=600).raise_for_status()
    headers = {"Authorization": f"Bearer {served.tokens['auditor']}"}
    got = httpx.get(f"{served.url}/v1/alerts?limit=1", headers=headers, timeout=600)
    got.raise_for_status()
    return int(got.json()["total"])


def run_ingest(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    pg_url = None if args.postgres == "none" else fresh_schema(args.postgres)
    targets = []
    alerts: dict[str, int] = {}
    try:
        targets.append(
            start_target(
                "SQLite", tmp / "ingest-sqlite", None, args.patients, args.batch, args.workload
            )
        )
        if pg_url is not None:
            targets.append(
                start_target(
                    "PostgreSQL",
                    tmp / "ingest-pg",
                    pg_url,
                    args.patients,
                    args.batch,
                    args.workload,
                )
            )
        rounds = []
        for r in range(args.rounds):
            for target, clients in ((t, c) for c in args.clients for t in targets):
                verify = ed25519_verify_rate(1.5)
                res = ingest_round(target, args.records, args.batch, clients)
                res["round"] = r
                res["clients"] = clients
                res["ed25519_verify_per_s"] = verify
                res["ratio_vs_verify"] = res["records_per_s"] / verify
                print(
                    f"  ingest {target.name:10} {clients} clients round {r}: "
                    f"{res['records_per_s']:,.0f} rec/s, "
                    f"verify {verify:,.0f}/s, ratio {res['ratio_vs_verify']:.2f}, "
                    f"p99 {res['batch_p99_ms']:,.0f} ms, cpu {res['node_cpu_ms_per_record']:.3f} "
                    f"ms/rec, load {res['load_average']:.1f}",
                    flush=True,
                )
                rounds.append(res)
        alerts.update((t.name, alert_count(t.served)) for t in targets)
        print(f"  alerts raised (all rounds and the warm-up): {alerts}", flush=True)
    finally:
        for target in targets:
            target.served.stop()
        if pg_url is not None:
            drop_schema(args.postgres, pg_url)
    return {
        "records_per_round": args.records,
        "batch": args.batch,
        "clients": args.clients,
        "patients": args.patients,
        "workload": args.workload,
        "alerts": alerts,
        "rounds": rounds,
    }


# -- SQL ---------------------------------------------------------------------------------

#: The node's own `access` table and its (patient, event_ts) index, nothing else.
BARE_DDL = tuple(
    ddl
    for ddl in PROJECTION_STEPS[0].sql
    if ddl.startswith("CREATE TABLE access (") or "ON access (patient, event_ts)" in ddl
)


def skewed_patient(rnd: random.Random, patients: int) -> int:
    frequent = max(1, patients // 20)
    return rnd.randrange(frequent) if rnd.random() < 0.3 else rnd.randrange(patients)


def fill(args: argparse.Namespace, directory: Path, bare_path: Path) -> dict[str, Any]:
    """Fill the node's projection and the bare table with the same access rows."""
    from accord.node.service import Node

    result = init_node(directory, ORG)
    node = Node.open(directory)
    node.start()
    node.unseal_with([p.read_text() for p in result.share_files[:2]])
    key = generate_source_key(ORG, "ehr")
    bare = sqlite3.connect(bare_path, isolation_level=None)
    bare.execute("PRAGMA journal_mode = WAL")
    for ddl in BARE_DDL:
        bare.execute(ddl)
    rnd = random.Random(7)
    patients = max(1, args.sql_records // 10)
    now = int(time.time() * 1000) - 86_400_000 * 30
    t0 = time.perf_counter()
    chunk = 10_000
    counts: dict[int, int] = {}
    for base in range(0, args.sql_records, chunk):
        rows: list[tuple[str, tuple[Any, ...]]] = []
        for i in range(base, min(args.sql_records, base + chunk)):
            p = skewed_patient(rnd, patients)
            counts[p] = counts.get(p, 0) + 1
            signed = key.sign(
                access_statement(ORG, i * 1000, now + i * 1000, 0, patient=f"MPI-{p:07d}")
            )
            rows += node.projector.rows(signed, i, now + i * 1000, "final")
        by_table: dict[str, list[tuple[Any, ...]]] = {}
        for table, row in rows:
            by_table.setdefault(table, []).append(row)
        from accord.store.projection import _INSERT

        with node.db.transaction() as tx:
            for table, items in by_table.items():
                tx.executemany(_INSERT[table], items)
        bare.execute("BEGIN")
        bare.executemany(_INSERT["access"], by_table["access"])
        bare.execute("COMMIT")
        done = min(args.sql_records, base + chunk)
        if done % 100_000 == 0:
            print(f"  filled {done:,} records ({time.perf_counter() - t0:.0f} s)", flush=True)
    bare.close()
    pseudonyms = {p: node._pseudonym("patient", f"MPI-{p:07d}") for p in counts}
    node.stop()
    sizes = sorted(counts.values())
    return {
        "records": args.sql_records,
        "patients_with_records": len(counts),
        "records_per_patient_p50": statistics.median(sizes),
        "records_per_patient_p99": percentile([float(s) for s in sizes], 99),
        "records_per_patient_max": sizes[-1],
        "fill_s": round(time.perf_counter() - t0, 1),
        "counts": counts,
        "pseudonyms": pseudonyms,
    }


def report_line(name: str, r: int, res: dict[str, Any]) -> str:
    return f"  sql {name:18} round {r}: {res['queries_per_s']:,.0f} q/s p50 {res['p50_ms']:.3f} ms"


def timed_queries(run_one: Any, picks: list[tuple[int, str]], seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    rows = 0
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        p, ps = picks[i % len(picks)]
        t = time.perf_counter()
        rows += run_one(p, ps)
        lat.append((time.perf_counter() - t) * 1000)
        i += 1
    wall = time.perf_counter() - start
    return {
        "queries": len(lat),
        "queries_per_s": len(lat) / wall,
        "p50_ms": statistics.median(lat),
        "p99_ms": percentile(lat, 99),
        "rows_per_query": rows / len(lat),
    }


def run_sql(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from accord.node.service import Node

    directory = tmp / "sql-node"
    bare_path = tmp / "bare.db"
    filled = fill(args, directory, bare_path)
    counts: dict[int, int] = filled.pop("counts")
    pseudonyms: dict[int, str] = filled.pop("pseudonyms")
    rnd = random.Random(11)
    # A typical patient: a random patient who has records (most have few).
    population = list(counts)
    picks = [(p, pseudonyms[p]) for p in (rnd.choice(population) for _ in range(5000))]

    node = Node.open(directory)
    node.start()
    shares = sorted((directory / "shares").iterdir())
    node.unseal_with([s.read_text() for s in shares[:2]])
    bare = sqlite3.connect(f"file:{bare_path}?mode=ro", uri=True)

    def bare_one(p: int, ps: str) -> int:
        return len(bare.execute(HISTORY_SQL.format(p=ps)).fetchall())

    def node_one(p: int, ps: str) -> int:
        return int(node.process_sql(HISTORY_SQL.format(p=ps))["row_count"])

    def node_fn_one(p: int, ps: str) -> int:
        return int(node.process_sql(HISTORY_SQL_FN.format(m=f"MPI-{p:07d}"))["row_count"])

    # check the three paths agree
    for p, ps in picks[:20]:
        assert bare_one(p, ps) == node_one(p, ps) == node_fn_one(p, ps) == counts[p]
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        for name, fn in (
            ("bare", bare_one),
            ("node", node_one),
            ("node_pseudonym_fn", node_fn_one),
        ):
            res = timed_queries(fn, picks, args.sql_seconds)
            res.update(path=name, round=r, load_average=os.getloadavg()[0])
            rounds.append(res)
            print(
                report_line(name, r, res),
                flush=True,
            )
    node.stop()
    # Over HTTP: a real `accord serve` on the same directory, then the bare table again.
    served = ServedNode(directory, ORG)
    try:
        client = served.client("auditor")

        def http_one(p: int, ps: str) -> int:
            return int(client.sql(HISTORY_SQL.format(p=ps))["row_count"])

        def health(p: int, ps: str) -> int:
            """The HTTP floor: GET /v1/health on the same connection (no query)."""
            client.health()
            return 0

        assert http_one(*picks[0]) == counts[picks[0][0]]
        for r in range(args.rounds):
            for name, fn in (("bare", bare_one), ("http", http_one), ("http_health", health)):
                res = timed_queries(fn, picks, args.sql_seconds)
                res.update(path=name, round=r, load_average=os.getloadavg()[0], phase="http")
                rounds.append(res)
                print(
                    report_line(name, r, res),
                    flush=True,
                )
        client.close()
    finally:
        served.stop()
    bare.close()
    return {**filled, "rounds": rounds}


def best(rounds: list[dict[str, Any]], key: str, **match: Any) -> float:
    return max(r[key] for r in rounds if all(r.get(k) == v for k, v in match.items()))


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = {}
    ingest = report.get("ingest")
    if ingest:
        for db, clients in sorted({(r["database"], r["clients"]) for r in ingest["rounds"]}):
            mine = [r for r in ingest["rounds"] if r["database"] == db and r["clients"] == clients]
            db = f"{db}.{clients}_clients"
            s[f"ingest.{db}.ratio_vs_verify_median"] = statistics.median(
                r["ratio_vs_verify"] for r in mine
            )
            s[f"ingest.{db}.records_per_s_median"] = statistics.median(
                r["records_per_s"] for r in mine
            )
            s[f"ingest.{db}.batch_p99_ms_max"] = max(r["batch_p99_ms"] for r in mine)
            s[f"ingest.{db}.node_cpu_ms_per_record_median"] = statistics.median(
                r["node_cpu_ms_per_record"] for r in mine
            )
    sql = report.get("sql")
    if sql:
        rounds = sql["rounds"]
        first = [r for r in rounds if "phase" not in r]
        http = [r for r in rounds if r.get("phase") == "http"]
        for name in ("node", "node_pseudonym_fn"):
            ratios = [
                next(x for x in first if x["path"] == name and x["round"] == k)["queries_per_s"]
                / next(x for x in first if x["path"] == "bare" and x["round"] == k)["queries_per_s"]
                for k in {r["round"] for r in first}
            ]
            s[f"sql.{name}_vs_bare_median"] = statistics.median(ratios)
        ratios = [
            next(x for x in http if x["path"] == "http" and x["round"] == k)["queries_per_s"]
            / next(x for x in http if x["path"] == "bare" and x["round"] == k)["queries_per_s"]
            for k in {r["round"] for r in http}
        ]
        s["sql.http_vs_bare_median"] = statistics.median(ratios)
        s["sql.http_health_p50_ms_median"] = statistics.median(
            x["p50_ms"] for x in http if x["path"] == "http_health"
        )
    return s


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small runs (5,000 records, 50,000 SQL rows)"
    )
    parser.add_argument("--records", type=int, default=30_000, help="records per ingest round")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--clients",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[2, 4],
        help="concurrent clients, one configuration per comma-separated value",
    )
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument(
        "--workload",
        choices=("explained", "unexplained"),
        default="explained",
        help="explained: every access by a practitioner with a care relationship, in working "
        "hours (no alerts); unexplained: none explained, after hours (two alerts each)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=DEFAULT_PG, help="a PostgreSQL DSN, or none")
    parser.add_argument("--sql-records", type=int, default=1_000_000)
    parser.add_argument("--sql-seconds", type=float, default=5.0)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-sql", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.patients, args.rounds = 5_000, 500, 2
        args.sql_records, args.sql_seconds = 50_000, 1.0
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="accord-bench-node-") as tmp:
        if not args.skip_ingest:
            report["ingest"] = run_ingest(args, Path(tmp))
        if not args.skip_sql:
            report["sql"] = run_sql(args, Path(tmp))
    report["load_average_end"] = os.getloadavg()
    report["summary"] = summarize(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"], indent=2))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
