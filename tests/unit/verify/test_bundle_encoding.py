"""The bundle's compact JSON (docs/bundles.md section 2): base64 values parse strictly and
anything else is a malformed bundle, which the verifier refuses."""

from __future__ import annotations

import base64
import copy
import json
from functools import cache
from typing import Any

import pytest

from accord.errors import MalformedError, VerificationError
from accord.index.bundle import QuerySpec, Term, needed_postings, parse_bundle
from accord.verify import verify_bundle
from tests.unit.verify.ledger import INDEX_KEY, NOW_S, Ledger, consortium, sample_ledger

QUERY = QuerySpec((Term("patient", ("MPI-2",)),), NOW_S * 1000 - 12 * 86_400_000)


@cache
def _ledger() -> Ledger:
    """The sample ledger with the answer's first record shredded: a record whose body is
    absent carries its header (a record with a body carries none)."""
    led = sample_ledger()
    bundle = led.bundle(QUERY)
    late = None if bundle.late is None else bundle.late[1]
    first = needed_postings(QUERY, bundle.policy, bundle.proofs[0], late)[0]
    led.shredded.add(first.seq)
    return led


def _value() -> dict[str, Any]:
    return _ledger().bundle(QUERY).to_json()


def _refused(value: dict[str, Any], match: str) -> None:
    text = json.dumps(value)
    with pytest.raises(MalformedError, match=match):
        parse_bundle(text)
    with pytest.raises(VerificationError, match="malformed bundle"):
        verify_bundle(text, consortium(1), INDEX_KEY, now_s=NOW_S)


def test_binary_values_are_base64() -> None:
    value = _value()
    assert verify_bundle(json.dumps(value), consortium(1), INDEX_KEY, now_s=NOW_S).records
    proof = value["terms"][0]["proof"]
    assert len(base64.b64decode(proof["postings"])) == 48 * len(
        _ledger().bundle(QUERY).proofs[0].postings
    )
    assert len(base64.b64decode(value["terms"][0]["key"])) == 32
    assert len(base64.b64decode(value["commit"]["proof"])) % 32 == 0
    assert len(base64.b64decode(proof["map"]["siblings"])) % 32 == 0
    assert set(value["records"][0]) == {"header"}  # shredded: its header, no body
    assert all(set(r) == {"body"} for r in value["records"][1:])  # bodies, no headers
    header = value["records"][0]["header"]
    assert set(header) == {"type", "org", "src", "log_ts", "event_ts", "keys", "body_hash"}
    assert len(base64.b64decode(header["keys"])) % 32 == 0
    assert set(value["commit"]["leaf"]) == {
        "log_ts", "covers_size", "index_root", "mapfn_id", "prev_commit_seq"
    }  # fmt: skip


PATHS = [
    ("commit", "proof"),
    ("terms", 0, "key"),
    ("terms", 0, "proof", "postings"),
    ("terms", 0, "proof", "map", "siblings"),
    ("terms", 0, "proof", "map", "leaf", "posting_root"),
    ("late", "proof", "postings"),
    ("records", 0, "header", "keys"),
    ("records", 0, "header", "body_hash"),
    ("commit", "leaf", "index_root"),
]


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        value = value[p]
    return value


def _put(value: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    out = copy.deepcopy(value)
    _get(out, path[:-1])[path[-1]] = new
    return out


@pytest.mark.parametrize("path", PATHS, ids=lambda p: "/".join(map(str, p)))
def test_strict_base64(path: tuple[Any, ...]) -> None:
    value = _value()
    text = _get(value, path)
    raw = base64.b64decode(text)
    assert raw
    size = 48 if path[-1] == "postings" else 32
    # a length that is not a multiple of the element size
    _refused(_put(value, path, base64.b64encode(raw + b"\x00").decode()), "multiple of|32 bytes")
    _refused(_put(value, path, base64.b64encode(raw[: size - 1]).decode()), "multiple of|32 bytes")
    # padding removed or added, whitespace
    _refused(_put(value, path, text.rstrip("=") + ("" if text.endswith("=") else "A")), "base64")
    _refused(_put(value, path, text + "===="), "base64")
    _refused(_put(value, path, text[:4] + "\n" + text[4:]), "base64")
    # hex digits are base64 characters too: refused, though maybe only by the checks
    with pytest.raises(VerificationError):
        verify_bundle(
            json.dumps(_put(value, path, raw.hex())), consortium(1), INDEX_KEY, now_s=NOW_S
        )
    # non-canonical: the unused low bits of the last character set
    if text.endswith("="):
        body = text.rstrip("=")
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        last = alphabet[alphabet.index(body[-1]) | 1]
        if last != body[-1]:
            _refused(_put(value, path, body[:-1] + last + text[len(body) :]), "canonical")
    # not a string
    _refused(_put(value, path, [text]), "base64|string")


def test_empty_lists_are_empty_strings_and_headers_are_exact() -> None:
    value = _value()
    assert value["terms"][0]["proof"]["range_proof"] == ""
    bad = _put(value, ("records", 0, "header", "v"), 1)
    _refused(bad, "exactly the fields")
    keys = base64.b64decode(value["records"][0]["header"]["keys"])
    reordered = keys[32:64] + keys[:32] + keys[64:]
    _refused(
        _put(value, ("records", 0, "header", "keys"), base64.b64encode(reordered).decode()),
        "sorted",
    )
