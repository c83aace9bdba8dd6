"""The merkle verifiers take any arguments of their declared types and raise only AccordError.

Sizes and indices are arbitrary integers (negative, huge), hashes arbitrary
bytes, proofs arbitrary lists (wrong lengths, wrong element types), both at
random and near valid proofs.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import AccordError
from accord.merkle import (
    HASH_SIZE,
    MemoryTree,
    root_from_inclusion_proof,
    root_from_range_proof,
    verify_consistency,
    verify_inclusion,
    verify_range,
)

FUZZ = settings(max_examples=300, deadline=None)

ints = st.one_of(st.integers(-3, 70), st.integers(), st.integers(0, 2**64 + 1))
hashes = st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40))
elements = st.one_of(hashes, hashes, st.none(), st.text(max_size=33), st.integers())
proofs = st.one_of(st.lists(hashes, max_size=70), st.lists(elements, max_size=10))

TREE = MemoryTree.from_data(i.to_bytes(2, "big") for i in range(70))


def _only_accord_errors(fn: Any, *args: Any) -> Any:
    try:
        result = fn(*args)
    except AccordError:
        return None
    return result


@FUZZ
@given(ints, ints, hashes, proofs, hashes)
def test_verify_inclusion_random(
    index: int, size: int, leaf: bytes, proof: Any, root: bytes
) -> None:
    _only_accord_errors(verify_inclusion, index, size, leaf, proof, root)
    root2 = _only_accord_errors(root_from_inclusion_proof, index, size, leaf, proof)
    assert root2 is None or (isinstance(root2, bytes) and len(root2) == HASH_SIZE)


@FUZZ
@given(ints, ints, proofs, hashes, hashes)
def test_verify_consistency_random(s1: int, s2: int, proof: Any, r1: bytes, r2: bytes) -> None:
    _only_accord_errors(verify_consistency, s1, s2, proof, r1, r2)


@FUZZ
@given(ints, ints, ints, proofs, proofs, hashes)
def test_verify_range_random(
    start: int, end: int, size: int, leaves: Any, proof: Any, root: bytes
) -> None:
    _only_accord_errors(verify_range, start, end, size, leaves, proof, root)
    root2 = _only_accord_errors(root_from_range_proof, start, end, size, leaves, proof)
    assert root2 is None or (isinstance(root2, bytes) and len(root2) == HASH_SIZE)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 70), st.data())
def test_verifiers_near_valid_proofs(size: int, data: st.DataObject) -> None:
    """Real proofs with one argument replaced by a random value of the same type."""
    index = data.draw(st.integers(0, size - 1))
    size1 = data.draw(st.integers(1, size))
    start = data.draw(st.integers(0, size))
    end = data.draw(st.integers(start, size))
    inc = TREE.inclusion_proof(index, size)
    con = TREE.consistency_proof(size1, size)
    rng = TREE.range_proof(start, end, size)
    leaves = TREE.leaf_hashes(start, end)
    calls: list[tuple[Any, list[Any]]] = [
        (verify_inclusion, [index, size, TREE.leaf_hashes()[index], inc, TREE.root(size)]),
        (verify_consistency, [size1, size, con, TREE.root(size1), TREE.root(size)]),
        (verify_range, [start, end, size, leaves, rng, TREE.root(size)]),
    ]
    for fn, args in calls:
        position = data.draw(st.integers(0, len(args) - 1))
        original = args[position]
        if isinstance(original, int):
            args[position] = data.draw(ints)
        elif isinstance(original, bytes):
            args[position] = data.draw(hashes)
        else:
            args[position] = data.draw(proofs)
        _only_accord_errors(fn, *args)
