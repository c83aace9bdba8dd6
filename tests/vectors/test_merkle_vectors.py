"""RFC 9162 vectors from ../shared/testdata/tlog: roots, inclusion and consistency proofs."""

from __future__ import annotations

from typing import Any

import pytest

from accord.errors import VerificationError
from accord.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.conftest import load_vectors

ROOTS = load_vectors("tlog/merkle_roots.json")
INCLUSION = load_vectors("tlog/inclusion_proofs.json")["cases"]
CONSISTENCY = load_vectors("tlog/consistency_proofs.json")["cases"]


def _byte_i_tree() -> MemoryTree:
    tree = next(t for t in ROOTS["trees"] if t["name"] == "byte-i")
    return MemoryTree(bytes.fromhex(h) for h in tree["leaf_hashes_hex"])


BYTE_I = _byte_i_tree()


def test_hasher_vectors() -> None:
    by_id = {v["id"]: v for v in ROOTS["hasher_vectors"]}
    assert EMPTY_ROOT.hex() == by_id["empty-tree"]["expected_hex"]
    assert root_hash([]).hex() == by_id["empty-tree"]["expected_hex"]
    assert leaf_hash(b"").hex() == by_id["empty-leaf"]["expected_hex"]
    assert leaf_hash(b"L123456").hex() == by_id["leaf-L123456"]["expected_hex"]
    assert node_hash(b"N123", b"N456").hex() == by_id["node-N123-N456"]["expected_hex"]


@pytest.mark.parametrize("tree", ROOTS["trees"], ids=lambda t: t["name"])
def test_roots_at_every_size(tree: dict[str, Any]) -> None:
    hashes = [leaf_hash(bytes.fromhex(x)) for x in tree["leaves_hex"]]
    mem = MemoryTree(hashes)
    for size, expected in enumerate(tree["roots_hex_by_size"]):
        assert root_hash(hashes[:size]).hex() == expected
        assert mem.root(size).hex() == expected


def _hashes(hex_list: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hex_list]


@pytest.mark.parametrize("case", INCLUSION, ids=lambda c: c["id"])
def test_inclusion_vectors(case: dict[str, Any]) -> None:
    args = (
        case["leaf_index"],
        case["tree_size"],
        bytes.fromhex(case["leaf_hash_hex"]),
        _hashes(case["proof_hex"]),
        bytes.fromhex(case["root_hex"]),
    )
    if case["valid"]:
        verify_inclusion(*args)
    else:
        with pytest.raises(VerificationError):
            verify_inclusion(*args)
    if case["valid"] and case["id"].startswith("gen/"):
        proof = BYTE_I.inclusion_proof(case["leaf_index"], case["tree_size"])
        assert [p.hex() for p in proof] == case["proof_hex"]


@pytest.mark.parametrize("case", CONSISTENCY, ids=lambda c: c["id"])
def test_consistency_vectors(case: dict[str, Any]) -> None:
    args = (
        case["size1"],
        case["size2"],
        _hashes(case["proof_hex"]),
        bytes.fromhex(case["root1_hex"]),
        bytes.fromhex(case["root2_hex"]),
    )
    if case["valid"]:
        verify_consistency(*args)
    else:
        with pytest.raises(VerificationError):
            verify_consistency(*args)
    if case["valid"] and case["id"].startswith("gen/") and case["size1"] > 0:
        proof = BYTE_I.consistency_proof(case["size1"], case["size2"])
        assert [p.hex() for p in proof] == case["proof_hex"]
