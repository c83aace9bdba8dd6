"""Record headers and index-commit leaves: canonical bytes, strict parse, records."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from accord.encoding import canonical
from accord.errors import MalformedError, UsageError, VerificationError
from accord.merkle import leaf_hash
from accord.records import (
    MAPFN_ID,
    Header,
    IndexCommit,
    SignedStatement,
    Statement,
    build_header,
    check_record,
    make_record,
    mapfn,
    next_log_ts,
    parse_leaf,
    sign_statement,
)
from tests.unit.records.examples import EXAMPLES, SOURCE_KEY

INDEX_KEY = bytes(range(32))
LATENESS = 60_000
LOG_TS = 1_710_000_000_500


def _signed(schema: str = "ehr.access") -> SignedStatement:
    return sign_statement(Statement.from_json(EXAMPLES[schema]()), SOURCE_KEY)


def _header(schema: str = "ehr.access") -> Header:
    return build_header(_signed(schema), log_ts=LOG_TS, index_key=INDEX_KEY, lateness_ms=LATENESS)


def _commit(prev: int | None = 3) -> IndexCommit:
    return IndexCommit(
        log_ts=LOG_TS,
        covers_size=9,
        index_root=b"\x11" * 32,
        mapfn_id=MAPFN_ID,
        prev_commit_seq=prev,
    )


@pytest.mark.parametrize("schema", sorted(EXAMPLES))
def test_header_leaf_is_canonical_and_parses_back(schema: str) -> None:
    signed = _signed(schema)
    header = build_header(signed, log_ts=LOG_TS, index_key=INDEX_KEY, lateness_ms=LATENESS)
    assert header.leaf == canonical(header.to_json())
    assert header.to_json() == {
        "v": 1,
        "type": schema,
        "org": "cornell",
        "src": "cornell/ehr",
        "log_ts": LOG_TS,
        "event_ts": 1_710_000_000_000,
        "keys": [k.hex() for k in mapfn(signed.statement, LOG_TS, LATENESS, INDEX_KEY)],
        "body_hash": signed.record_hash.hex(),
    }
    assert parse_leaf(header.leaf) == header
    assert Header.parse(header.format()) == header
    assert header.leaf_hash() == leaf_hash(header.leaf)


@pytest.mark.parametrize("prev", [None, 0, 3])
def test_index_commit_leaf(prev: int | None) -> None:
    commit = _commit(prev)
    assert commit.leaf == canonical(commit.to_json())
    assert parse_leaf(commit.leaf) == commit
    assert IndexCommit.parse(commit.format()) == commit
    assert "keys" not in commit.to_json()


def test_parse_wrong_kind() -> None:
    with pytest.raises(MalformedError, match="index-commit leaf, not a record header"):
        Header.parse(_commit().leaf)
    with pytest.raises(MalformedError, match="record header, not an index-commit"):
        IndexCommit.parse(_header().leaf)


def _edit(leaf: bytes, change: Any) -> bytes:
    value = json.loads(leaf)
    change(value)
    return canonical(value)


HEADER_BAD = [
    ("pretty-printed", lambda b: json.dumps(json.loads(b), indent=1).encode(), "not canonical"),
    ("keys-reordered", lambda b: b'{"v":1,' + b[1:].replace(b',"v":1}', b"}"), "not canonical"),
    ("trailing-newline", lambda b: b + b"\n", "not canonical"),
    ("truncated", lambda b: b[:-1], "leaf"),
    ("extra-key", lambda b: _edit(b, lambda v: v.update(x=1)), "x: unknown field"),
    ("missing-keys", lambda b: _edit(b, lambda v: v.pop("keys")), "keys: is required"),
    ("version-2", lambda b: _edit(b, lambda v: v.update(v=2)), "v: must be 1"),
    (
        "type-unknown",
        lambda b: _edit(b, lambda v: v.update(type="ehr.nope")),
        "unknown statement type",
    ),
    ("org-bad", lambda b: _edit(b, lambda v: v.update(org="NYU")), "org: must be an org id"),
    (
        "src-other-org",
        lambda b: _edit(b, lambda v: v.update(src="nyu/ehr")),
        "src: must be the key id",
    ),
    (
        "src-no-slash",
        lambda b: _edit(b, lambda v: v.update(src="cornell")),
        "src: must be the key id",
    ),
    ("log-ts-negative", lambda b: _edit(b, lambda v: v.update(log_ts=-1)), "log_ts"),
    ("event-ts-string", lambda b: _edit(b, lambda v: v.update(event_ts="1")), "event_ts"),
    ("keys-unsorted", lambda b: _edit(b, lambda v: v["keys"].reverse()), "sorted and unique"),
    (
        "keys-duplicate",
        lambda b: _edit(b, lambda v: v["keys"].append(v["keys"][-1])),
        "sorted and unique",
    ),
    (
        "key-uppercase",
        lambda b: _edit(b, lambda v: v["keys"].__setitem__(0, v["keys"][0].upper())),
        "keys[0]",
    ),
    ("body-hash-short", lambda b: _edit(b, lambda v: v.update(body_hash="ab")), "body_hash"),
    ("not-object", lambda b: b"[1]", "must be a JSON object"),
    ("not-utf8", lambda b: b"\xff", "not UTF-8"),
]


@pytest.mark.parametrize(
    ("name", "mutation", "message"), HEADER_BAD, ids=[c[0] for c in HEADER_BAD]
)
def test_bad_header_leaf_refused(name: str, mutation: Any, message: str) -> None:
    leaf = _header().leaf
    data = mutation(leaf)
    assert data != leaf
    with pytest.raises(MalformedError) as info:
        parse_leaf(data)
    assert info.value.what == "leaf"
    assert message in info.value.message, info.value.message


COMMIT_BAD = [
    ("prev-missing", lambda v: v.pop("prev_commit_seq"), "prev_commit_seq: is required"),
    ("prev-not-below", lambda v: v.update(prev_commit_seq=9), "must be below covers_size"),
    ("prev-bool", lambda v: v.update(prev_commit_seq=True), "prev_commit_seq: must be an integer"),
    ("covers-negative", lambda v: v.update(covers_size=-1), "covers_size"),
    ("root-bad", lambda v: v.update(index_root="00"), "index_root"),
    ("mapfn-bad", lambda v: v.update(mapfn_id=7), "mapfn_id"),
    ("keys-present", lambda v: v.update(keys=[]), "keys: unknown field"),
]


@pytest.mark.parametrize(("name", "change", "message"), COMMIT_BAD, ids=[c[0] for c in COMMIT_BAD])
def test_bad_commit_leaf_refused(name: str, change: Any, message: str) -> None:
    with pytest.raises(MalformedError) as info:
        parse_leaf(_edit(_commit().leaf, change))
    assert message in info.value.message, info.value.message


def test_header_construction_checks() -> None:
    good = _header()
    with pytest.raises(MalformedError, match="keys"):
        Header(
            good.type,
            good.org,
            good.src,
            good.log_ts,
            good.event_ts,
            good.keys[::-1],
            good.body_hash,
        )
    with pytest.raises(MalformedError, match="body_hash"):
        Header(good.type, good.org, good.src, good.log_ts, good.event_ts, good.keys, b"x")
    with pytest.raises(MalformedError, match="keys"):
        Header(
            good.type,
            good.org,
            good.src,
            good.log_ts,
            good.event_ts,
            list(good.keys),
            good.body_hash,
        )  # type: ignore[arg-type]


def test_next_log_ts_never_decreases() -> None:
    assert next_log_ts(1000, None) == 1000
    assert next_log_ts(1000, 999) == 1000
    assert next_log_ts(1000, 1500) == 1500
    with pytest.raises(UsageError):
        next_log_ts(-1, None)


def test_make_and_check_record() -> None:
    signed = _signed("ehr.disclosure")
    record = make_record(signed, log_ts=LOG_TS, index_key=INDEX_KEY, lateness_ms=LATENESS)
    assert record.body == signed.body
    assert record.record_hash == signed.record_hash == hashlib.sha256(record.body).digest()
    again = check_record(record.header, record.body, index_key=INDEX_KEY, lateness_ms=LATENESS)
    assert again == signed


def test_check_record_catches_each_lie() -> None:
    signed = _signed()
    header = _header()
    with pytest.raises(VerificationError, match="body_hash"):
        check_record(header, signed.body + b" ", index_key=INDEX_KEY, lateness_ms=LATENESS)
    other_key = bytes(32)
    with pytest.raises(VerificationError, match="keys differ"):
        check_record(header, signed.body, index_key=other_key, lateness_ms=LATENESS)
    # a header claiming the statement is not late while it is, under a smaller lateness
    with pytest.raises(VerificationError, match="keys differ"):
        check_record(header, signed.body, index_key=INDEX_KEY, lateness_ms=0)
    for name, value in [("event_ts", 1), ("type", "ehr.care"), ("src", "cornell/other")]:
        fields = {
            "type": header.type,
            "org": header.org,
            "src": header.src,
            "log_ts": header.log_ts,
            "event_ts": header.event_ts,
            "keys": header.keys,
            "body_hash": header.body_hash,
            name: value,
        }
        with pytest.raises(VerificationError, match=name):
            check_record(Header(**fields), signed.body, index_key=INDEX_KEY, lateness_ms=LATENESS)
    not_canonical = signed.format().replace('{"sig"', '{ "sig"').encode()
    lying = Header(
        header.type,
        header.org,
        header.src,
        header.log_ts,
        header.event_ts,
        header.keys,
        hashlib.sha256(not_canonical).digest(),
    )
    with pytest.raises(VerificationError, match="not canonical"):
        check_record(lying, not_canonical, index_key=INDEX_KEY, lateness_ms=LATENESS)
    garbage = b"{}"
    lying = Header(
        header.type,
        header.org,
        header.src,
        header.log_ts,
        header.event_ts,
        header.keys,
        hashlib.sha256(garbage).digest(),
    )
    with pytest.raises(VerificationError, match="not a valid statement"):
        check_record(lying, garbage, index_key=INDEX_KEY, lateness_ms=LATENESS)
