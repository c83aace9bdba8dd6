"""Pseudonyms (formats.md section 5), with vectors computed by hand."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from accord.errors import MalformedError, UsageError
from accord.records import pseudonym

KEY = bytes([7]) * 32


def test_vectors() -> None:
    by_hand = hmac.new(KEY, b"patient\x00MPI-0001", hashlib.sha256).hexdigest()[:32]
    assert by_hand == "4fb54146ada5c9e5c828d255783cb12d"
    assert pseudonym(KEY, "patient", "MPI-0001") == by_hand
    assert pseudonym(KEY, "person", "Dr. José") == "6d3d43eb16408417dc0f80ffdbe40d6a"


def test_kind_separates() -> None:
    assert pseudonym(KEY, "patient", "x") != pseudonym(KEY, "person", "x")
    assert len(pseudonym(KEY, "person", "")) == 32


@pytest.mark.parametrize(
    ("key", "kind", "value", "error"),
    [
        (b"short", "patient", "x", UsageError),
        (KEY, "org", "x", UsageError),
        (KEY, "patient", b"x", MalformedError),
        (KEY, "patient", "\ud800", MalformedError),
    ],
    ids=["short-key", "unknown-kind", "bytes-value", "lone-surrogate"],
)
def test_refused(key: bytes, kind: str, value: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        pseudonym(key, kind, value)
