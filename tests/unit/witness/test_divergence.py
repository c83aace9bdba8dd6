"""What proves two checkpoints conflict: prefix roots from proofs, consistency edge cases."""

from __future__ import annotations

import pytest

from accord.merkle import EMPTY_ROOT
from accord.note import Checkpoint
from accord.witness import consistent, divergent_prefix, prefix_root
from tests.unit.witness.fixtures import ORIGIN, FakeLog

HONEST = FakeLog(40)


def _pow2(n: int) -> bool:
    return n & (n - 1) == 0


def test_prefix_root_of_honest_proofs_is_the_real_prefix_root() -> None:
    tree = HONEST.tree
    checked = 0
    for size2 in range(2, 41):
        for size1 in range(1, size2):
            proof = tree.consistency_proof(size1, size2)
            got = prefix_root(size1, size2, proof, tree.root(size2))
            if _pow2(size1):
                assert got is None  # the proof omits the old root
            else:
                assert got == tree.root(size1), (size1, size2)
                checked += 1
    assert checked > 500


def test_prefix_root_refuses_what_does_not_lead_to_the_root() -> None:
    tree = HONEST.tree
    proof = tree.consistency_proof(5, 13)
    root = tree.root(13)
    assert prefix_root(5, 13, proof, root) == tree.root(5)
    cases = {
        "wrong root": (5, 13, proof, tree.root(12)),
        "flipped bit": (5, 13, [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]], root),
        "truncated": (5, 13, proof[:-1], root),
        "extra hash": (5, 13, [*proof, proof[0]], root),
        "empty": (5, 13, [], root),
        "sizes swapped": (13, 5, proof, root),
        "equal sizes": (5, 5, proof, root),
        "size1 zero": (0, 13, proof, root),
        "short hash": (5, 13, [proof[0][:31], *proof[1:]], root),
        "short root": (5, 13, proof, root[:31]),
        "not bytes": (5, 13, ["x" * 32, *proof[1:]], root),
    }
    for name, (s1, s2, p, r) in cases.items():
        assert prefix_root(s1, s2, p, r) is None, name  # type: ignore[arg-type]


def test_a_forks_own_proof_reveals_its_other_prefix() -> None:
    # Branch B shares 3 leaves with the honest log, then differs.
    fork = FakeLog(13, branch="b", prefix=3)
    for size1 in (5, 6, 7, 9, 12):
        held = HONEST.checkpoint(size1)
        shown = fork.checkpoint(13)
        proof = fork.proof(size1, 13)
        assert divergent_prefix(held, shown, proof) == fork.tree.root(size1)
        assert not consistent(held, shown, proof)
    # At a power of two the proof cannot reveal it: the conflict is only a failed proof.
    assert divergent_prefix(HONEST.checkpoint(8), fork.checkpoint(13), fork.proof(8, 13)) is None
    assert not consistent(HONEST.checkpoint(8), fork.checkpoint(13), fork.proof(8, 13))


def test_honest_proofs_reveal_nothing() -> None:
    for size1 in (3, 5, 6, 7):
        small, large = HONEST.checkpoint(size1), HONEST.checkpoint(13)
        assert divergent_prefix(small, large, HONEST.proof(size1, 13)) is None
        assert consistent(small, large, HONEST.proof(size1, 13))


def test_consistency_edge_cases() -> None:
    empty = Checkpoint(ORIGIN, 0, EMPTY_ROOT)
    bogus_empty = Checkpoint(ORIGIN, 0, HONEST.tree.root(1))
    five, eight = HONEST.checkpoint(5), HONEST.checkpoint(8)
    assert consistent(empty, five, [])
    assert consistent(empty, empty, [])
    assert not consistent(empty, five, HONEST.proof(1, 5))
    assert not consistent(bogus_empty, five, [])
    assert not consistent(empty, bogus_empty, [])
    assert consistent(five, five, [])
    assert not consistent(five, Checkpoint(ORIGIN, 5, HONEST.tree.root(6)), [])
    assert not consistent(eight, five, HONEST.proof(5, 8))


@pytest.mark.parametrize("size1", [1, 2, 4, 8, 16, 32])
def test_powers_of_two_never_reveal(size1: int) -> None:
    fork = FakeLog(40, branch="b", prefix=0)
    assert (
        divergent_prefix(HONEST.checkpoint(size1), fork.checkpoint(40), fork.proof(size1, 40))
        is None
    )
