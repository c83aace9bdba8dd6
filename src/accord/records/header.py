"""Log leaves: record headers and index-commit leaves (docs/formats.md section 3).

A record is a **header** (the log leaf: canonical JSON) plus its **body** (the
canonical signed statement, stored apart and hashed into the header). The leaf
bytes are produced directly from checked values (every string in a leaf is
ASCII from a restricted alphabet, so no escaping is ever needed) and are equal
to ``accord.encoding.canonical`` of the header's JSON; :func:`parse_leaf`
accepts exactly those bytes and nothing else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

from accord.errors import MalformedError, UsageError, VerificationError
from accord.merkle import leaf_hash
from accord.records.mapfn import mapfn
from accord.records.schemas import SCHEMAS
from accord.records.statement import SignedStatement, decode_json
from accord.records.values import (
    MAX_TS,
    ORG_RE,
    SOURCE_RE,
    check_hash_hex,
    check_int,
    check_list,
    check_object,
    check_ts,
    fail,
)

__all__ = [
    "HEADER_VERSION",
    "INDEX_COMMIT",
    "MAX_LEAF_KEYS",
    "Header",
    "IndexCommit",
    "Record",
    "build_header",
    "check_record",
    "make_record",
    "next_log_ts",
    "parse_leaf",
]

HEADER_VERSION: Final = 1
INDEX_COMMIT: Final = "index-commit"
#: A disclosure with 256 record refs, all late, has 2 * (256 + 4) keys; leave room.
MAX_LEAF_KEYS: Final = 1024

_HEADER_KEYS: Final = ("v", "type", "org", "src", "log_ts", "event_ts", "keys", "body_hash")
_COMMIT_KEYS: Final = ("v", "type", "log_ts", "covers_size", "index_root", "mapfn_id")
_COMMIT_OPT: Final = ("prev_commit_seq",)


def _leaf_fail(path: str, problem: str) -> None:
    fail(path, problem, "leaf")


def _check_hash(value: Any, path: str) -> None:
    if type(value) is not bytes or len(value) != 32:
        _leaf_fail(path, "must be 32 bytes")


@dataclass(frozen=True, slots=True)
class Header:
    """A statement's log leaf. ``leaf`` holds its canonical bytes (computed once)."""

    type: str
    org: str
    src: str
    log_ts: int
    event_ts: int
    keys: tuple[bytes, ...]
    body_hash: bytes
    leaf: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.type) is not str or self.type not in SCHEMAS:
            _leaf_fail("type", f"unknown statement type {self.type!r:.80}")
        if type(self.org) is not str or ORG_RE.fullmatch(self.org) is None:
            _leaf_fail("org", "must be an org id")
        src_org, _, src_name = self.src.partition("/") if type(self.src) is str else ("", "", "")
        if src_org != self.org or SOURCE_RE.fullmatch(src_name) is None:
            _leaf_fail("src", f"must be the key id <org>/<source> of org {self.org!r}")
        check_ts(self.log_ts, "log_ts", "leaf")
        check_ts(self.event_ts, "event_ts", "leaf")
        keys = self.keys
        if type(keys) is not tuple or len(keys) > MAX_LEAF_KEYS:
            _leaf_fail("keys", f"must be a tuple of at most {MAX_LEAF_KEYS} key ids")
        for i, k in enumerate(keys):
            _check_hash(k, f"keys[{i}]")
            if i and keys[i - 1] >= k:
                _leaf_fail("keys", "must be sorted and unique")
        _check_hash(self.body_hash, "body_hash")
        leaf = (
            f'{{"body_hash":"{self.body_hash.hex()}","event_ts":{self.event_ts},"keys":['
            + ",".join([f'"{k.hex()}"' for k in keys])
            + f'],"log_ts":{self.log_ts},"org":"{self.org}","src":"{self.src}",'
            f'"type":"{self.type}","v":{HEADER_VERSION}}}'
        )
        object.__setattr__(self, "leaf", leaf.encode("ascii"))

    def to_json(self) -> dict[str, Any]:
        return {
            "v": HEADER_VERSION,
            "type": self.type,
            "org": self.org,
            "src": self.src,
            "log_ts": self.log_ts,
            "event_ts": self.event_ts,
            "keys": [k.hex() for k in self.keys],
            "body_hash": self.body_hash.hex(),
        }

    def leaf_hash(self) -> bytes:
        """RFC 9162 leaf hash: SHA-256(0x00 || leaf)."""
        return leaf_hash(self.leaf)

    def format(self) -> str:
        return self.leaf.decode("ascii")

    @classmethod
    def parse(cls, data: bytes | str) -> Header:
        leaf = parse_leaf(data)
        if not isinstance(leaf, Header):
            raise MalformedError("leaf", "an index-commit leaf, not a record header")
        return leaf


