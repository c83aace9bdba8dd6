"""Benchmark the node's persisted verifiable index (issue 5 item 6).

Drives :class:`accord.node.indexing.NodeIndex` (the planner's hook and the
materializer that writes the ``index_*`` tables) over a node database on SQLite
(``accord.store.Database``, the node's settings: WAL, ``synchronous=FULL``), or
PostgreSQL with ``--postgres``. Records come from bench/bench_index.py's generator
(the reference profile: ~2.1 keys per record; patients skewed: 70% of records pick
one of N/5 patients uniformly, 30% one of a frequent twentieth, so most patients
have few records and some have many), in random key order, in batches of
``--batch`` (default 1,000) exactly as the planner stages them: each batch
``stage`` + ``commit`` (the sequencer's in-memory work), then the materializer thread
writes the rows. The build is done when every row is in the tables
(``wait_materialized``). Measured:

- persisted build rate: records / process CPU time (all threads: staging and
  materializing; "one core") and records / wall time (staging and writing overlap);
- the staging rate alone (the sequencer's critical path);
- peak RSS (``ru_maxrss``) and the database size per record (the index tables only:
  this database holds no log or bodies);
- per-key proofs through the node's read seam (``NodeIndex.prove``, postings and
  posting-log nodes read from the tables) and ``verify_key_proof``, for typical
  patients, keys at the p99 posting count and the hottest key, each over a window of
  a third of the span; proof size raw and as JSON, and the estimated bundle size
  excluding bodies (as bench_index.py estimates it);
- the restart: every key's head rebuilt from the tables (``stored_heads``) and the state
  restored, in a fresh process as at a real restart (its own CPU and peak RSS); its
  root must equal the live one.

Usage: ``.venv/bin/python bench/bench_index_node.py [--quick] [--records N]
[--postgres DSN] [--queries Q]``. Writes bench/out/index_node[-N][-pg].json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accord.index import IndexState, Window, verify_key_proof
from accord.log import Log
from accord.node.indexing import NodeIndex, stored_heads
from accord.store.database import Database
from bench_index import (
    CHECKPOINT_JSON,
    COMMIT_LEAF_JSON,
    T0,
    Generator,
    kid,
    machine,
    percentile,
    pick_keys,
)

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class FakeHeader:
    """What ``NodeIndex.stage`` reads of a header: its leaf hash and its index keys."""

    leaf: bytes
    keys: tuple[bytes, ...]

    def leaf_hash(self) -> bytes:
        return self.leaf


def set_cache(mb: int) -> None:
    """Give every SQLite connection the database opens a ``mb`` MB page cache."""
    original = Database._connect_sqlite

    def connect(self: Database, readonly: bool) -> Any:
        conn = original(self, readonly)
        conn.execute(f"PRAGMA cache_size = -{mb * 1024}")
        return conn

    Database._connect_sqlite = connect  # type: ignore[method-assign]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def db_bytes(db: Database, path: Path | None) -> int:
    if path is not None:
        return sum(
            Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists()
        )
    row = db.fetchone(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
    )
    return int(row[0]) if row and row[0] is not None else 0


def build(index: NodeIndex, args: argparse.Namespace) -> dict[str, Any]:
    gen = Generator(args.records, "reference", args.seed)
    gen_s = stage_cpu = 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    done = 0
    seq = 0  # the next log index: batch headers, then the planner's commit leaf
    progress = max(args.batch, args.records // 10)
    while done < args.records:
        t = time.perf_counter()
        entries = gen.batch(min(args.batch, args.records - done))
        headers = [FakeHeader(e.leaf_hash, e.key_ids) for e in entries]
        gen_s += time.perf_counter() - t
        c = time.thread_time()
        index.stage(seq, gen.ts, headers)
        index.commit()
        stage_cpu += time.thread_time() - c
        seq += len(headers) + 1
        done += len(headers)
        if done % progress < args.batch:
            print(
                f"  {done:>10,} staged, {index.materialized:>10,} materialized, "
                f"{time.perf_counter() - wall0:6.0f} s, rss {current_rss_mb():,.0f} MB",
                flush=True,
            )
    staged_wall = time.perf_counter() - wall0
    if not index.wait_materialized(index.state.size, timeout=36_000):
        raise RuntimeError("the materializer did not catch up")
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0 - gen_s  # generation ran on this thread: not the node's
    return {
        "records": done,
        "log_entries": index.state.size,
        "keys": len(index.state),
        "persisted_records_per_s_cpu": round(done / cpu),
        "persisted_records_per_s_wall": round(done / (wall - gen_s)),
        "staging_records_per_s_cpu": round(done / stage_cpu),
        "staged_wall_s": round(staged_wall - gen_s, 1),
        "materialize_lag_s": round(wall - staged_wall, 1),
        "generation_s": round(gen_s, 1),
        "span_ms": gen.ts - T0,
        "rss_after_build_mb": round(current_rss_mb()),
    }


def restart(index: NodeIndex, url: str) -> dict[str, Any]:
    """What a restart does first, in a fresh process as a node's restart is: every key's
    head rebuilt from the tables (``stored_heads``) and the state restored from them; the
    root must be the live one. The child's own peak RSS is the restart's memory."""
    expect = {
        "size": index.state.size,
        "log_ts": index.state.log_ts,
        "root": index.state.root.hex(),
        "keys": len(index.state),
    }
    done = subprocess.run(
        [sys.executable, __file__, "--restart-of", url, "--expect", json.dumps(expect)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def restart_child(url: str, expect: dict[str, Any]) -> int:
    db = Database.open(url)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        state = IndexState.restore(expect["size"], expect["log_ts"], stored_heads(db))
        out = {
            "keys": len(state),
            "cpu_s": round(time.process_time() - cpu, 2),
            "wall_s": round(time.perf_counter() - wall, 2),
            "peak_rss_mb": round(rss_mb()),
            "process": "fresh",
        }
    finally:
        db.close()
    if state.root.hex() != expect["root"] or len(state) != expect["keys"]:
        raise RuntimeError("the index rebuilt from its tables differs from the live one")
    print(json.dumps(out))
    return 0


def pick(index: NodeIndex, seed: int) -> dict[str, list[bytes]]:
    """bench_index.py's classes (same seed, same keys) and the 100 heaviest of the first
    2,000 patients."""
    picked = pick_keys(index.state, seed)
    view = index.state.view()
    first = (kid(b"patient", i) for i in range(2000))
    sizes = {k: value.size for k in first if (value := view.value(k)) is not None}
    heavy_patients = sorted(sizes, key=lambda k: -sizes[k])[:100]
    return {
        "typical_patient": picked["typical_patient"],
        "heavy_patient": heavy_patients,
        "p99_key": picked["p99_key"],
        "hottest_key": picked["hottest_key"],
    }


def queries(index: NodeIndex, keys: list[bytes], n: int, span: int, seed: int) -> dict[str, Any]:
    import random

    rnd = random.Random(seed)
    size = index.state.size
    root = index.state.root
    prove_ms, verify_ms, raw, text, results, post = [], [], [], [], [], []
    for _ in range(n):
        key = rnd.choice(keys)
        start = T0 + rnd.randrange(max(1, span * 2 // 3))
        window = Window(start, start + span // 3)
        t = time.perf_counter()
        proof = index.prove(key, window, size)
        prove_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        answer = verify_key_proof(root, key, window, proof)
        verify_ms.append((time.perf_counter() - t) * 1000)
        raw.append(proof.byte_size())
        text.append(len(proof.format()))
        results.append(len(answer.postings))
        post.append(answer.value.size if answer.value else 0)
    commit_hashes = math.ceil(math.log2(max(2, size + 1)))
    json_p50 = statistics.median(text)
    return {
        "queries": n,
        "posting_log_size_p50": statistics.median(post),
        "results_p50": statistics.median(results),
        "prove_ms_p50": round(statistics.median(prove_ms), 3),
        "prove_ms_p99": round(percentile(prove_ms, 99), 3),
        "verify_ms_p50": round(statistics.median(verify_ms), 3),
        "verify_ms_p99": round(percentile(verify_ms, 99), 3),
        "proof_bytes_raw_p50": statistics.median(raw),
        "proof_bytes_json_p50": json_p50,
        "estimated_bundle_raw_excl_bodies_p50": round(
            statistics.median(raw) + 32 * commit_hashes + COMMIT_LEAF_JSON + CHECKPOINT_JSON
        ),
        "estimated_bundle_json_excl_bodies_p50": round(
            json_p50 + 66 * commit_hashes + COMMIT_LEAF_JSON + CHECKPOINT_JSON
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k records, fewer queries")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--postgres", help="a PostgreSQL DSN (a fresh schema is used)")
    parser.add_argument(
        "--cache-mb",
        type=int,
        default=0,
        help="an experiment: SQLite page cache per connection (0: the node's, SQLite's 2 MB)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="where the SQLite file goes (default: temp)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--restart-of", help=argparse.SUPPRESS)  # the child of restart()
    parser.add_argument("--expect", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.restart_of:
        return restart_child(args.restart_of, json.loads(args.expect))
    if args.quick:
        args.records = min(args.records, 100_000)
        args.queries = min(args.queries, 300)
    suffix = f"-{args.records // 1000}k" + ("-pg" if args.postgres else "")
    suffix += f"-cache{args.cache_mb}" if args.cache_mb else ""
    out = args.out or ROOT / "bench" / "out" / f"index_node{suffix}.json"
    report: dict[str, Any] = {
        "benchmark": "index_node",
        "machine": machine(),
        "parameters": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    with tempfile.TemporaryDirectory(prefix="accord-bench-index-", dir=args.dir) as tmp:
        path: Path | None = None
        pg_url = None
        if args.postgres:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from common import drop_schema, fresh_schema

            pg_url = fresh_schema(args.postgres)
            url = pg_url
            db = Database.open(pg_url)
        else:
            if args.cache_mb:
                set_cache(args.cache_mb)
            path = Path(tmp) / "node.db"
            url = f"sqlite:///{path}"
            db = Database.open(url)
        try:
            log = Log.attach(db, origin="bench.example/index")
            index = NodeIndex(db, log)
            index.start()
            print(f"index_node bench: {args.records:,} records on {db.dialect}", flush=True)
            report["build"] = build(index, args)
            report["build"]["peak_rss_mb"] = round(rss_mb())
            size = db_bytes(db, path)
            report["build"]["db_bytes"] = size
            report["build"]["db_bytes_per_record"] = round(size / args.records, 1)
            rows = db.fetchone("SELECT count(*) FROM index_postings")
            report["build"]["postings"] = int(rows[0]) if rows else 0
            print(json.dumps(report["build"], indent=2), flush=True)
            report["queries"] = {}
            for name, keys in pick(index, args.seed).items():
                n = args.queries if name not in ("hottest_key",) else min(20, args.queries)
                report["queries"][name] = queries(
                    index, keys, n, report["build"]["span_ms"], args.seed
                )
                print(name, json.dumps(report["queries"][name]), flush=True)
            report["peak_rss_mb"] = round(rss_mb())
            index.stop()
            report["restart"] = restart(index, url)
            print("restart", json.dumps(report["restart"]), flush=True)
        finally:
            db.close()
            if pg_url is not None and args.postgres:
                drop_schema(args.postgres, pg_url)
    report["machine"]["load_average_end"] = os.getloadavg()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
