"""Map proofs: JSON form, strict parsing, and each verifier rule of section 5.2 on its own."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from accord.errors import BadProofError, MalformedError, RootMismatchError
from accord.index import (
    EMPTY_NODE,
    MapLeaf,
    MapProof,
    MapValue,
    SparseMap,
    map_leaf_hash,
    map_value_hash,
    parse_map_proof,
    verify_map_proof,
)
from tests.unit.index.reference import ref_root


def h(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def key(bits: str) -> bytes:
    """A key id whose leading bits are ``bits`` and the rest zero."""
    return (int(bits, 2) << (256 - len(bits))).to_bytes(32, "big")


VALUE = MapValue(3, h("root"))


def test_hash_definitions() -> None:
    assert (
        map_value_hash(3, h("root"))
        == hashlib.sha256(b"mapval/v1" + (3).to_bytes(8, "big") + h("root")).digest()
    )
    k = key("1")
    assert (
        map_leaf_hash(k, VALUE.value_hash())
        == hashlib.sha256(b"\x00" + k + VALUE.value_hash()).digest()
    )


def test_empty_map() -> None:
    proof = MapProof((), None)
    assert verify_map_proof(EMPTY_NODE, h("k"), proof) is None
    with pytest.raises(RootMismatchError):
        verify_map_proof(h("not empty"), h("k"), proof)


def test_single_key_map_is_its_leaf() -> None:
    tree = SparseMap()
    k = h("only")
    tree.update([(k, VALUE.value_hash())], 1)
    assert tree.root == map_leaf_hash(k, VALUE.value_hash())
    assert tree.path(k) == ([], k)
    assert verify_map_proof(tree.root, k, MapProof((), MapLeaf(k, VALUE))) == (3, h("root"))
    other = h("other")
    absent = MapProof((), MapLeaf(k, value_hash=VALUE.value_hash()))
    assert verify_map_proof(tree.root, other, absent) is None


def _map(keys: list[bytes]) -> tuple[SparseMap, dict[bytes, MapValue]]:
    tree = SparseMap()
    values = {k: MapValue(1 + i, h(f"r{i}")) for i, k in enumerate(keys)}
    tree.update([(k, v.value_hash()) for k, v in values.items()], 1)
    assert tree.root == ref_root({k: v.value_hash() for k, v in values.items()})
    return tree, values


def test_keys_differing_only_in_the_last_bit() -> None:
    a = bytes(31) + b"\x00"
    b = bytes(31) + b"\x01"
    tree, values = _map([a, b])
    siblings, other = tree.path(a)
    assert len(siblings) == 256
    assert other == a
    assert siblings[-1] == map_leaf_hash(b, values[b].value_hash())
    assert all(s == EMPTY_NODE for s in siblings[:-1])
    proof = MapProof(tuple(siblings), MapLeaf(a, values[a]))
    assert verify_map_proof(tree.root, a, proof) == (1, values[a].posting_root)
    assert parse_map_proof(proof.format()) == proof
    # An empty slot at depth 256 can never be canonical.
    with pytest.raises(BadProofError, match="256"):
        verify_map_proof(tree.root, a, MapProof(tuple(siblings), None))


def test_shortcut_leaf_and_empty_slot() -> None:
    # 00.. and 01.. share a subtree; 1.. is alone at depth 1.
    k00, k01, k1 = key("00"), key("01"), key("1")
    tree, values = _map([k00, k01, k1])
    siblings, other = tree.path(k1)
    assert (len(siblings), other) == (1, k1)
    # 11.. is absent: the walk ends at 1.. (a shortcut leaf of another key).
    probe = key("11")
    siblings, other = tree.path(probe)
    assert other == k1
    proof = MapProof(tuple(siblings), MapLeaf(k1, value_hash=values[k1].value_hash()))
    assert verify_map_proof(tree.root, probe, proof) is None


def _proof(tree: SparseMap, values: dict[bytes, MapValue], k: bytes) -> MapProof:
    siblings, other = tree.path(k)
    if other is None:
        return MapProof(tuple(siblings), None)
    if other == k:
        return MapProof(tuple(siblings), MapLeaf(other, values[other]))
    return MapProof(tuple(siblings), MapLeaf(other, value_hash=values[other].value_hash()))


KEYS = [key("000"), key("001"), key("01"), key("1100"), key("1101"), key("111")]
TREE, VALUES = _map(KEYS)


def test_empty_slot_non_membership() -> None:
    probe = key("10")  # the slot 10.. is empty beside the subtree 11..
    proof = _proof(TREE, VALUES, probe)
    assert proof.leaf is None
    assert len(proof.siblings) == 2
    assert verify_map_proof(TREE.root, probe, proof) is None


RULES = [
    # (name, key queried, proof builder, error, message fragment)
    (
        "rule 1: terminal leaf off the key's path",
        key("111"),
        lambda: MapProof(
            _proof(TREE, VALUES, key("111")).siblings, MapLeaf(key("01"), VALUES[key("01")])
        ),
        BadProofError,
        "not on the key's path",
    ),
    (
        "rule 2: membership leaf without its value",
        key("01"),
        lambda: MapProof(
            _proof(TREE, VALUES, key("01")).siblings,
            MapLeaf(key("01"), value_hash=VALUES[key("01")].value_hash()),
        ),
        BadProofError,
        "must carry the key's value",
    ),
    (
        "rule 2: another key's leaf with a value in the clear",
        key("0111"),
        lambda: MapProof(
            _proof(TREE, VALUES, key("0111")).siblings, MapLeaf(key("01"), VALUES[key("01")])
        ),
        BadProofError,
        "only its value hash",
    ),
    (
        "rule 3: leaf beside an empty deepest sibling",
        key("01"),
        lambda: MapProof(
            (*_proof(TREE, VALUES, key("01")).siblings, EMPTY_NODE),
            MapLeaf(key("01"), VALUES[key("01")]),
        ),
        BadProofError,
        "not canonical",
    ),
    (
        "rule 3: empty slot beside an empty sibling",
        key("10"),
        lambda: MapProof((*_proof(TREE, VALUES, key("10")).siblings, EMPTY_NODE), None),
        BadProofError,
        "not canonical",
    ),
    (
        "rule 4: siblings do not fold to the root",
        key("01"),
        lambda: MapProof(
            (h("x"), *_proof(TREE, VALUES, key("01")).siblings[1:]),
            MapLeaf(key("01"), VALUES[key("01")]),
        ),
        RootMismatchError,
        "index root",
    ),
    (
        "rule 4: a sibling too few",
        key("1101"),
        lambda: MapProof(
            _proof(TREE, VALUES, key("1101")).siblings[:-1],
            MapLeaf(key("1101"), VALUES[key("1101")]),
        ),
        RootMismatchError,
        "index root",
    ),
]


@pytest.mark.parametrize(("name", "k", "build", "error", "match"), RULES, ids=[r[0] for r in RULES])
def test_verifier_rules(
    name: str, k: bytes, build: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        verify_map_proof(TREE.root, k, build())


def test_inputs_of_the_wrong_shape() -> None:
    proof = _proof(TREE, VALUES, KEYS[0])
    with pytest.raises(BadProofError):
        verify_map_proof(TREE.root[:31], KEYS[0], proof)
    with pytest.raises(BadProofError):
        verify_map_proof(TREE.root, KEYS[0][:31], proof)
    with pytest.raises(BadProofError):
        verify_map_proof(TREE.root, KEYS[0], proof.to_json())  # type: ignore[arg-type]


def test_json_form() -> None:
    proof = _proof(TREE, VALUES, key("10"))
    obj = json.loads(proof.format())
    assert obj["leaf"] is None
    assert all(s is None or len(s) == 64 for s in obj["siblings"])
    member = _proof(TREE, VALUES, key("01"))
    assert json.loads(member.format())["leaf"] == {
        "key": key("01").hex(),
        "size": VALUES[key("01")].size,
        "posting_root": VALUES[key("01")].posting_root.hex(),
    }
    chained = MapProof((EMPTY_NODE, h("s")), MapLeaf(KEYS[0], value_hash=h("v")))
    text = chained.format()
    assert text == (
        '{"leaf":{"key":"' + KEYS[0].hex() + '","value_hash":"' + h("v").hex() + '"},'
        '"siblings":[null,"' + h("s").hex() + '"]}'
    )
    assert parse_map_proof(text) == chained


GOOD = json.loads(_proof(TREE, VALUES, key("01")).format())


def _edit(path: list[Any], value: Any) -> str:
    obj = json.loads(json.dumps(GOOD))
    target = obj
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(obj)


BAD_JSON = [
    ("not JSON", "{"),
    ("a list", "[]"),
    ("duplicate field", '{"siblings":[],"siblings":[],"leaf":null}'),
    ("missing leaf", _edit(["leaf"], KeyError)),
    ("extra field", _edit(["extra"], 1)),
    ("siblings not a list", _edit(["siblings"], "00")),
    ("sibling as number", _edit(["siblings", 0], 0)),
    ("sibling uppercase", _edit(["siblings", 0], GOOD["siblings"][0].upper())),
    ("sibling short", _edit(["siblings", 0], GOOD["siblings"][0][:-2])),
    ("zero sibling spelled out", _edit(["siblings", 0], "00" * 32)),
    ("257 siblings", _edit(["siblings"], [None] * 257)),
    ("leaf as list", _edit(["leaf"], [])),
    ("leaf without key", _edit(["leaf", "key"], KeyError)),
    ("leaf with both forms", _edit(["leaf", "value_hash"], "11" * 32)),
    ("size zero", _edit(["leaf", "size"], 0)),
    ("size negative", _edit(["leaf", "size"], -1)),
    ("size as bool", _edit(["leaf", "size"], True)),
    ("size as float", _edit(["leaf", "size"], 3.0)),
    ("size beyond u64", _edit(["leaf", "size"], 2**64)),
    ("posting root short", _edit(["leaf", "posting_root"], "ab")),
    ("key not hex", _edit(["leaf", "key"], "zz" * 32)),
]


@pytest.mark.parametrize(("name", "text"), BAD_JSON, ids=[b[0] for b in BAD_JSON])
def test_parse_refuses(name: str, text: str) -> None:
    with pytest.raises(MalformedError) as info:
        parse_map_proof(text)
    assert info.value.what == "map proof"
