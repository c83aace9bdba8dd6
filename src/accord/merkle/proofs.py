"""RFC 9162 inclusion and consistency proofs: generation plans and strict verification.

Generation follows RFC 9162 section 2.1.3.1 (PATH) and 2.1.4.1 (SUBPROOF) and
returns a :class:`ProofPlan`; verification follows RFC 9162 sections 2.1.3.2
and 2.1.4.2 with the strict length and edge-case rules of transparency-dev/merkle
``proof/verify.go`` at 417fb0c3 (see shared/reference/tlog.md sections 2 and 3).
Indices are 0-based; hashes are 32-byte ``bytes``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from accord.errors import BadProofError, RootMismatchError, UsageError
from accord.merkle.hashing import HASH_SIZE
from accord.merkle.nodes import NodeReader, ProofPlan, subtree_nodes

__all__ = [
    "consistency_plan",
    "consistency_proof",
    "inclusion_plan",
    "inclusion_proof",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256


def _split(n: int) -> int:
    """Largest power of two strictly below n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# -- generation ------------------------------------------------------------------


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """Plan of PATH(index, D[0:size]): sibling first, upward."""
    if not 0 <= index < size:
        raise UsageError(f"leaf index {index} is not in a tree of size {size}")
    parts = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split(end - begin)
        if index - begin < k:
            parts.append(subtree_nodes(begin + k, end))
            end = begin + k
        else:
            parts.append(subtree_nodes(begin, begin + k))
            begin += k
    parts.reverse()
    return ProofPlan(tuple(parts))


def consistency_plan(size1: int, size2: int) -> ProofPlan:
    """Plan of PROOF(size1, D[0:size2]); empty when the sizes are equal."""
    if not 0 < size1 <= size2:
        raise UsageError(f"no consistency proof from size {size1} to size {size2}")
    parts = []
    begin, end, known = 0, size2, True
    while size1 - begin != end - begin:
        k = _split(end - begin)
        if size1 - begin <= k:
            parts.append(subtree_nodes(begin + k, end))
            end = begin + k
        else:
            parts.append(subtree_nodes(begin, begin + k))
            begin += k
            known = False
    if not known:
        parts.append(subtree_nodes(begin, end))
    parts.reverse()
    return ProofPlan(tuple(parts))


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    """Inclusion proof of leaf ``index`` in the tree of ``size``, from stored perfect nodes."""
    return inclusion_plan(index, size).run(read)


def consistency_proof(size1: int, size2: int, read: NodeReader) -> list[bytes]:
    """Consistency proof from ``size1`` to ``size2``, from stored perfect nodes."""
    return consistency_plan(size1, size2).run(read)


# -- verification ----------------------------------------------------------------


def _check_hash(value: object, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise BadProofError(f"{what} is not a {HASH_SIZE}-byte hash")


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        _check_hash(h, f"proof hash {i}")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """(inner, border): proof hashes below and on the right border (transparency-dev)."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root implied by an inclusion proof; BadProofError if its shape is wrong."""
    if not isinstance(index, int) or not isinstance(size, int) or index < 0:
        raise BadProofError("index and size must be non-negative integers")
    if index >= size:
        raise BadProofError(f"index {index} is beyond a tree of size {size}")
    _check_hash(leaf_hash, "leaf hash")
    _check_proof(proof)
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise BadProofError(
            f"inclusion proof has {len(proof)} hashes, expected {inner + border}",
            index=index,
            size=size,
        )
    seed = leaf_hash
    for i in range(inner):
        h = proof[i]
        if (index >> i) & 1:
            seed = _sha256(b"\x01" + h + seed).digest()
        else:
            seed = _sha256(b"\x01" + seed + h).digest()
    for h in proof[inner:]:
        seed = _sha256(b"\x01" + h + seed).digest()
    return seed


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Raise a VerificationError unless ``proof`` shows leaf ``index`` in the tree ``root_hash``."""
    _check_hash(root_hash, "root hash")
    computed = root_from_inclusion_proof(index, size, leaf_hash, proof)
    if computed != root_hash:
        raise RootMismatchError(
            "inclusion proof does not lead to the root", expected=root_hash, computed=computed
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise a VerificationError unless ``proof`` shows tree (size1, root1) is a prefix of
    (size2, root2). Edge cases in the order of shared/reference/tlog.md section 3.
    """
    if not isinstance(size1, int) or not isinstance(size2, int) or size1 < 0:
        raise BadProofError("sizes must be non-negative integers")
    if not isinstance(root1, bytes) or not isinstance(root2, bytes):
        raise BadProofError("roots must be bytes")
    _check_proof(proof)
    if size1 > size2:
        raise BadProofError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == 0:
        raise BadProofError("no consistency proof starts from the empty tree")
    if size1 == size2:
        # As transparency-dev/merkle: equal sizes need equal roots, byte for byte.
        if proof:
            raise BadProofError("a proof between equal sizes must be empty")
        if root1 != root2:
            raise RootMismatchError("equal sizes, different roots", root1, root2)
        return
    if not proof:
        raise BadProofError("empty consistency proof")
    _check_hash(root1, "first root")
    _check_hash(root2, "second root")

    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    if size1 == 1 << shift:
        seed, start = root1, 0
    else:
        seed, start = proof[0], 1
    if len(proof) != start + inner + border:
        raise BadProofError(
            f"consistency proof has {len(proof)} hashes, expected {start + inner + border}",
            size1=size1,
            size2=size2,
        )
    rest = proof[start:]
    mask = (size1 - 1) >> shift

    hash1 = seed
    hash2 = seed
    for i in range(inner):
        h = rest[i]
        if (mask >> i) & 1:
            hash1 = _sha256(b"\x01" + h + hash1).digest()
            hash2 = _sha256(b"\x01" + h + hash2).digest()
        else:
            hash2 = _sha256(b"\x01" + hash2 + h).digest()
    for h in rest[inner:]:
        hash1 = _sha256(b"\x01" + h + hash1).digest()
        hash2 = _sha256(b"\x01" + h + hash2).digest()
    if hash1 != root1:
        raise RootMismatchError("consistency proof does not lead to the first root", root1, hash1)
    if hash2 != root2:
        raise RootMismatchError("consistency proof does not lead to the second root", root2, hash2)
