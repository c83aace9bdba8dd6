"""Hostile input to every index parser: only MalformedError may come out; round trips hold."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import MalformedError
from accord.index import (
    Posting,
    key_proof_from_json,
    map_proof_from_json,
    parse_key_proof,
    parse_map_proof,
    parse_posting,
)

SETTINGS = settings(max_examples=300, deadline=None)

HEX64 = st.text("0123456789abcdef", min_size=64, max_size=64)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | HEX64 | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "siblings",
                    "leaf",
                    "key",
                    "size",
                    "posting_root",
                    "value_hash",
                    "map",
                    "start",
                    "postings",
                    "range_proof",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)


def _only_malformed(fn: Any, arg: Any) -> None:
    with contextlib.suppress(MalformedError):
        fn(arg)


@SETTINGS
@given(st.binary(max_size=120))
def test_posting_bytes(data: bytes) -> None:
    try:
        p = Posting.from_bytes(data)
    except MalformedError:
        assert len(data) != 48
        return
    assert p.to_bytes() == data
    assert parse_posting(p.format()) == p


@SETTINGS
@given(st.text(max_size=120))
def test_posting_text(text: str) -> None:
    _only_malformed(parse_posting, text)


@SETTINGS
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_proof_text(text: str | bytes) -> None:
    _only_malformed(parse_map_proof, text)
    _only_malformed(parse_key_proof, text)


@SETTINGS
@given(JSON_VALUES)
def test_proof_json_values(value: Any) -> None:
    for decode, parse in [
        (map_proof_from_json, parse_map_proof),
        (key_proof_from_json, parse_key_proof),
    ]:
        try:
            proof = decode(value)
        except MalformedError:
            continue
        assert parse(proof.format()) == proof
        assert json.loads(proof.format()) == value
