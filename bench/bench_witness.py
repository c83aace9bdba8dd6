"""Throughput of the witness core: add-checkpoint, cosignature checks, evidence, gossip.

Run: ``.venv/bin/python bench/bench_witness.py [--seconds S | --quick]`` (or ``make bench``).
In memory (MemoryWitnessStore), so it measures the protocol work: parsing, the log's
Ed25519 signature, the consistency proof and the cosignature. Numbers depend on the
machine: copy them into BENCHMARKS.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable

from accord.merkle import MemoryTree, leaf_hash
from accord.note import Checkpoint, Cosigner, Signer, sign_note
from accord.witness import (
    AddCheckpointRequest,
    Evidence,
    MemoryWitnessStore,
    WitnessState,
    handle_response,
    process_add_checkpoint,
    process_gossip,
    verify_evidence,
)

ORIGIN = "accord.example/bench/log"
LOG = Signer.from_private_bytes(ORIGIN, bytes(range(32)))
W1 = Cosigner.from_private_bytes("accord.example/bench/w1", b"\x01" * 32)
W2 = Cosigner.from_private_bytes("accord.example/bench/w2", b"\x02" * 32)
TREE_SIZE = 1 << 14
STEPS = 2000


def rate(step: Callable[[int], object], seconds: float) -> tuple[float, int]:
    """Calls of ``step(i)`` per second over about ``seconds`` (after a short warm-up)."""
    for i in range(20):
        step(i)
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            step(count)
            count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start), count


def report(name: str, per_second: float, count: int) -> None:
    print(f"{name:<58} {per_second:>11,.0f} /s {1e6 / per_second:>8.2f} us  (n={count})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds = 0.3 if args.quick else args.seconds
    print(f"# {platform.node()} {platform.machine()} Python {sys.version.split()[0]}")

    tree = MemoryTree(leaf_hash(i.to_bytes(4, "big")) for i in range(TREE_SIZE + STEPS))
    base = tree.size - STEPS
    notes = [
        sign_note(Checkpoint(ORIGIN, base + i, tree.root(base + i)).format(), LOG)
        for i in range(STEPS)
    ]
    bodies = [
        AddCheckpointRequest(
            base + i, tuple(tree.consistency_proof(base + i, base + i + 1)), notes[i + 1]
        ).to_bytes()
        for i in range(STEPS - 1)
    ]
    logs = {ORIGIN: LOG.verifier()}

    store = MemoryWitnessStore()
    store.set_state(WitnessState.from_note(notes[0]))

    def add(i: int) -> None:
        j = i % (STEPS - 1)
        if j == 0:  # start the walk again from the first checkpoint
            store.set_state(WitnessState.from_note(notes[0]))
        result = process_add_checkpoint(
            bodies[j], logs=logs, cosigner=W1, now_seconds=1_700_000_000 + i, **store.seams()
        )
        if result.status != 200:
            raise SystemExit(f"unexpected {result.status}: {result.error}")

    report(f"add-checkpoint, advance by 1 at size ~{base:,}", *rate(add, seconds))

    cp = Checkpoint.parse(notes[5].text)
    answer = W1.cosign(cp, 1_700_000_000).format().encode()
    report(
        "handle_response: verify a witness's cosignature",
        *rate(lambda i: handle_response(200, "text/plain", answer, cp, W1.verifier()), seconds),
    )

    forked_root = leaf_hash(b"another history")
    forked = sign_note(Checkpoint(ORIGIN, base, forked_root).format(), LOG)
    fork = Evidence(ORIGIN, "fork", notes[0], forked, detected_at=1)
    report(
        "verify_evidence: a fork (two log signatures)",
        *rate(lambda i: verify_evidence(fork, LOG.verifier()), seconds),
    )

    gossip_store = MemoryWitnessStore()
    gossip_store.set_state(WitnessState.from_note(notes[0]))
    gossiped = [
        notes[i].with_signatures(W2.cosign(Checkpoint.parse(notes[i].text), 1))
        for i in range(1, 200)
    ]

    def gossip(i: int) -> None:
        note = gossiped[i % len(gossiped)]
        (outcome,) = process_gossip(
            [note],
            logs=logs,
            witnesses=[W2.verifier()],
            consistency_proof=lambda o, s1, s2: tree.consistency_proof(s1, s2),
            now_seconds=1,
            **{k: v for k, v in gossip_store.seams().items() if k != "cas_state"},
        )
        if outcome.status != "consistent":
            raise SystemExit(f"unexpected {outcome}")

    report("process_gossip: one honest cosigned checkpoint", *rate(gossip, seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
