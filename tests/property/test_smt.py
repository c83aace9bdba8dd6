"""Property tests of the compact sparse Merkle map against the plain reference (section 5.2)."""

from __future__ import annotations

import hashlib
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import BadProofError, NotFoundError, VerificationError
from accord.index import (
    EMPTY_NODE,
    MapLeaf,
    MapProof,
    MapValue,
    SparseMap,
    parse_map_proof,
    verify_map_proof,
)
from tests.unit.index.reference import ref_path, ref_root

SETTINGS = settings(max_examples=60, deadline=None)


def _key(base: int, shift: int, noise: int) -> bytes:
    """A key sharing the top ``shift`` bits with ``base``: deep shared prefixes are common."""
    mask = (1 << (256 - shift)) - 1 if shift < 256 else 0
    return ((base & ~mask) | (noise & mask)).to_bytes(32, "big")


def key_sets(min_size: int = 0, max_size: int = 24) -> st.SearchStrategy[list[bytes]]:
    parts = st.tuples(st.integers(0, 256), st.integers(0, 2**256 - 1))
    return st.builds(
        lambda base, raw: sorted({_key(base, s, n) for s, n in raw}),
        st.integers(0, 2**256 - 1),
        st.lists(parts, min_size=min_size, max_size=max_size),
    ).filter(lambda keys: len(keys) >= min_size)


def _value(key: bytes, round_: int = 0) -> MapValue:
    return MapValue(1 + key[0] + round_, hashlib.sha256(key + bytes([round_])).digest())


def _build(items: dict[bytes, MapValue], seed: int, batches: int = 3) -> SparseMap:
    order = list(items)
    random.Random(seed).shuffle(order)
    tree = SparseMap(history=4)
    cuts = sorted(random.Random(seed + 1).choices(range(len(order) + 1), k=batches - 1))
    bounds = [0, *cuts, len(order)]
    for version, (a, b) in enumerate(itertools.pairwise(bounds), start=1):
        tree.update([(k, items[k].value_hash()) for k in order[a:b]], version)
    return tree


def _proof(tree: SparseMap, items: dict[bytes, MapValue], key: bytes) -> MapProof:
    siblings, other = tree.path(key)
    if other is None:
        return MapProof(tuple(siblings), None)
    if other == key:
        return MapProof(tuple(siblings), MapLeaf(other, value=items[other]))
    return MapProof(tuple(siblings), MapLeaf(other, value_hash=items[other].value_hash()))


@SETTINGS
@given(key_sets(), st.integers(0, 2**32))
def test_root_is_history_independent_and_matches_reference(keys: list[bytes], seed: int) -> None:
    items = {k: _value(k) for k in keys}
    expected = ref_root({k: v.value_hash() for k, v in items.items()})
    assert _build(items, seed).root == expected
    assert _build(items, seed + 7, batches=1).root == expected
    one_by_one = SparseMap()
    for version, key in enumerate(sorted(keys, reverse=True), start=1):
        one_by_one.update([(key, items[key].value_hash())], version)
    assert one_by_one.root == expected


