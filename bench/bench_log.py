"""Benchmark of accord.log against pymerkle 7.0.0 (issue "log", benchmark part).

Appends N leaves of 300 bytes in batches of 1,000, then times 10,000 inclusion
proofs and 1,000 consistency proofs at random past sizes, for:

- Accord on SQLite (``synchronous=FULL``, the default, and ``NORMAL``) and on
  PostgreSQL (server defaults, ``synchronous_commit`` on);
- pymerkle ``SqliteTree`` (appends only: it stores no tree) and ``InmemoryTree``
  (appends and ``prove_inclusion``).

Every configuration runs in a fresh subprocess, so its peak RSS
(``ru_maxrss``) is its own; Accord is also run at 100,000 leaves to show that
memory stays flat. Writes a table to stdout, ``bench/out/log.json`` and, for a
run of at least 1,000,000 leaves, the "Log" section of ``BENCHMARKS.md``.

    python bench/bench_log.py [--quick] [--leaves N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import machine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "log.json"
BENCHMARKS = ROOT / "BENCHMARKS.md"
BATCH = 1_000
LEAF_BYTES = 300
INCLUSION = 10_000
CONSISTENCY = 1_000
SEED = 20_260_101
BIG_CACHE = 4_096
DEFAULT_PG = os.environ.get("ACCORD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


# -- the same data and queries for every configuration -----------------------------


def batches(leaves: int) -> Iterator[list[bytes]]:
    """Batches of 300-byte leaves, made on the fly (never all in memory at once)."""
    for start in range(0, leaves, BATCH):
        n = min(BATCH, leaves - start)
        blob = random.Random(SEED + start).randbytes(n * LEAF_BYTES)
        yield [blob[i : i + LEAF_BYTES] for i in range(0, len(blob), LEAF_BYTES)]


def inclusion_queries(leaves: int) -> list[tuple[int, int]]:
    """(0-based index, size) at random past sizes."""
    rng = random.Random(SEED + 1)
    out = []
    for _ in range(INCLUSION):
        size = rng.randint(1, leaves)
        out.append((rng.randrange(size), size))
    return out


def consistency_queries(leaves: int) -> list[tuple[int, int]]:
    rng = random.Random(SEED + 2)
    out = []
    for _ in range(CONSISTENCY):
        size2 = rng.randint(1, leaves)
        out.append((rng.randint(1, size2), size2))
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- children: one configuration each ----------------------------------------------


def child_accord(url: str, leaves: int, synchronous: str) -> dict[str, Any]:
    from accord.log import Log
    from accord.merkle import verify_consistency, verify_inclusion

    append_s = 0.0
    with Log.open(url, origin="bench.example/log", synchronous=synchronous) as log:  # type: ignore[arg-type]
        for batch in batches(leaves):
            append_s += timed(lambda b=batch: log.append_batch(b))
        rss_after_append = peak_rss_mb()
    # Proofs from storage: a freshly opened log, so the tile cache starts cold.
    with Log.open(url, synchronous=synchronous) as log:  # type: ignore[arg-type]
        incl = inclusion_queries(leaves)
        incl_s = timed(lambda: [log.inclusion_proof(i, s) for i, s in incl])
        cons = consistency_queries(leaves)
        cons_s = timed(lambda: [log.consistency_proof(a, b) for a, b in cons])
        hits, misses = log._cache.hits, log._cache.misses
        # Outside the timings: the proofs verify.
        for i, s in incl[:200]:
            leaf = log.leaf_hashes(i, i + 1)[0]
            verify_inclusion(i, s, leaf, log.inclusion_proof(i, s), log.root_hash(s))
        for a, b in cons[:200]:
            proof = log.consistency_proof(a, b)
            verify_consistency(a, b, proof, log.root_hash(a), log.root_hash(b))
        size = log.size
    assert size == leaves
    rss = peak_rss_mb()
    # What a cache holding every tile of a 1M-leaf log would give (not the default:
    # it would make memory grow with the log up to its bound; reported apart).
    with Log.open(url, cache_tiles=BIG_CACHE) as log:
        big_s = timed(lambda: [log.inclusion_proof(i, s) for i, s in incl])
    return {
        "append_per_s": leaves / append_s,
        "inclusion_per_s": INCLUSION / incl_s,
        "consistency_per_s": CONSISTENCY / cons_s,
        "tile_cache_hit_rate": hits / max(1, hits + misses),
        "inclusion_per_s_big_cache": INCLUSION / big_s,
        "peak_rss_after_append_mb": rss_after_append,
        "peak_rss_mb": rss,
    }


def child_pymerkle_sqlite(path: str, leaves: int) -> dict[str, Any]:
    from pymerkle import SqliteTree

    append_s = 0.0
    with SqliteTree(path) as tree:
        for batch in batches(leaves):
            append_s += timed(lambda b=batch: tree.append_entries(b))
        assert tree.get_size() == leaves
    return {"append_per_s": leaves / append_s, "peak_rss_mb": peak_rss_mb()}


def child_pymerkle_memory(leaves: int) -> dict[str, Any]:
    from pymerkle import InmemoryTree

    tree = InmemoryTree()
    append_s = 0.0
    for batch in batches(leaves):
        append_s += timed(lambda b=batch: tree.append_entries(b))
    incl = inclusion_queries(leaves)
    # pymerkle indices are 1-based.
    incl_s = timed(lambda: [tree.prove_inclusion(i + 1, s) for i, s in incl])
    return {
        "append_per_s": leaves / append_s,
        "inclusion_per_s": INCLUSION / incl_s,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_child(args: argparse.Namespace) -> None:
    config, leaves, where = args.child, args.leaves, args.where
    if config == "accord-sqlite":
        result = child_accord(where, leaves, "FULL")
    elif config == "accord-sqlite-normal":
        result = child_accord(where, leaves, "NORMAL")
    elif config == "accord-postgresql":
        result = child_accord(where, leaves, "FULL")
    elif config == "pymerkle-sqlite":
        result = child_pymerkle_sqlite(where, leaves)
    elif config == "pymerkle-inmemory":
        result = child_pymerkle_memory(leaves)
    else:
        raise SystemExit(f"unknown configuration {config}")
    print(json.dumps(result))


# -- the parent: fresh places, subprocesses, report -----------------------------------


def postgres_schema(base: str) -> tuple[str, Callable[[], None]] | None:
    try:
        import psycopg

        schema = "bench_" + uuid.uuid4().hex[:12]
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except Exception as exc:
        print(f"PostgreSQL at {base} is not available ({exc}); skipping it", file=sys.stderr)
        return None

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", drop


def spawn(config: str, leaves: int, where: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", config]
    cmd += ["--leaves", str(leaves), "--where", where]
    print(f"  {config} at {leaves:,} leaves ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{config} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def plan(leaves: int, small: int, pg: bool) -> list[tuple[str, str, int]]:
    """(result key, configuration, leaves) of every subprocess of one round."""
    out = [
        ("accord-sqlite@small", "accord-sqlite", small),
        ("accord-sqlite", "accord-sqlite", leaves),
        ("accord-sqlite-normal", "accord-sqlite-normal", leaves),
    ]
    if pg:
        out += [
            ("accord-postgresql@small", "accord-postgresql", small),
            ("accord-postgresql", "accord-postgresql", leaves),
        ]
    out += [
        ("pymerkle-sqlite", "pymerkle-sqlite", leaves),
        ("pymerkle-inmemory", "pymerkle-inmemory", leaves),
    ]
    return [(k.replace("small", str(small)), c, n) for k, c, n in out]


def one_round(leaves: int, small: int, pg_base: str | None) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="accord-bench-"))
    try:
        for key, config, n in plan(leaves, small, pg_base is not None):
            if config == "accord-postgresql":
                assert pg_base is not None
                made = postgres_schema(pg_base)
                if made is None:
                    continue
                url, drop = made
                try:
                    results[key] = spawn(config, n, url)
                finally:
                    drop()
            else:
                results[key] = spawn(config, n, str(tmp / f"{key}.db"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def best_of(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per configuration and metric, the best rate and the worst (largest) peak RSS
    (the largest value in both cases).

    The machine may be shared: the best of several interleaved rounds is the
    figure least disturbed by other load; memory is reported pessimistically.
    """
    out: dict[str, dict[str, Any]] = {}
    for key in rounds[0]:
        runs = [r[key] for r in rounds if key in r]
        merged: dict[str, Any] = {}
        for metric in runs[0]:
            values = [run[metric] for run in runs]
            merged[metric] = max(values)
        out[key] = merged
    return out


