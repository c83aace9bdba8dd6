"""add-checkpoint over HTTP against one real node's witness endpoint (target: >= 500/s).

Run: ``.venv/bin/python bench/bench_witness_http.py [--quick] [--seconds S] [--postgres URL]``

A consortium of one real node (``accord serve`` in its own process, its
database on SQLite with ``synchronous=FULL``, or PostgreSQL) plus ``--logs``
members that exist only as keys: this script plays those logs. Each log pushes
checkpoints of its own growing tree in sequence, every request advancing the
log by ``--step`` entries with its consistency proof (the real protocol: old
size, proof, log-signed note; the node verifies the signature and the proof,
moves its state by compare-and-swap, commits, cosigns). The client verifies
every 200 answer's cosignature is well-formed by parsing it, not by verifying
it (that is the log's cost, not the witness's). With several logs, one client
thread per log pushes concurrently over its own keep-alive connection.

The played logs are not Accord nodes (nothing serves their entries), so the
node's recomputation of each log's verifiable index before cosigning
(``witness_index_check``, on by default in a consortium) is turned off: this is
the tlog-witness protocol alone. A real witness also fetches and replays the
new entries of each checkpoint; that cost is inside bench_consortium.py's
figures.

Reported: requests per second per configuration (one log; several logs at
once) and latency percentiles. Copy the figures into BENCHMARKS.md with the
machine and the date.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from accord.merkle import MemoryTree, leaf_hash
from accord.node.config import load_config, save_config
from accord.node.founding import join_consortium, new_consortium
from accord.node.membership import read_consortium
from accord.note import Checkpoint, Cosigner, Signer, parse_signature_lines, sign_note
from accord.quorum import Consortium, Member
from accord.witness import AddCheckpointRequest
from common import drop_schema, fresh_schema, percentile

TARGET = 500  # add-checkpoint requests per second per witness (the benchmark)
ACCORD = shutil.which("accord", path=str(Path(sys.executable).parent)) or "accord"


@dataclass
class BenchLog:
    """One log this script plays: its key, its tree and its precomputed request bodies."""

    origin: str
    signer: Signer
    bodies: list[bytes]


def make_log(i: int, requests: int, step: int, start: int) -> BenchLog:
    origin = f"bench.example/log-{i}"
    signer = Signer.from_private_bytes(origin, bytes([i + 1]) * 32)
    total = start + requests * step
    tree = MemoryTree(leaf_hash(f"{origin}/{n}".encode()) for n in range(total))

    def note(size: int) -> str:
        return sign_note(Checkpoint(origin, size, tree.root(size)).format(), signer).format()

    bodies = [AddCheckpointRequest.make(0, [], note(start)).to_bytes()]
    for r in range(requests):
        old, new = start + r * step, start + (r + 1) * step
        bodies.append(
            AddCheckpointRequest.make(old, tree.consistency_proof(old, new), note(new)).to_bytes()
        )
    return BenchLog(origin, signer, bodies)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def found(directory: Path, logs: list[BenchLog], database: str | None) -> Path:
    """The node directory of a one-node consortium whose other members are ``logs``."""
    founded = new_consortium(
        directory,
        [("witness", "Bench witness")],
        consortium_id="bench",
        ports={"witness": free_port()},
        witness_k=0,
        databases={"witness": database} if database else None,
    )
    base = read_consortium(founded.consortium_file)
    members = tuple(
        Member(
            org=f"log-{i}",
            name=f"Bench log {i}",
            url=f"http://127.0.0.1:{9 + i}",  # nothing listens there: never contacted
            origin=log.origin,
            log_key=log.signer.verifier().format(),
            witness_key=Cosigner.from_private_bytes(f"{log.origin}/witness", bytes([200 + i]) * 32)
            .verifier()
            .format(),
        )
        for i, log in enumerate(logs)
    )
    consortium = Consortium(base.id, (*base.members, *members), 0, base.trust)
    founded.consortium_file.write_text(consortium.format(), encoding="utf-8")
    node_dir = founded.nodes["witness"].directory
    join_consortium(node_dir, founded.consortium_file)
    config = load_config(node_dir)
    # The played logs are not Accord nodes: nothing serves their entries, so the witness's
    # recomputation of each log's index (on by default in a consortium) is off here and
    # this measures the tlog-witness protocol itself.
    policy = config.policy.model_copy(
        update={
            "gossip_interval_ms": 0,
            "witness_retry_max_ms": 3_600_000,
            "witness_index_check": False,
        }
    )
    save_config(node_dir, config.model_copy(update={"policy": policy}))
    return node_dir


def serve(node_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [ACCORD, "serve", str(node_dir), "--unseal-dir", str(node_dir / "shares")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    serve_file = node_dir / "serve.json"
    while not serve_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            said = proc.stderr.read() if proc.stderr else ""
            raise SystemExit(f"accord serve did not start: {said}")
        time.sleep(0.05)
    url = str(json.loads(serve_file.read_text())["url"])
    while httpx.get(f"{url}/v1/health").json()["sealed"]:
        time.sleep(0.05)
    return proc, url


def push(
    url: str, log: BenchLog, seconds: float, latencies: list[float], counts: list[int]
) -> None:
    """Push ``log``'s checkpoints in order for about ``seconds``; 200 every time, or exit.

    ``http.client`` on one keep-alive connection: a light client (headers and body in
    one write), so that the machine's CPUs go to the witness being measured.
    """
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    done = 0
    deadline = time.perf_counter() + seconds
    try:
        for body in log.bodies:
            started = time.perf_counter()
            conn.request("POST", "/v1/witness/add-checkpoint", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                raise SystemExit(f"{log.origin}: {response.status} {answer[:200]!r}")
            parse_signature_lines(answer)
            latencies.append(elapsed)
            done += 1
            if started > deadline:
                break
        else:
            print(f"  ({log.origin} ran out of precomputed requests)", file=sys.stderr)
    finally:
        conn.close()
    log.bodies = log.bodies[done:]  # a later run continues where this one stopped
    counts.append(done)


def run(url: str, logs: list[BenchLog], seconds: float) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counts: list[int] = []
    threads = [
        threading.Thread(target=push, args=(url, log, seconds, latencies, counts)) for log in logs
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return sum(counts) / elapsed, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about 2 s each)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--logs", type=int, default=4, help="logs pushing at once (second run)")
    parser.add_argument("--step", type=int, default=4, help="entries per checkpoint advance")
    parser.add_argument("--start", type=int, default=100_000, help="log size at first contact")
    parser.add_argument("--postgres", help="a PostgreSQL URL for the node (default: SQLite)")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    per_log = int(seconds * 1500) + 100  # more than a log can push in the time given
    cpus = os.cpu_count()
    print(
        f"# {platform.node()} {platform.machine()} {cpus} CPUs, Python {sys.version.split()[0]}, "
        f"{time.strftime('%Y-%m-%d')}; node database: {'PostgreSQL' if args.postgres else 'SQLite'}"
    )
    print(f"# precomputing {args.logs} logs x {per_log} requests (step {args.step}) ...")
    logs = [make_log(i, per_log, args.step, args.start) for i in range(args.logs)]
    database = fresh_schema(args.postgres) if args.postgres else None
    with tempfile.TemporaryDirectory() as tmp:
        node_dir = found(Path(tmp) / "bench", logs, database)
        proc, url = serve(node_dir)
        try:
            # Warm up (first contact at old 0 for every log), then measure.
            for log in logs:
                body, log.bodies = log.bodies[0], log.bodies[1:]
                httpx.post(f"{url}/v1/witness/add-checkpoint", content=body).raise_for_status()
            print(f"{'configuration':<34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'n':>7}")
            runs = [("1 log, sequential", logs[:1]), (f"{len(logs)} logs at once", logs)]
            for name, chosen in runs:
                rate, lat = run(url, chosen, seconds)
                print(
                    f"{name:<34} {rate:>8,.0f} {percentile(lat, 50) * 1e3:>8.2f} "
                    f"{percentile(lat, 99) * 1e3:>8.2f} {len(lat):>7}",
                    flush=True,
                )
            verdict = "met" if rate >= TARGET else "NOT met"
            print(f"# target >= {TARGET}/s per witness (logs at once): {verdict}")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            if database is not None and args.postgres:
                drop_schema(args.postgres, database)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