@SETTINGS
@given(key_sets(min_size=1), st.integers(0, 2**32))
def test_updates_to_existing_keys_match_reference(keys: list[bytes], seed: int) -> None:
    items = {k: _value(k) for k in keys}
    tree = _build(items, seed)
    changed = random.Random(seed).sample(keys, k=max(1, len(keys) // 2))
    for k in changed:
        items[k] = _value(k, 1)
    tree.update([(k, items[k].value_hash()) for k in changed], tree.version + 1)
    assert tree.root == ref_root({k: v.value_hash() for k, v in items.items()})


@SETTINGS
@given(key_sets(min_size=1), key_sets(max_size=6), st.integers(0, 2**32))
def test_membership_and_non_membership_proofs(
    keys: list[bytes], probes: list[bytes], seed: int
) -> None:
    items = {k: _value(k) for k in keys}
    tree = _build(items, seed)
    plain = {k: v.value_hash() for k, v in items.items()}
    for key in keys:
        proof = _proof(tree, items, key)
        assert tree.path(key) == ref_path(plain, key)
        assert verify_map_proof(tree.root, key, proof) == (
            items[key].size,
            items[key].posting_root,
        )
        assert parse_map_proof(proof.format()) == proof
    for key in probes:
        if key in items:
            continue
        proof = _proof(tree, items, key)
        assert tree.path(key) == ref_path(plain, key)
        assert verify_map_proof(tree.root, key, proof) is None
        assert parse_map_proof(proof.format()) == proof


@SETTINGS
@given(key_sets(min_size=1), key_sets(max_size=6), st.integers(0, 2**32))
def test_no_other_proof_shows_a_present_key_absent(
    keys: list[bytes], probes: list[bytes], seed: int
) -> None:
    items = {k: _value(k) for k in keys}
    tree = _build(items, seed)
    candidates = []
    for other in keys + probes:
        proof = _proof(tree, items, other)
        leaf = proof.leaf
        if leaf is not None and leaf.value is not None:  # restate as another key's leaf
            proof = MapProof(
                proof.siblings, MapLeaf(leaf.key_id, value_hash=leaf.value.value_hash())
            )
        candidates.append(proof)
        candidates.append(MapProof(proof.siblings, None))
    for key in keys:
        for proof in candidates:
            if proof.leaf is not None and proof.leaf.key_id == key:
                continue
            with pytest.raises(VerificationError):
                verify_map_proof(tree.root, key, proof)


def _mutations(
    proof: MapProof, rnd: random.Random, other: MapLeaf | None = None
) -> list[tuple[str, MapProof]]:
    sibs = list(proof.siblings)
    out = [("empty terminal", MapProof(proof.siblings, None))]
    if other is not None:
        out.append(("swapped terminal: another key's leaf", MapProof(proof.siblings, other)))
        if other.value is not None:
            hidden = MapLeaf(other.key_id, value_hash=other.value.value_hash())
            out.append(("swapped terminal, value hidden", MapProof(proof.siblings, hidden)))
    if len(sibs) < 256:
        out.append(("extra empty sibling", MapProof((*sibs, EMPTY_NODE), proof.leaf)))
        out.append(("extra sibling", MapProof((*sibs, hashlib.sha256(b"x").digest()), proof.leaf)))
    if sibs:
        out.append(("missing last sibling", MapProof(tuple(sibs[:-1]), proof.leaf)))
        out.append(("missing first sibling", MapProof(tuple(sibs[1:]), proof.leaf)))
        i = rnd.randrange(len(sibs))
        flipped = bytearray(sibs[i])
        flipped[rnd.randrange(32)] ^= 1 << rnd.randrange(8)
        sibs2 = list(sibs)
        sibs2[i] = bytes(flipped)
        out.append(("flipped sibling bit", MapProof(tuple(sibs2), proof.leaf)))
        if len(sibs) > 1:
            j = (i + 1) % len(sibs)
            sibs3 = list(sibs)
            sibs3[i], sibs3[j] = sibs3[j], sibs3[i]
            if sibs3 != sibs:
                out.append(("swapped siblings", MapProof(tuple(sibs3), proof.leaf)))
    leaf = proof.leaf
    if leaf is not None:
        key = bytearray(leaf.key_id)
        key[rnd.randrange(32)] ^= 1 << rnd.randrange(8)
        if leaf.value is not None:
            out.append(
                ("flipped leaf key bit", MapProof(proof.siblings, MapLeaf(bytes(key), leaf.value)))
            )
            v = leaf.value
            out.append(
                (
                    "size changed",
                    MapProof(
                        proof.siblings, MapLeaf(leaf.key_id, MapValue(v.size + 1, v.posting_root))
                    ),
                )
            )
            out.append(
                (
                    "value hidden",
                    MapProof(proof.siblings, MapLeaf(leaf.key_id, value_hash=v.value_hash())),
                )
            )
    return out


@SETTINGS
@given(key_sets(min_size=1), st.integers(0, 2**32))
def test_every_mutated_membership_proof_is_refused(keys: list[bytes], seed: int) -> None:
    items = {k: _value(k) for k in keys}
    tree = _build(items, seed)
    rnd = random.Random(seed)
    for key in keys:
        other = rnd.choice(keys)
        swap = None if other == key else MapLeaf(other, items[other])
        for name, bad in _mutations(_proof(tree, items, key), rnd, swap):
            try:
                verify_map_proof(tree.root, key, bad)
            except VerificationError:
                continue
            pytest.fail(f"mutation {name!r} verified")


@SETTINGS
@given(key_sets(min_size=2), st.integers(0, 2**32))
def test_deeper_placement_of_a_leaf_is_not_canonical(keys: list[bytes], seed: int) -> None:
    """A leaf pushed below its shortest unique prefix (rule 3) is refused as such."""
    items = {k: _value(k) for k in keys}
    tree = _build(items, seed)
    for key in keys:
        proof = _proof(tree, items, key)
        if len(proof.siblings) == 256:
            continue
        bad = MapProof((*proof.siblings, EMPTY_NODE), proof.leaf)
        with pytest.raises(BadProofError, match="not canonical"):
            verify_map_proof(tree.root, key, bad)


@SETTINGS
@given(key_sets(min_size=1, max_size=12), st.integers(0, 2**32))
def test_history_walks_past_versions(keys: list[bytes], seed: int) -> None:
    rnd = random.Random(seed)
    tree = SparseMap(history=3)
    items: dict[bytes, MapValue] = {}
    snapshots = []
    for version in range(1, 6):
        batch = rnd.sample(keys, k=rnd.randint(0, len(keys)))
        for k in batch:
            items[k] = _value(k, version)
        tree.update([(k, items[k].value_hash()) for k in batch], version)
        snapshots.append((version, dict(items)))
    assert tree.versions() == [2, 3, 4, 5]
    for version, snap in snapshots:
        if version < 2:
            with pytest.raises(NotFoundError):
                tree.path(keys[0], version)
            continue
        plain = {k: v.value_hash() for k, v in snap.items()}
        assert tree.root_at(version) == ref_root(plain)
        for key in keys:
            assert tree.path(key, version) == ref_path(plain, key)