def ratios(results: dict[str, dict[str, Any]], small: int) -> dict[str, float]:
    out: dict[str, float] = {}
    pm_sql = results["pymerkle-sqlite"]["append_per_s"]
    pm_mem = results["pymerkle-inmemory"]["inclusion_per_s"]
    for backend in ("accord-sqlite", "accord-sqlite-normal", "accord-postgresql"):
        if backend not in results:
            continue
        r = results[backend]
        out[f"{backend}.append_vs_pymerkle_sqlite"] = r["append_per_s"] / pm_sql
        out[f"{backend}.inclusion_vs_pymerkle_inmemory"] = r["inclusion_per_s"] / pm_mem
        out[f"{backend}.inclusion_big_cache_vs_pymerkle_inmemory"] = (
            r["inclusion_per_s_big_cache"] / pm_mem
        )
        small_key = f"{backend}@{small}"
        if small_key in results:
            out[f"{backend}.rss_growth_mb_{small}_to_full"] = (
                r["peak_rss_mb"] - results[small_key]["peak_rss_mb"]
            )
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| configuration | append leaves/s | inclusion proofs/s | consistency proofs/s "
        f"| tile cache hits | peak RSS MB | inclusion/s, {BIG_CACHE:,}-tile cache |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for name, r in results.items():
        lines.append(
            f"| {name} | {fmt(r.get('append_per_s'), ',.0f')} "
            f"| {fmt(r.get('inclusion_per_s'), ',.0f')} "
            f"| {fmt(r.get('consistency_per_s'), ',.0f')} "
            f"| {fmt(r.get('tile_cache_hit_rate'), '.0%')} "
            f"| {fmt(r.get('peak_rss_mb'), '.0f')} "
            f"| {fmt(r.get('inclusion_per_s_big_cache'), ',.0f')} |"
        )
    return "\n".join(lines)


