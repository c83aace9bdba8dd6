"""Range proofs over compact ranges (transparency-dev/merkle docs/compact_ranges.md).

A range proof shows that leaves ``[start, end)`` are exactly those positions of
the tree of ``size`` with root R. It carries the node hashes of the compact
ranges of ``[0, start)`` and ``[end, size)``, left part first: at most about
2*log2(size) hashes, and none when the range is the whole tree. The verifier
derives from (start, end, size) alone how many nodes each part has and where
they sit, so a proof with surplus, missing or misplaced hashes never verifies
(shared/reference/tlog.md section 4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from accord.errors import BadProofError, RootMismatchError, UsageError
from accord.merkle.hashing import HASH_SIZE, fold_right
from accord.merkle.nodes import NodeReader, ProofPlan, compact_range

__all__ = ["range_plan", "range_proof", "root_from_range_proof", "root_plan", "verify_range"]

_sha256 = hashlib.sha256


def range_plan(start: int, end: int, size: int) -> ProofPlan:
    """Plan of the range proof for leaves ``[start, end)`` of the tree of ``size``."""
    if not 0 <= start <= end <= size:
        raise UsageError(f"range [{start}, {end}) is not within a tree of size {size}")
    nodes = compact_range(0, start) + compact_range(end, size)
    return ProofPlan(tuple((n,) for n in nodes))


def root_plan(size: int) -> ProofPlan:
    """Plan whose single part folds to the root of the tree of ``size`` (size > 0)."""
    if size <= 0:
        raise UsageError("the empty tree has no stored nodes")
    return ProofPlan((tuple(compact_range(0, size)),))


def range_proof(start: int, end: int, size: int, read: NodeReader) -> list[bytes]:
    return range_plan(start, end, size).run(read)


def root_from_range_proof(
    start: int, end: int, size: int, leaf_hashes: Sequence[bytes], proof: Sequence[bytes]
) -> bytes:
    """The root implied by leaves ``[start, end)`` and their range proof."""
    if not all(isinstance(v, int) for v in (start, end, size)):
        raise BadProofError("start, end and size must be integers")
    if not 0 <= start <= end <= size:
        raise BadProofError(f"range [{start}, {end}) is not within a tree of size {size}")
    if len(leaf_hashes) != end - start:
        raise BadProofError(f"{len(leaf_hashes)} leaf hashes for a range of {end - start}")
    left = compact_range(0, start)
    right = compact_range(end, size)
    if len(proof) != len(left) + len(right):
        raise BadProofError(
            f"range proof has {len(proof)} hashes, expected {len(left) + len(right)}"
        )
    for i, h in enumerate(list(leaf_hashes) + list(proof)):
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise BadProofError(f"hash {i} is not a {HASH_SIZE}-byte hash")

    stack: list[tuple[int, bytes]] = []  # (level, hash); levels strictly decreasing

    def push(level: int, h: bytes) -> None:
        while stack and stack[-1][0] == level:
            _, left_hash = stack.pop()
            h = _sha256(b"\x01" + left_hash + h).digest()
            level += 1
        stack.append((level, h))

    proof_iter = iter(proof)
    for level, _ in left:
        push(level, next(proof_iter))
    for h in leaf_hashes:
        push(0, h)
    for level, _ in right:
        push(level, next(proof_iter))
    return fold_right([h for _, h in stack])


def verify_range(
    start: int,
    end: int,
    size: int,
    leaf_hashes: Sequence[bytes],
    proof: Sequence[bytes],
    root_hash: bytes,
) -> None:
    """Raise a VerificationError unless the leaves are exactly ``[start, end)`` of ``root_hash``."""
    if not isinstance(root_hash, bytes) or len(root_hash) != HASH_SIZE:
        raise BadProofError("root hash is not a 32-byte hash")
    computed = root_from_range_proof(start, end, size, leaf_hashes, proof)
    if computed != root_hash:
        raise RootMismatchError("range proof does not lead to the root", root_hash, computed)
