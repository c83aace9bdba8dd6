"""pymerkle 7.0.0 as a second oracle for roots and inclusion proofs (tlog.md section 8).

pymerkle counts leaves from 1, and its inclusion paths start with the leaf
hash and carry a rule of bits; the adapter below converts an Accord proof
(0-based index, RFC 9162 PATH order) into a pymerkle ``InclusionProof``.
Its consistency proofs are not RFC 9162 and are not used. Its layout
functions can loop forever on inconsistent sizes, so every call is guarded by
a size check first, and the tests run under a timeout.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InclusionProof, InmemoryTree, InvalidProof
from pymerkle.core import _inclusion_path_layout

from accord.errors import VerificationError
from accord.merkle import MemoryTree, verify_inclusion

pytestmark = pytest.mark.timeout(120)


def _leaves(size: int, seed: bytes) -> list[bytes]:
    return [seed + i.to_bytes(4, "big") for i in range(size)]


def _pair(size: int, seed: bytes = b"") -> tuple[InmemoryTree, MemoryTree]:
    leaves = _leaves(size, seed)
    theirs = InmemoryTree(algorithm="sha256")
    for leaf in leaves:
        theirs.append_entry(leaf)
    return theirs, MemoryTree.from_data(leaves)


def _check_sizes(index: int, size: int, tree_size: int) -> None:
    """pymerkle's layouts assume 0 <= index < size <= tree size; refuse anything else."""
    if not (0 <= index < size <= tree_size):
        raise AssertionError(f"refusing to call pymerkle with index {index}, size {size}")


def pymerkle_verifies(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Verify an Accord inclusion proof with pymerkle (1-based index, leaf hash first)."""
    _check_sizes(index, size, size)
    rule, _ = _inclusion_path_layout(index + 1, size)
    theirs = InclusionProof("sha256", True, size, index + 1, rule, [leaf_hash, *proof])
    try:
        theirs.verify(leaf_hash, root, index=index + 1, size=size)
    except InvalidProof:
        return False
    return True


def test_roots_agree_at_every_size() -> None:
    theirs, ours = _pair(300, b"roots")
    for size in range(301):
        assert theirs.get_root(size) == ours.root(size)


@pytest.mark.parametrize("size", [1024, 2047, 4097])
def test_big_roots_agree(size: int) -> None:
    theirs, ours = _pair(size, b"big")
    assert theirs.get_root(size) == ours.root(size)
    assert theirs.get_root(size - 1) == ours.root(size - 1)


def test_inclusion_proofs_agree_exhaustively_up_to_64() -> None:
    theirs, ours = _pair(64, b"incl")
    hashes = ours.leaf_hashes()
    for size in range(1, 65):
        root = ours.root(size)
        for index in range(size):
            _check_sizes(index, size, theirs.get_size())
            proof = ours.inclusion_proof(index, size)
            their_proof = theirs.prove_inclusion(index + 1, size)
            assert their_proof.path == [hashes[index], *proof]
            assert pymerkle_verifies(index, size, hashes[index], proof, root)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 1500), st.data())
def test_inclusion_proofs_agree_on_random_trees(size: int, data: st.DataObject) -> None:
    theirs, ours = _pair(size, b"rand")
    hashes = ours.leaf_hashes()
    for _ in range(5):
        n = data.draw(st.integers(1, size), label="size")
        index = data.draw(st.integers(0, n - 1), label="index")
        _check_sizes(index, n, theirs.get_size())
        proof = ours.inclusion_proof(index, n)
        assert theirs.prove_inclusion(index + 1, n).path == [hashes[index], *proof]
        assert pymerkle_verifies(index, n, hashes[index], proof, ours.root(n))
        verify_inclusion(index, n, hashes[index], proof, ours.root(n))


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 500), st.data())
def test_both_oracles_reject_the_same_mutated_proofs(size: int, data: st.DataObject) -> None:
    _, ours = _pair(size, b"mut")
    hashes = ours.leaf_hashes()
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = ours.inclusion_proof(index, size)
    root = ours.root()
    k = data.draw(st.integers(0, max(len(proof) - 1, 0)), label="position")
    bit = data.draw(st.integers(0, 255), label="bit")
    mutated = [bytearray(h) for h in proof]
    if mutated:
        mutated[k][bit // 8] ^= 1 << (bit % 8)
    bad = [bytes(h) for h in mutated]
    other = (index + 1) % size
    for args in [
        (index, size, hashes[index], bad, root),
        (index, size, hashes[other], proof, root),
        (other, size, hashes[index], proof, root),
        (index, size, hashes[index], proof[:-1], root),
        (index, size, hashes[index], [*proof, root], root),
    ]:
        if args[3] == proof and args[2] == hashes[index] and args[0] == index:
            continue
        assert not pymerkle_verifies(*args)
        with pytest.raises(VerificationError):
            verify_inclusion(*args)
