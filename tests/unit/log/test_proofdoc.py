"""Proof documents (accord.log.proofdoc): exact round trips, a strict parser, and verification
against signed checkpoints that refuses every changed hash, size, origin or key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import (
    AccordError,
    BadProofError,
    BadSignatureError,
    MalformedError,
    RootMismatchError,
    UnknownKeyError,
    VerificationError,
)
from accord.log.proofdoc import (
    ConsistencyDoc,
    InclusionDoc,
    ProofDoc,
    RangeDoc,
    open_checkpoint,
    parse_proof_doc,
    verify_proof_doc,
)
from accord.merkle import MemoryTree, leaf_hash
from accord.note import Checkpoint, Signer, sign_note

ORIGIN = "accord.example/unit"
ENTRIES = [f"entry {i}".encode() for i in range(13)]
TREE = MemoryTree.from_data(ENTRIES)
LOG = Signer.from_private_bytes(ORIGIN, bytes(range(32)))


def _note(size: int) -> str:
    return sign_note(Checkpoint(ORIGIN, size, TREE.root(size)).format(), LOG).format()


CP13 = open_checkpoint(_note(13), LOG.verifier())
CP5 = open_checkpoint(_note(5), LOG.verifier())


def inclusion(index: int = 6, size: int = 13) -> InclusionDoc:
    proof = tuple(TREE.inclusion_proof(index, size))
    return InclusionDoc(ORIGIN, index, size, leaf_hash(ENTRIES[index]), proof, TREE.root(size))


def consistency(size1: int = 5, size2: int = 13) -> ConsistencyDoc:
    proof = tuple(TREE.consistency_proof(size1, size2))
    return ConsistencyDoc(ORIGIN, size1, size2, TREE.root(size1), TREE.root(size2), proof)


def ranged(start: int = 3, end: int = 9, size: int = 13) -> RangeDoc:
    leaves = tuple(TREE.leaf_hashes(start, end))
    proof = tuple(TREE.range_proof(start, end, size))
    return RangeDoc(ORIGIN, start, end, size, leaves, proof, TREE.root(size))


DOCS = [inclusion(), consistency(), ranged(), ranged(0, 13), inclusion(0, 1)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: type(d).__name__)
def test_round_trip_and_verify(doc: ProofDoc) -> None:
    text = doc.format()
    assert parse_proof_doc(text) == doc
    assert parse_proof_doc(text).format() == text
    assert json.loads(text)["v"] == 1
    size = doc.size2 if isinstance(doc, ConsistencyDoc) else doc.size
    verify_proof_doc(doc, open_checkpoint(_note(size), LOG.verifier()))


def test_verify_with_entries_and_old_checkpoint() -> None:
    verify_proof_doc(inclusion(), CP13, entries=[ENTRIES[6]])
    verify_proof_doc(ranged(), CP13, entries=ENTRIES[3:9])
    verify_proof_doc(consistency(), CP13, old_checkpoint=CP5)
    with pytest.raises(RootMismatchError, match="leaf hash"):
        verify_proof_doc(inclusion(), CP13, entries=[ENTRIES[5]])
    with pytest.raises(BadProofError, match="2 entries"):
        verify_proof_doc(inclusion(), CP13, entries=ENTRIES[:2])
    with pytest.raises(BadProofError, match="no entries"):
        verify_proof_doc(consistency(), CP13, entries=[])
    # The old checkpoint must be the tree at size1.
    cp6 = open_checkpoint(_note(6), LOG.verifier())
    with pytest.raises(BadProofError, match="size 5, the checkpoint for size 6"):
        verify_proof_doc(consistency(), CP13, old_checkpoint=cp6)


def test_wrong_size_origin_and_claimed_roots() -> None:
    with pytest.raises(BadProofError, match="size 5, the checkpoint for size 13"):
        verify_proof_doc(inclusion(2, 5), CP13)
    verify_proof_doc(inclusion(2, 5), CP5)
    doc = inclusion()
    other = InclusionDoc("accord.example/other", 6, 13, doc.leaf_hash, doc.proof, doc.root_hash)
    with pytest.raises(VerificationError, match=r"accord\.example/other"):
        verify_proof_doc(other, CP13)
    lying = InclusionDoc(ORIGIN, 6, 13, doc.leaf_hash, doc.proof, TREE.root(12))
    with pytest.raises(RootMismatchError, match="does not"):
        verify_proof_doc(lying, CP13)
    # A claimed root1 that is not the tree at size1 never verifies.
    con = consistency()
    with pytest.raises(RootMismatchError):
        verify_proof_doc(ConsistencyDoc(ORIGIN, 5, 13, TREE.root(4), con.root2, con.proof), CP13)


def test_checkpoint_must_be_signed_by_the_key() -> None:
    impostor = Signer.generate(ORIGIN)
    with pytest.raises(UnknownKeyError):
        open_checkpoint(_note(13), impostor.verifier())
    forged = _note(13).replace("\n13\n", "\n12\n", 1)
    with pytest.raises(BadSignatureError):
        open_checkpoint(forged, LOG.verifier())
    stranger = Signer.from_private_bytes("accord.example/stranger", bytes(32))
    note = sign_note(Checkpoint(ORIGIN, 1, TREE.root(1)).format(), stranger).format()
    with pytest.raises(VerificationError, match="the key is"):
        open_checkpoint(note, stranger.verifier())


def _bits(doc: ProofDoc) -> list[tuple[str, int | None]]:
    """Every hash field of ``doc`` (list fields by position)."""
    out: list[tuple[str, int | None]] = []
    for key, value in doc.to_json().items():
        if isinstance(value, list):
            out += [(key, i) for i in range(len(value))]
        elif isinstance(value, str) and len(value) == 64 and key != "origin":
            out.append((key, None))
    return out


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(DOCS[:3]), st.data())
def test_no_single_bit_flip_in_a_hash_verifies(doc: ProofDoc, data: st.DataObject) -> None:
    key, pos = data.draw(st.sampled_from(_bits(doc)))
    bit = data.draw(st.integers(0, 255))
    value: dict[str, Any] = doc.to_json()
    old = value[key] if pos is None else value[key][pos]
    raw = bytearray(bytes.fromhex(old))
    raw[bit // 8] ^= 1 << (bit % 8)
    if pos is None:
        value[key] = raw.hex()
    else:
        value[key] = [*value[key][:pos], raw.hex(), *value[key][pos + 1 :]]
    mutated = parse_proof_doc(json.dumps(value))
    with pytest.raises(VerificationError):
        verify_proof_doc(mutated, CP13, old_checkpoint=CP5)


BAD = {
    "not an object": "[]",
    "no version": json.dumps({k: v for k, v in inclusion().to_json().items() if k != "v"}),
    "version 2": json.dumps({**inclusion().to_json(), "v": 2}),
    "bool version": json.dumps({**inclusion().to_json(), "v": True}),
    "unknown type": json.dumps({**inclusion().to_json(), "type": "membership"}),
    "extra key": json.dumps({**inclusion().to_json(), "note": "x"}),
    "missing key": json.dumps({k: v for k, v in ranged().to_json().items() if k != "proof"}),
    "upper hex": json.dumps({**inclusion().to_json(), "leaf_hash": "AB" * 32}),
    "short hash": json.dumps({**inclusion().to_json(), "root_hash": "ab" * 31}),
    "hash not text": json.dumps({**inclusion().to_json(), "proof": [1]}),
    "proof not a list": json.dumps({**inclusion().to_json(), "proof": "ab" * 32}),
    "negative index": json.dumps({**inclusion().to_json(), "index": -1}),
    "float size": json.dumps({**inclusion().to_json(), "size": 13.0}),
    "index beyond size": json.dumps({**inclusion().to_json(), "index": 13}),
    "size1 zero": json.dumps({**consistency().to_json(), "size1": 0}),
    "size1 above size2": json.dumps({**consistency().to_json(), "size1": 14}),
    "range reversed": json.dumps({**ranged().to_json(), "start": 10}),
    "leaf count": json.dumps({**ranged().to_json(), "end": 8}),
    "empty origin": json.dumps({**inclusion().to_json(), "origin": ""}),
    "duplicate key": '{"v": 1, "v": 1}',
    "not JSON": "{",
}


@pytest.mark.parametrize("text", BAD.values(), ids=list(BAD))
def test_strict_parser(text: str) -> None:
    with pytest.raises(MalformedError, match="malformed proof"):
        parse_proof_doc(text)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_random_input_raises_only_accord_errors(data: bytes | str) -> None:
    try:
        doc = parse_proof_doc(data)
    except AccordError:
        return
    assert parse_proof_doc(doc.format()) == doc
