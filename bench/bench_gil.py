"""Why the node's SQLite writes are sent as multi-row INSERTs: the GIL hand-off per row.

Python's ``sqlite3`` releases the GIL around every ``sqlite3_step``; ``executemany``
steps once per row. While another thread of the process runs Python, each release
may cost up to the interpreter's switch interval (5 ms) to get the GIL back. This
script inserts the same rows (2,000 per transaction, 10 transactions alone and 2 beside
busy threads (one row may then take milliseconds), a table with a
primary key and one secondary index, as the node's projection tables have) through
``accord.store.Database`` in two ways, beside 0, 1 and 2 threads that only run Python:

- ``per-row``: ``sqlite3`` ``executemany`` on the raw connection (one step per row);
- ``multi-row``: ``Tx.executemany`` (:mod:`accord.store.multirow`: 1,024 rows a statement).

Usage: ``.venv/bin/python bench/bench_gil.py [--quick]``. Writes bench/out/gil.json; the
"GIL hand-offs" part of BENCHMARKS.md's node section quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from accord.store import Database, Step
from common import machine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "gil.json"
STEPS = (
    Step(
        "0001-t",
        (
            "CREATE TABLE t (a BLOB PRIMARY KEY, b INTEGER NOT NULL, c TEXT NOT NULL)",
            "CREATE INDEX t_bc ON t (b, c)",
        ),
    ),
)
SQL = "INSERT INTO t (a, b, c) VALUES (?, ?, ?)"


def _spin(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(1_000):
            x += 1


def run(way: str, busy: int, batches: int, rows: int) -> float:
    """Microseconds per row."""
    with tempfile.TemporaryDirectory() as tmp, Database.open(str(Path(tmp) / "g.db")) as db:
        db.migrate("bench", STEPS)
        stop = threading.Event()
        spinners = [threading.Thread(target=_spin, args=(stop,)) for _ in range(busy)]
        for s in spinners:
            s.start()
        try:
            started = time.perf_counter()
            for k in range(batches):
                batch = [(os.urandom(16), k * rows + i, f"x{i}") for i in range(rows)]
                with db.transaction() as tx:
                    if way == "per-row":
                        tx._cursor().executemany(SQL, batch)
                    else:
                        tx.executemany(SQL, batch)
            elapsed = time.perf_counter() - started
        finally:
            stop.set()
            for s in spinners:
                s.join()
    return elapsed / (batches * rows) * 1e6


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer transactions")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    for busy in (0, 1, 2):
        batches = (3 if args.quick else 10) if busy == 0 else (1 if args.quick else 2)
        for way in ("per-row", "multi-row"):
            us = run(way, busy, batches, 2_000)
            results.append({"way": way, "busy_threads": busy, "us_per_row": round(us, 1)})
            print(f"  {way:9} beside {busy} busy thread(s): {us:8.1f} us/row", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
