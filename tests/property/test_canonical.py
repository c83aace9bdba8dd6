"""The fast canonical JSON path must equal RFC 8785 (the rfc8785 package) byte for byte."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.encoding import canonical
from accord.errors import MalformedError

_ints = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
_scalars = (
    st.none() | st.booleans() | _ints | st.text() | st.floats(allow_nan=False, allow_infinity=False)
)
_json: Any = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_fast_path_equals_rfc8785(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        with pytest.raises(MalformedError):
            canonical(value)
        return
    assert canonical(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"\U0001f600": 1, "\ue000": 2},  # UTF-16 order differs from code-point order
        {"a": '\u2028\u2029\x7f\x00\x1f"\\\b\f\n\r\t'},
        {"big": 2**53 - 1, "neg": -(2**53) + 1},
        [True, False, None, "é", {"z": [], "a": {}}],
    ],
)
def test_edge_values(value: Any) -> None:
    assert canonical(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [{"x": 2**53}, {"x": float("nan")}, {1: "int key"}, {"b": b"bytes"}, {"s": "\ud800"}],
    ids=["int-beyond-2^53", "nan", "int-key", "bytes", "lone-surrogate"],
)
def test_refused_values(value: Any) -> None:
    with pytest.raises(MalformedError):
        canonical(value)


def test_deep_nesting_and_huge_integers_are_malformed() -> None:
    from accord.encoding import parse_json

    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(MalformedError):
        canonical(deep)
    with pytest.raises(MalformedError):
        parse_json("9" * 5000)
    with pytest.raises(MalformedError):
        parse_json("[" * 100_000 + "]" * 100_000)
