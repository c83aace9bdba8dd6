"""Benchmark the verifiable index core (accord.index): build rate, memory, proofs, verification.

Generates N main-log records with a skewed key distribution, builds the index in
batches (default 1,000) on one core, then proves and verifies per-key window
queries for a typical patient, a p99 key, the hottest key and an absent key.

Profiles (keys per record):

- ``reference`` (default; verifiable-index.md section 9): ~2.1 keys per record:
  the patient (N/5 patients: 70% of picks uniform, 30% from a "frequent" twentieth),
  the accessor (N/50 accessors: 60% uniform, 40% from a busy tenth) and, for 10%
  of records, the accessor's organization (10 orgs, ~1% of records each);
- ``mapfn-v1``: what MapFn v1 (docs/formats.md section 4) emits for an access:
  patient, record (N/2 distinct EHR records), accessor and accessor_org (10 orgs):
  4 keys per record.

Records arrive in random order (no temporal locality): the worst case for the map.
``--sqlite PATH`` also writes every batch's rows to a SQLite file with the stdlib
``sqlite3`` (WAL, synchronous=FULL unless ``--sqlite-sync``, one transaction per
batch, the tables of docs/index.md section 5): an indicative persisted rate, not
accord.store's.
``--store none`` drops the batch rows instead of keeping them in memory: the build
rate and peak memory are then those of the builder's working state alone (what a
node holds in RAM when postings go to SQL); no posting proofs in that mode.

Usage: ``.venv/bin/python bench/bench_index.py [--quick] [--records N] [--profile P]
[--store memory|none] [--history H] [--queries Q]``. Prints a summary and writes
bench/out/index.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import platform
import random
import resource
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accord.index import (
    IndexEntry,
    IndexState,
    MemoryPostingStore,
    Window,
    parse_key_proof,
    prove_key,
    verify_key_proof,
    verify_map_proof,
)

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_710_000_000_000
SPAN_MS = 30 * 24 * 3600 * 1000  # the log covers 30 days
#: JSON bytes of the bundle parts that are not this package's (estimates, docs/index.md):
#: commit leaf (~230 B), checkpoint with the log signature and 3 cosignatures (~650 B).
COMMIT_LEAF_JSON = 230
CHECKPOINT_JSON = 650


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def kid(family: bytes, i: int) -> bytes:
    return hashlib.sha256(family + i.to_bytes(8, "big")).digest()


class Generator:
    """Records with skewed keys; deterministic for a seed."""

    def __init__(self, n: int, profile: str, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.profile = profile
        self.patients = max(1, n // 5)
        self.frequent = max(1, self.patients // 20)
        self.accessors = max(1, n // 50)
        self.busy = max(1, self.accessors // 10)
        self.records = max(1, n // 2)
        self.step = max(1, 2 * SPAN_MS // n)
        self.seq = 0
        self.ts = T0

    def patient(self) -> int:
        r = self.rnd
        return r.randrange(self.frequent) if r.random() < 0.3 else r.randrange(self.patients)

    def batch(self, size: int) -> list[IndexEntry]:
        r = self.rnd
        out = []
        for _ in range(size):
            keys = {kid(b"patient", self.patient())}
            acc = r.randrange(self.busy) if r.random() < 0.4 else r.randrange(self.accessors)
            keys.add(kid(b"accessor", acc))
            if self.profile == "mapfn-v1":
                keys.add(kid(b"record", r.randrange(self.records)))
                keys.add(kid(b"org", r.randrange(10)))
            elif r.random() < 0.1:
                keys.add(kid(b"org", r.randrange(10)))
            self.ts += r.randrange(self.step)
            leaf = hashlib.sha256(b"leaf" + self.seq.to_bytes(8, "big")).digest()
            out.append(IndexEntry(self.seq, self.ts, leaf, tuple(sorted(keys))))
            self.seq += 1
        return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def build(args: argparse.Namespace) -> tuple[IndexState, MemoryPostingStore | None, dict[str, Any]]:
    gen = Generator(args.records, args.profile, args.seed)
    state = IndexState(history=args.history)
    store = MemoryPostingStore() if args.store == "memory" else None
    sink = SqliteSink(args.sqlite, args.sqlite_sync) if args.sqlite else None
    base_rss = current_rss_mb()
    gen_s = apply_cpu = apply_wall = store_cpu = sql_wall = 0.0
    postings = 0
    done = 0
    progress = max(args.batch, args.records // 10)
    while done < args.records:
        t = time.perf_counter()
        entries = gen.batch(min(args.batch, args.records - done))
        gen_s += time.perf_counter() - t
        c, w = time.process_time(), time.perf_counter()
        result = state.apply_batch(entries)
        apply_cpu += time.process_time() - c
        apply_wall += time.perf_counter() - w
        postings += len(result.postings)
        if store is not None:
            c = time.process_time()
            store.apply(result)
            store_cpu += time.process_time() - c
        if sink is not None:
            w = time.perf_counter()
            sink.write(result)
            sql_wall += time.perf_counter() - w
        done += len(entries)
        if done % progress < args.batch:
            print(
                f"  {done:>10,} records  {done / apply_cpu:>8,.0f} rec/s (cpu, apply)  "
                f"rss {current_rss_mb():,.0f} MB",
                flush=True,
            )
    figures = {
        "records": done,
        "postings": postings,
        "keys": len(state),
        "keys_per_record": round(postings / done, 3),
        "batches": math.ceil(done / args.batch),
        "apply_records_per_s_cpu": round(done / apply_cpu),
        "apply_records_per_s_wall": round(done / apply_wall),
        "apply_plus_store_records_per_s_cpu": round(done / (apply_cpu + store_cpu)),
        "ms_per_batch_cpu": round(1000 * apply_cpu / math.ceil(done / args.batch), 2),
        "generation_s": round(gen_s, 1),
        "apply_plus_sqlite_records_per_s_wall": (
            round(done / (apply_wall + sql_wall)) if sink is not None else None
        ),
        "sqlite_ms_per_batch_wall": (
            round(1000 * sql_wall / math.ceil(done / args.batch), 2) if sink is not None else None
        ),
        "rss_before_build_mb": round(base_rss),
        "rss_after_build_mb": round(current_rss_mb()),
        "peak_rss_mb": round(rss_mb()),
        "span_ms": gen.ts - T0,
        "last_log_ts": gen.ts,
    }
    return state, store, figures


SQLITE_SCHEMA = (
    "CREATE TABLE index_postings (key_id BLOB NOT NULL, idx INTEGER NOT NULL, "
    "seq INTEGER NOT NULL, log_ts INTEGER NOT NULL, evh BLOB NOT NULL, "
    "PRIMARY KEY (key_id, idx))",
    "CREATE INDEX index_postings_ts ON index_postings (key_id, log_ts)",
    "CREATE TABLE index_posting_nodes (key_id BLOB NOT NULL, level INTEGER NOT NULL, "
    "idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (key_id, level, idx))",
    "CREATE TABLE index_keys (key_id BLOB PRIMARY KEY, size INTEGER NOT NULL, "
    "root BLOB NOT NULL, edge BLOB NOT NULL)",
    "CREATE TABLE index_head (one INTEGER PRIMARY KEY CHECK (one = 1), "
    "size INTEGER NOT NULL, log_ts INTEGER NOT NULL, root BLOB NOT NULL)",
    "INSERT INTO index_head VALUES (1, 0, 0, zeroblob(32))",
)


class SqliteSink:
    """Writes BatchResult rows as a SQL store would (section 5 of docs/index.md)."""

    def __init__(self, path: Path, synchronous: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        self.con = sqlite3.connect(path, isolation_level=None)
        self.con.execute("PRAGMA journal_mode = WAL")
        self.con.execute(f"PRAGMA synchronous = {synchronous}")
        for statement in SQLITE_SCHEMA:
            self.con.execute(statement)
        self.size = 0

    def write(self, result: Any) -> None:
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        con.executemany("INSERT INTO index_postings VALUES (?, ?, ?, ?, ?)", result.postings)
        con.executemany("INSERT INTO index_posting_nodes VALUES (?, ?, ?, ?)", result.nodes)
        con.executemany(
            "INSERT INTO index_keys VALUES (?, ?, ?, ?) ON CONFLICT (key_id) DO UPDATE SET "
            "size = excluded.size, root = excluded.root, edge = excluded.edge",
            result.keys,
        )
        cur = con.execute(
            "UPDATE index_head SET size = ?, log_ts = ?, root = ? WHERE size = ?",
            (result.size, result.log_ts, result.root, self.size),
        )
        if cur.rowcount != 1:
            raise RuntimeError("index_head moved")
        con.execute("COMMIT")
        self.size = result.size


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    value = fn()
    return (time.perf_counter() - t) * 1000, value


def query_bench(
    state: IndexState, store: MemoryPostingStore, keys: list[bytes], n: int, span: int, seed: int
) -> dict[str, Any]:
    """Prove and verify ``n`` random one-third-of-the-span windows over ``keys``."""
    rnd = random.Random(seed)
    view, readers, root = state.view(), store.readers(), state.root
    prove_ms, verify_ms, parse_verify_ms = [], [], []
    raw, text, results, sizes, siblings, range_hashes = [], [], [], [], [], []
    for _ in range(n):
        key = rnd.choice(keys)
        start = T0 + rnd.randrange(max(1, span * 2 // 3))
        window = Window(start, start + span // 3)
        ms, proof = timed(lambda k=key, w=window: prove_key(view, k, w, readers))
        prove_ms.append(ms)
        body = proof.format()
        ms, answer = timed(lambda p=proof, k=key, w=window: verify_key_proof(root, k, w, p))
        verify_ms.append(ms)
        ms, _ = timed(
            lambda b=body, k=key, w=window: verify_key_proof(root, k, w, parse_key_proof(b))
        )
        parse_verify_ms.append(ms)
        raw.append(proof.byte_size())
        text.append(len(body))
        results.append(len(answer.postings))
        sizes.append(answer.value.size if answer.value else 0)
        siblings.append(len(proof.map_proof.siblings))
        range_hashes.append(len(proof.range_proof))
    commit_hashes = math.ceil(math.log2(max(2, state.size + 1)))
    part = statistics.median(text)
    return {
        "queries": n,
        "distinct_keys": len(set(keys)),
        "posting_log_size_p50": statistics.median(sizes),
        "results_p50": statistics.median(results),
        "map_siblings_p50": statistics.median(siblings),
        "range_hashes_p50": statistics.median(range_hashes),
        "prove_ms_p50": round(statistics.median(prove_ms), 3),
        "prove_ms_p99": round(percentile(prove_ms, 99), 3),
        "verify_ms_p50": round(statistics.median(verify_ms), 3),
        "verify_ms_p99": round(percentile(verify_ms, 99), 3),
        "parse_and_verify_ms_p50": round(statistics.median(parse_verify_ms), 3),
        "proof_bytes_raw_p50": statistics.median(raw),
        "proof_bytes_json_p50": part,
        "proof_bytes_json_p99": percentile(text, 99),
        "estimated_bundle_json_excl_bodies_p50": round(
            part + 66 * commit_hashes + COMMIT_LEAF_JSON + CHECKPOINT_JSON
        ),
    }


def pick_keys(state: IndexState, seed: int) -> dict[str, list[bytes]]:
    """Typical patients (random ones), keys at the p99 posting count, the hottest key."""
    # Streamed, without a dict of every key: at 10M that dict alone took ~145 MB and set
    # the run's peak memory after the build.
    rnd = random.Random(seed)
    view = state.view()
    keys = len(state)
    patients = []
    for i in rnd.sample(range(10**9), 20000):
        k = kid(b"patient", i % max(1, keys))
        if view.value(k) is not None:
            patients.append(k)
        if len(patients) >= 2000:
            break
    histogram = Counter(size for _, size in state.key_sizes())
    rank, p99 = int(0.99 * (keys - 1)), 0
    for size in sorted(histogram):
        p99 = size
        rank -= histogram[size]
        if rank < 0:
            break
    at_p99, hottest, most = [], b"", -1
    for k, size in state.key_sizes():
        if size == p99 and len(at_p99) < 200:
            at_p99.append(k)
        if size > most:
            hottest, most = k, size
    return {"typical_patient": patients, "p99_key": at_p99, "hottest_key": [hottest]}


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if "model name" in ln), "")
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": model,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k records, fewer queries")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--profile", choices=["reference", "mapfn-v1"], default="reference")
    parser.add_argument("--store", choices=["memory", "none"], default="memory")
    parser.add_argument("--history", type=int, default=16)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--restore", action="store_true", help="also time IndexState.restore")
    parser.add_argument("--sqlite", type=Path, help="also write rows to this SQLite file")
    parser.add_argument("--sqlite-sync", choices=["FULL", "NORMAL", "OFF"], default="FULL")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "index.json")
    args = parser.parse_args()
    if args.quick:
        args.records = min(args.records, 100_000)
        args.queries = min(args.queries, 300)
    gc.collect()
    print(f"index bench: {args.records:,} records, profile {args.profile}, store {args.store}")
    state, store, figures = build(args)
    report: dict[str, Any] = {
        "benchmark": "index",
        "machine": machine(),
        "parameters": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "build": figures,
        "queries": {},
    }
    keys = pick_keys(state, args.seed)
    if store is not None:
        for name, chosen in keys.items():
            n = args.queries if name != "hottest_key" else min(20, args.queries)
            report["queries"][name] = query_bench(
                state, store, chosen, n, figures["span_ms"], args.seed
            )
    view = state.view()
    absent = [kid(b"absent", i) for i in range(200)]
    absent_ms = []
    absent_bytes = []
    for k in absent:
        ms, proof = timed(lambda k=k: view.map_proof(k))
        absent_ms.append(ms)
        absent_bytes.append(len(proof.format()))
        assert verify_map_proof(view.root, k, proof) is None
    report["queries"]["absent_key"] = {
        "prove_ms_p50": round(statistics.median(absent_ms), 3),
        "proof_bytes_json_p50": statistics.median(absent_bytes),
    }
    report["peak_rss_mb"] = round(rss_mb())
    if args.restore:
        rows = list(state.key_rows())
        c = time.process_time()
        restored = IndexState.restore(state.size, state.log_ts, rows)
        report["restore_s_cpu"] = round(time.process_time() - c, 2)
        assert restored.root == state.root
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