@dataclass(frozen=True, slots=True)
class IndexCommit:
    """The index-commit leaf (verifiable-index.md section 5.3); it has no body and no keys."""

    log_ts: int
    covers_size: int
    index_root: bytes
    mapfn_id: bytes
    prev_commit_seq: int | None
    leaf: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_ts(self.log_ts, "log_ts", "leaf")
        check_int(self.covers_size, "covers_size", 0, MAX_TS, "leaf")
        _check_hash(self.index_root, "index_root")
        _check_hash(self.mapfn_id, "mapfn_id")
        prev = self.prev_commit_seq
        if prev is not None:
            check_int(prev, "prev_commit_seq", 0, MAX_TS, "leaf")
            if prev >= self.covers_size:
                _leaf_fail("prev_commit_seq", "must be below covers_size")
        leaf = (
            f'{{"covers_size":{self.covers_size},"index_root":"{self.index_root.hex()}",'
            f'"log_ts":{self.log_ts},"mapfn_id":"{self.mapfn_id.hex()}",'
            f'"prev_commit_seq":{"null" if prev is None else prev},'
            f'"type":"{INDEX_COMMIT}","v":{HEADER_VERSION}}}'
        )
        object.__setattr__(self, "leaf", leaf.encode("ascii"))

    def to_json(self) -> dict[str, Any]:
        return {
            "v": HEADER_VERSION,
            "type": INDEX_COMMIT,
            "log_ts": self.log_ts,
            "covers_size": self.covers_size,
            "index_root": self.index_root.hex(),
            "mapfn_id": self.mapfn_id.hex(),
            "prev_commit_seq": self.prev_commit_seq,
        }

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf)

    def format(self) -> str:
        return self.leaf.decode("ascii")

    @classmethod
    def parse(cls, data: bytes | str) -> IndexCommit:
        leaf = parse_leaf(data)
        if not isinstance(leaf, IndexCommit):
            raise MalformedError("leaf", "a record header, not an index-commit leaf")
        return leaf


