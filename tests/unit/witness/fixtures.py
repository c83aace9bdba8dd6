"""Shared test helpers: a log in memory that signs checkpoints, witnesses, and a witness runner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accord.merkle import MemoryTree, leaf_hash
from accord.note import Checkpoint, Cosigner, Note, Signer, sign_note
from accord.witness import (
    AddCheckpointRequest,
    MemoryWitnessStore,
    Result,
    WitnessState,
    process_add_checkpoint,
)

__all__ = [
    "LOG_KEY",
    "NOW",
    "ORIGIN",
    "OTHER_KEY",
    "W1",
    "W2",
    "W3",
    "FakeLog",
    "body",
    "run_witness",
]

ORIGIN = "example.com/hospital-a/audit-log"
LOG_KEY = Signer.from_private_bytes(ORIGIN, bytes(range(32)))
#: Another key under the same name: notes it signs are not the log's.
OTHER_KEY = Signer.from_private_bytes(ORIGIN, bytes(range(1, 33)))
W1 = Cosigner.from_private_bytes("witness.example/w1", b"\x01" * 32)
W2 = Cosigner.from_private_bytes("witness.example/w2", b"\x02" * 32)
W3 = Cosigner.from_private_bytes("witness.example/w3", b"\x03" * 32)
NOW = 1_700_000_000


class FakeLog:
    """An RFC 9162 log over leaves ``b"<branch>/<i>"`` that signs checkpoints with LOG_KEY.

    Two FakeLogs with the same ``prefix`` leaves and different ``branch`` names
    are a fork: they share the first ``prefix`` leaves and differ after.
    """

    def __init__(self, size: int = 0, *, branch: str = "main", prefix: int = 0) -> None:
        self.branch = branch
        self.prefix = prefix
        self.tree = MemoryTree()
        self.grow(size)

    def leaf(self, i: int) -> bytes:
        name = "main" if i < self.prefix else self.branch
        return f"{name}/{i}".encode()

    def grow(self, size: int) -> None:
        while self.tree.size < size:
            self.tree.append(leaf_hash(self.leaf(self.tree.size)))

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        n = self.tree.size if size is None else size
        return Checkpoint(ORIGIN, n, self.tree.root(n))

    def note(self, size: int | None = None, *, signer: Signer = LOG_KEY) -> Note:
        return sign_note(self.checkpoint(size).format(), signer)

    def proof(self, size1: int, size2: int) -> list[bytes]:
        if size1 == 0 or size1 == size2:
            return []
        return self.tree.consistency_proof(size1, size2)

    def request(self, old: int, size: int, proof: Sequence[bytes] | None = None) -> bytes:
        return body(old, self.proof(old, size) if proof is None else proof, self.note(size))

    def cosigned(self, size: int, *witnesses: Cosigner, ts: int = NOW) -> Note:
        cp = self.checkpoint(size)
        return self.note(size).with_signatures(*(w.cosign(cp, ts) for w in witnesses))

    def state(self, size: int, *witnesses: Cosigner) -> WitnessState:
        return WitnessState.from_note(self.cosigned(size, *witnesses))


def body(old: int, proof: Sequence[bytes], note: Note) -> bytes:
    """An add-checkpoint request body."""
    return AddCheckpointRequest.make(old, proof, note).to_bytes()


def run_witness(
    store: MemoryWitnessStore,
    request: bytes | str,
    *,
    cosigner: Cosigner = W1,
    now: int = NOW,
    logs: dict[str, Any] | None = None,
    **overrides: Any,
) -> Result:
    """process_add_checkpoint against ``store`` for the log ORIGIN (LOG_KEY)."""
    if isinstance(request, str):
        request = request.encode("utf-8")
    kwargs: dict[str, Any] = {**store.seams(), **overrides}
    return process_add_checkpoint(
        request,
        logs={ORIGIN: LOG_KEY.verifier()} if logs is None else logs,
        cosigner=cosigner,
        now_seconds=now,
        **kwargs,
    )
