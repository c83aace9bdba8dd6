"""A receipt's leaf in the member's log, against a verified checkpoint."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from accord.encoding import canonical
from accord.errors import BadProofError, MalformedError, RootMismatchError, VerificationError
from accord.quorum import record_of_leaf, verify_receipt_in_log
from tests.unit.quorum.fixtures import RECORD, header_leaf, origin, receipt, tree_of

LOG_TS = 1_710_000_000_123
LEAVES = [header_leaf(bytes([i]) * 32, log_ts=LOG_TS - 10 + i) for i in range(7)]
LEAVES[5] = header_leaf(RECORD, log_ts=LOG_TS)
TREE = tree_of(LEAVES)
SIZE = 7
ROOT = TREE.root(SIZE)
PROOF = TREE.inclusion_proof(5, SIZE)
NYU = receipt("nyu", index=5, log_ts=LOG_TS)


def test_the_receipts_leaf_is_in_the_log() -> None:
    verify_receipt_in_log(NYU, LEAVES[5], PROOF, SIZE, ROOT)
    verify_receipt_in_log(NYU, LEAVES[5], PROOF, SIZE, ROOT, origin=origin("nyu"))
    # and in a later checkpoint too
    verify_receipt_in_log(NYU, LEAVES[5], TREE.inclusion_proof(5, 6), 6, TREE.root(6))


def test_record_of_leaf() -> None:
    assert record_of_leaf(LEAVES[5]) == (RECORD, LOG_TS)
    reordered = b'{"v":1,' + canonical({k: v for k, v in _header().items() if k != "v"})[1:]
    assert sorted(json.loads(reordered).items()) == sorted(_header().items())  # same content


def test_leaf_of_another_record() -> None:
    expected = re.escape("leaf 5 of accord.example/demo/nyu is record 0404")
    with pytest.raises(VerificationError, match=expected):
        verify_receipt_in_log(NYU, LEAVES[4], PROOF, SIZE, ROOT)


def test_leaf_with_another_log_ts() -> None:
    leaf = header_leaf(RECORD, log_ts=LOG_TS + 1)
    with pytest.raises(VerificationError, match="has log_ts"):
        verify_receipt_in_log(NYU, leaf, PROOF, SIZE, ROOT)


def test_right_leaf_at_another_index() -> None:
    at_4 = dataclasses.replace(NYU, index=4)
    with pytest.raises(RootMismatchError):
        verify_receipt_in_log(at_4, LEAVES[5], TREE.inclusion_proof(4, SIZE), SIZE, ROOT)
    with pytest.raises(RootMismatchError):
        verify_receipt_in_log(at_4, LEAVES[5], PROOF, SIZE, ROOT)


def test_checkpoint_that_does_not_cover_the_index() -> None:
    with pytest.raises(BadProofError, match="size 5 does not cover index 5"):
        verify_receipt_in_log(NYU, LEAVES[5], PROOF, 5, TREE.root(5))


def test_bad_proofs() -> None:
    with pytest.raises(RootMismatchError):
        verify_receipt_in_log(NYU, LEAVES[5], [bytes(32), *PROOF[1:]], SIZE, ROOT)
    with pytest.raises(BadProofError):
        verify_receipt_in_log(NYU, LEAVES[5], PROOF[:-1], SIZE, ROOT)
    with pytest.raises(RootMismatchError):
        verify_receipt_in_log(NYU, LEAVES[5], PROOF, SIZE, TREE.root(6))
    with pytest.raises(BadProofError):
        verify_receipt_in_log(NYU, LEAVES[5], PROOF, SIZE, ROOT[:31])


def test_checkpoint_of_another_log() -> None:
    with pytest.raises(VerificationError, match="the checkpoint is of log"):
        verify_receipt_in_log(NYU, LEAVES[5], PROOF, SIZE, ROOT, origin=origin("cornell"))


def _header() -> dict[str, object]:
    return {
        "v": 1,
        "type": "ehr.access",
        "org": "cornell",
        "src": "cornell/ehr",
        "log_ts": LOG_TS,
        "event_ts": 1,
        "keys": [],
        "body_hash": RECORD.hex(),
    }


MALFORMED: list[tuple[str, bytes]] = [
    ("not JSON", b"\x00\x01"),
    ("a list", b"[]"),
    ("not canonical: spaces", canonical(_header()).replace(b",", b", ")),
    (
        "not canonical: key order",
        b'{"v":1,' + canonical({k: v for k, v in _header().items() if k != "v"})[1:],
    ),
    ("extra key", canonical({**_header(), "extra": 1})),
    ("missing key", canonical({k: v for k, v in _header().items() if k != "src"})),
    ("v 2", canonical({**_header(), "v": 2})),
    ("type empty", canonical({**_header(), "type": ""})),
    ("log_ts a string", canonical({**_header(), "log_ts": "1"})),
    ("log_ts negative", canonical({**_header(), "log_ts": -1})),
    ("body_hash short", canonical({**_header(), "body_hash": "ab"})),
    ("body_hash a number", canonical({**_header(), "body_hash": 7})),
    (
        "index-commit leaf",
        canonical(
            {
                "v": 1,
                "type": "index-commit",
                "log_ts": 1,
                "covers_size": 3,
                "index_root": RECORD.hex(),
                "mapfn_id": RECORD.hex(),
                "prev_commit_seq": None,
            }
        ),
    ),
    ("duplicate key", canonical(_header())[:-1] + b',"v":1}'),
    ("huge float", canonical(_header()).replace(b'"event_ts":1', b'"event_ts":1e400')),
]


@pytest.mark.parametrize(("mutation", "leaf"), MALFORMED, ids=[m for m, _ in MALFORMED])
def test_leaves_that_are_not_record_headers(mutation: str, leaf: bytes) -> None:
    with pytest.raises(MalformedError) as info:
        record_of_leaf(leaf)
    assert info.value.what == "log leaf"
    with pytest.raises(MalformedError):
        verify_receipt_in_log(NYU, leaf, PROOF, SIZE, ROOT)