def parse_leaf(data: bytes | str) -> Header | IndexCommit:
    """Strictly parse leaf bytes: valid fields **and** exactly canonical (RFC 8785) bytes.

    Raises MalformedError("leaf", ...) (or TooLargeError) and nothing else.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    value = decode_json(raw, "leaf")
    if type(value) is not dict:
        raise MalformedError("leaf", "must be a JSON object")
    kind = value.get("type")
    leaf: Header | IndexCommit
    if kind == INDEX_COMMIT:
        check_object(value, "", _COMMIT_KEYS, _COMMIT_OPT, "leaf")
        if "prev_commit_seq" not in value:
            _leaf_fail("prev_commit_seq", "is required (null for the first commit)")
        _check_version(value["v"])
        leaf = IndexCommit(
            log_ts=value["log_ts"],
            covers_size=value["covers_size"],
            index_root=check_hash_hex(value["index_root"], "index_root", "leaf"),
            mapfn_id=check_hash_hex(value["mapfn_id"], "mapfn_id", "leaf"),
            prev_commit_seq=value["prev_commit_seq"],
        )
    else:
        check_object(value, "", _HEADER_KEYS, (), "leaf")
        _check_version(value["v"])
        keys = check_list(value["keys"], "keys", 0, MAX_LEAF_KEYS, "leaf")
        leaf = Header(
            type=value["type"],
            org=value["org"],
            src=value["src"],
            log_ts=value["log_ts"],
            event_ts=value["event_ts"],
            keys=tuple(check_hash_hex(k, f"keys[{i}]", "leaf") for i, k in enumerate(keys)),
            body_hash=check_hash_hex(value["body_hash"], "body_hash", "leaf"),
        )
    if leaf.leaf != raw:
        raise MalformedError("leaf", "not canonical JSON (RFC 8785): re-encoding differs")
    return leaf


def _check_version(v: Any) -> None:
    if type(v) is not int or v != HEADER_VERSION:
        _leaf_fail("v", f"must be {HEADER_VERSION}")


def build_header(
    signed: SignedStatement, *, log_ts: int, index_key: bytes, lateness_ms: int
) -> Header:
    """The header of ``signed`` sequenced at ``log_ts``, with MapFn v1 keys.

    Preconditions: the signature was verified; ``log_ts`` was chosen by the node
    (see :func:`next_log_ts`); ``lateness_ms`` is the consortium's maximum lateness.
    """
    st = signed.statement
    return Header(
        type=st.schema,
        org=st.org,
        src=st.key_id,
        log_ts=log_ts,
        event_ts=st.event_ts,
        keys=mapfn(st, log_ts, lateness_ms, index_key),
        body_hash=signed.record_hash,
    )


def next_log_ts(now_ms: int, last_log_ts: int | None) -> int:
    """The next ``log_ts``: the clock, but never below the previous leaf's (never decreases)."""
    if type(now_ms) is not int or not 0 <= now_ms < MAX_TS:
        raise UsageError("now_ms must be an integer time in ms")
    return now_ms if last_log_ts is None or now_ms >= last_log_ts else last_log_ts


@dataclass(frozen=True, slots=True)
class Record:
    """A record as the ledger holds it: the header (the leaf) and the body (stored apart)."""

    header: Header
    body: bytes

    def __post_init__(self) -> None:
        if hashlib.sha256(self.body).digest() != self.header.body_hash:
            raise VerificationError("record body does not match the header's body_hash")

    @property
    def record_hash(self) -> bytes:
        return self.header.body_hash


def make_record(
    signed: SignedStatement, *, log_ts: int, index_key: bytes, lateness_ms: int
) -> Record:
    header = build_header(signed, log_ts=log_ts, index_key=index_key, lateness_ms=lateness_ms)
    return Record(header, signed.body)


def check_record(
    header: Header, body: bytes, *, index_key: bytes, lateness_ms: int
) -> SignedStatement:
    """What a verifier or auditor checks per record (verifiable-index.md 6.2 step 6, 8.2).

    ``body_hash`` matches the body, the body is a valid signed statement in
    canonical form, the header's type, org, src and event_ts are the statement's,
    and its keys are exactly MapFn v1's. Returns the signed statement (its
    signature is not checked here). Raises VerificationError.
    """
    if hashlib.sha256(body).digest() != header.body_hash:
        raise VerificationError("record body does not match the header's body_hash")
    try:
        signed = SignedStatement.parse(body)
    except MalformedError as exc:
        raise VerificationError(f"record body is not a valid statement: {exc.message}") from None
    if signed.body != body:
        raise VerificationError("record body is not canonical")
    st = signed.statement
    for name, got, want in (
        ("type", header.type, st.schema),
        ("org", header.org, st.org),
        ("src", header.src, st.key_id),
        ("event_ts", header.event_ts, st.event_ts),
    ):
        if got != want:
            raise VerificationError(f"header {name} {got!r} differs from the statement's {want!r}")
    if header.keys != mapfn(st, header.log_ts, lateness_ms, index_key):
        raise VerificationError("header keys differ from MapFn v1 of the body")
    return signed
