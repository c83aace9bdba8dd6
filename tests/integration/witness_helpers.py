"""Helpers for the witnessing tests: bounded polls, forged branches of a real node's log signed
with its real log key, and raw add-checkpoint requests over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from accord.merkle import MemoryTree, leaf_hash
from accord.note import Checkpoint, Note, Verifier, sign_note
from accord.quorum import Consortium
from accord.witness import AddCheckpointRequest
from tests.integration.nodes import RunningNode, access_statement

__all__ = [
    "Branch",
    "add_checkpoint",
    "consortium_of",
    "cosigned_by",
    "submit",
    "wait_for",
]

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 20.0) -> T:
    """Poll ``probe`` until it returns something truthy (bounded; short sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def consortium_of(rn: RunningNode) -> Consortium:
    assert rn.node.consortium is not None
    return rn.node.consortium


def submit(rn: RunningNode, count: int = 1) -> int:
    """Append ``count`` records at ``rn``; return the log size after."""
    org = rn.node.org
    statements = [rn.sign(access_statement(org=org, patient=f"MPI-{i}")) for i in range(count)]
    rn.client("source").submit(statements)
    return rn.node.log.size


def cosigned_by(log_node: RunningNode, witness: RunningNode, size: int) -> bool:
    """True once ``witness`` holds a cosigned checkpoint of ``log_node``'s log at ``size``."""
    state = witness.node.witnessing.store.read_state(log_node.node.origin)
    return state is not None and state.size == size


class Branch:
    """A history of a real node's log: its first ``keep`` entries, then forged ones.

    Checkpoints are signed with the node's real log key, as a log that forks would.
    """

    def __init__(self, rn: RunningNode, keep: int, extra: int, tag: str) -> None:
        self.rn = rn
        self.origin = rn.node.origin
        entries = rn.node.log.entries(0, keep)
        self.tree = MemoryTree(leaf_hash(e) for e in entries)
        for i in range(extra):
            self.tree.append(leaf_hash(f"forged/{tag}/{i}".encode()))

    @property
    def size(self) -> int:
        return self.tree.size

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        n = self.tree.size if size is None else size
        return Checkpoint(self.origin, n, self.tree.root(n))

    def note(self, size: int | None = None) -> Note:
        keys = self.rn.node.keys
        assert keys is not None
        return sign_note(self.checkpoint(size).format(), keys.log)

    def request(self, old: int, size: int | None = None) -> bytes:
        n = self.tree.size if size is None else size
        proof = self.tree.consistency_proof(old, n) if 0 < old < n else []
        return AddCheckpointRequest.make(old, proof, self.note(n)).to_bytes()


def add_checkpoint(witness: RunningNode, body: bytes) -> httpx.Response:
    """POST a raw add-checkpoint body to a node's witness endpoint."""
    return httpx.post(
        f"{witness.url}/v1/witness/add-checkpoint",
        content=body,
        headers={"Content-Type": "text/plain; charset=utf-8"},
        timeout=10,
    )


def log_verifier(rn: RunningNode) -> Verifier:
    return Verifier.parse(consortium_of(rn).member(rn.node.org).log_key)