def markdown_section(report: dict[str, Any]) -> str:
    m = report["machine"]
    r = report["ratios"]
    lines = [
        "## Log: append and proofs (bench/bench_log.py)",
        "",
        f"Run {report['date']} on {m['cpu']}, {m['nproc']} CPUs, {m['memory_gib']} GiB, "
        f"{m['platform']}, Python {m['python']}.",
        f"{report['leaves']:,} leaves of {LEAF_BYTES} bytes in batches of {BATCH:,}; "
        f"{INCLUSION:,} inclusion and {CONSISTENCY:,} consistency proofs at random past "
        "sizes, read from storage by a freshly opened log (cold tile cache, 1,024 tiles). "
        "Each configuration runs in its own process (peak RSS is its own); the figures are "
        f"the best rate and the largest peak RSS of {report['repeat']} interleaved rounds "
        "(the machine is shared with other work, see bench/out/log.json for every round).",
        "",
        table(report["results"]),
        "",
        "Ratios (target: append >= 2x pymerkle SqliteTree, inclusion >= 2x pymerkle "
        "InmemoryTree, RSS < 500 MB and flat):",
        "",
    ]
    lines += [f"- {k}: {v:.2f}" for k, v in r.items()]
    return "\n".join(lines) + "\n"


def write_benchmarks_md(section: str) -> None:
    begin, end = "<!-- bench_log:begin -->", "<!-- bench_log:end -->"
    text = (
        BENCHMARKS.read_text()
        if BENCHMARKS.exists()
        else (
            "# Benchmarks\n\nFigures from `make bench` (bench/run.py); each section names its "
            "script, machine and date.\n"
        )
    )
    block = f"{begin}\n{section}{end}\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    BENCHMARKS.write_text(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (20,000 leaves)")
    parser.add_argument("--leaves", type=int, default=None)
    parser.add_argument("--postgres", default=DEFAULT_PG, help="base URL; 'none' to skip")
    parser.add_argument(
        "--repeat", type=int, default=None, help="interleaved rounds (default 3, 1 if --quick)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--where", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args)
        return 0
    leaves = args.leaves or (20_000 if args.quick else 1_000_000)
    small = max(1, leaves // 10)
    pg = None if args.postgres == "none" else args.postgres
    print(f"bench_log: {leaves:,} leaves (memory also at {small:,})", file=sys.stderr)
    repeat = args.repeat or (1 if args.quick else 3)
    rounds = []
    for r in range(repeat):
        print(f"round {r + 1} of {repeat}", file=sys.stderr)
        rounds.append(one_round(leaves, small, pg))
    results = best_of(rounds)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "leaves": leaves,
        "leaf_bytes": LEAF_BYTES,
        "batch": BATCH,
        "repeat": repeat,
        "results": results,
        "ratios": ratios(results, small),
        "rounds": rounds,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    for k, v in report["ratios"].items():
        print(f"{k}: {v:.2f}")
    if leaves >= 1_000_000:
        write_benchmarks_md(markdown_section(report))
        print(f"wrote {OUT} and the Log section of {BENCHMARKS}", file=sys.stderr)
    else:
        print(f"wrote {OUT} (BENCHMARKS.md is only written by a run of 1M leaves)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
