"""Proof bundles ``accord-bundle/v1`` (pure; docs/bundles.md, verifiable-index.md 6-7).

A bundle answers one audit query at one cosigned checkpoint: the checkpoint note,
the index-commit leaf at ``N - 1`` with its inclusion proof, one key proof per query
term (the *driver*, the term with the shortest posting log, carries the postings;
the others only their map proofs, which prove their sizes), the driver's ``late``
posting log when the query has an event-time window, and the records of every posting
the verifier needs: each its body, or its header leaf when the body is absent (shredded).

This module holds the dataclasses, the strict JSON form (:meth:`Bundle.format`,
:func:`parse_bundle`, exact inverses), the query terms and their time rules, and
:func:`build_bundle`, which assembles a bundle from parts the node computed. The
checks are in :mod:`accord.verify`. In the JSON form, binary values are base64 (lists of
hashes or postings as one string each) and the commit leaf and record headers are given
by their fields (docs/bundles.md section 2); the dataclasses hold the leaves' text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from accord.encoding import b64decode, b64encode, canonical, hex32, parse_json
from accord.errors import MalformedError, NotFoundError, UsageError
from accord.index.builder import IndexView
from accord.index.mapproof import MapLeaf, MapProof, MapValue
from accord.index.postings import MAX_U64, POSTING_SIZE, Posting, PostingReaders
from accord.index.query import KeyProof, Page, Window, prove_key
from accord.records import IndexCommit, key_id, parse_leaf
from accord.records.header import Header

__all__ = [
    "FORMAT",
    "KINDS",
    "MAX_PAGE_SIZE",
    "Bundle",
    "BundleRecord",
    "Policy",
    "QuerySpec",
    "Term",
    "build_bundle",
    "bundle_from_json",
    "driver_query",
    "needed_postings",
    "parse_bundle",
    "parse_time",
    "prove_terms",
]

FORMAT: Final = "accord-bundle/v1"
MAX_PAGE_SIZE: Final = 1000
MAX_TERMS: Final = 4
_WHAT: Final = "bundle"
#: The end of an open log-time window: storage holds signed 64-bit integers.
_OPEN_END: Final = (1 << 63) - 2

#: Query kinds and their parameters, in order.
KINDS: Final[dict[str, tuple[str, ...]]] = {
    "patient": ("patient",),
    "accessor": ("accessor_org", "accessor"),
    "disclosures": ("discloser", "recipient"),
    "record": ("record",),
}


def _bad(message: str) -> MalformedError:
    return MalformedError(_WHAT, message)


def _int(value: object, lo: int = 0, hi: int = MAX_U64) -> bool:
    return type(value) is int and lo <= value <= hi


@dataclass(frozen=True, slots=True)
class Term:
    """One equality term of a query: a kind and its parameter values (strings)."""

    kind: str
    params: tuple[str, ...]

    def __post_init__(self) -> None:
        names = KINDS.get(self.kind) if isinstance(self.kind, str) else None
        if names is None:
            raise UsageError(f"query kind must be one of {', '.join(KINDS)}")
        if not isinstance(self.params, tuple) or len(self.params) != len(names):
            raise UsageError(f"a {self.kind} query needs {', '.join(names)}")
        for name, value in zip(names, self.params, strict=True):
            if not isinstance(value, str) or not 0 < len(value) <= 256 or not value.isprintable():
                raise UsageError(f"{name} must be 1 to 256 printable characters")
        if self.kind == "record":
            try:
                hex32(self.params[0], "record reference")
            except MalformedError:
                raise UsageError("a record reference is 64 lowercase hex digits") from None

    def family_value(self) -> tuple[str, Any]:
        """The MapFn v1 ``(family, value)`` pair this term looks up (docs/formats.md 4)."""
        p = self.params
        if self.kind == "patient":
            return "patient", p[0]
        if self.kind == "accessor":
            return "accessor", [p[0], p[1]]
        if self.kind == "disclosures":
            return "disclosure", [p[0], p[1]]
        return "record", p[0]

    def late_family_value(self) -> tuple[str, Any]:
        family, value = self.family_value()
        return "late", [family, value]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **dict(zip(KINDS[self.kind], self.params, strict=True))}

    @classmethod
    def from_json(cls, obj: object, extra: tuple[str, ...] = ()) -> Term:
        if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
            raise UsageError('a query term is {"kind": ..., <its parameters>}')
        kind = obj["kind"]
        names = KINDS.get(kind)
        if names is None:
            raise UsageError(f"query kind must be one of {', '.join(KINDS)}", kind=kind)
        allowed = {"kind", *names, *extra}
        unknown = sorted(set(obj) - allowed)
        if unknown:
            raise UsageError(f"unknown query field(s) {', '.join(unknown)}")
        missing = [n for n in names if n not in obj]
        if missing:
            raise UsageError(f"a {kind} query needs {', '.join(missing)}")
        return cls(kind, tuple(obj[n] for n in names))


@dataclass(frozen=True, slots=True)
class Policy:
    """The time rules (verifiable-index.md 7): clock skew and maximum lateness, in ms."""

    skew_ms: int
    lateness_ms: int

    def __post_init__(self) -> None:
        if not _int(self.skew_ms) or not _int(self.lateness_ms):
            raise UsageError("skew_ms and lateness_ms are non-negative integers (ms)")

    def to_json(self) -> dict[str, Any]:
        return {"skew_ms": self.skew_ms, "lateness_ms": self.lateness_ms}


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """A query: its terms (a conjunction), an optional event-time window ``[start, end]``
    (ms, inclusive; either end may be open), and an optional page."""

    terms: tuple[Term, ...]
    start: int | None = None
    end: int | None = None
    page: int | None = None
    page_size: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.terms, tuple) or not 1 <= len(self.terms) <= MAX_TERMS:
            raise UsageError(f"a query has 1 to {MAX_TERMS} terms")
        if not all(isinstance(t, Term) for t in self.terms):
            raise UsageError("query terms must be Term values")
        if len(set(self.terms)) != len(self.terms):
            raise UsageError("a query term is repeated")
        for name, v in (("from", self.start), ("to", self.end)):
            if v is not None and not _int(v):
                raise UsageError(f"{name} must be a time in ms")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise UsageError("from must not be after to")
        if (self.page is None) != (self.page_size is None):
            raise UsageError("page and page_size go together")
        if self.page is not None and not _int(self.page, 0, 1 << 32):
            raise UsageError("page must be a non-negative integer")
        if self.page_size is not None and not _int(self.page_size, 1, MAX_PAGE_SIZE):
            raise UsageError(f"page_size must be from 1 to {MAX_PAGE_SIZE}")

    @property
    def windowed(self) -> bool:
        return self.start is not None or self.end is not None

    def log_window(self, policy: Policy) -> Window | None:
        """The log-time window ``[from - skew, to + lateness]`` of an event-time window."""
        if not self.windowed:
            return None
        lo = 0 if self.start is None else max(0, self.start - policy.skew_ms)
        hi = _OPEN_END if self.end is None else min(_OPEN_END, self.end + policy.lateness_ms)
        return Window(lo, hi)

    def in_window(self, event_ts: int) -> bool:
        return (self.start is None or event_ts >= self.start) and (
            self.end is None or event_ts <= self.end
        )

    def to_json(self) -> dict[str, Any]:
        out = self.terms[0].to_json()
        out["and"] = [t.to_json() for t in self.terms[1:]]
        out.update(
            {"from": self.start, "to": self.end, "page": self.page, "page_size": self.page_size}
        )
        return out

    @classmethod
    def from_json(cls, obj: object) -> QuerySpec:
        """Strict: the JSON form of :meth:`to_json` (``and``, ``from``, ``to``, ``page``,
        ``page_size`` may be absent or null). Times are ms here; the node also takes ISO."""
        extra = ("and", "from", "to", "page", "page_size")
        first = Term.from_json(obj, extra)
        if not isinstance(obj, dict):  # pragma: no cover (Term.from_json checked it)
            raise UsageError("a query is an object")
        more = obj.get("and") or []
        if not isinstance(more, list):
            raise UsageError('"and" is a list of query terms')
        terms = (first, *(Term.from_json(t) for t in more))
        return cls(terms, obj.get("from"), obj.get("to"), obj.get("page"), obj.get("page_size"))


@dataclass(frozen=True, slots=True)
class BundleRecord:
    """One record: exactly one of its body (the canonical signed statement as text) or,
    when the body is absent (crypto-shredded), its header leaf (text). A record with a
    body carries no header: the verifier rebuilds it from the body, the posting's
    ``log_ts``, the index key and the pinned lateness (docs/bundles.md 2-3)."""

    header: str | None
    body: str | None

    def __post_init__(self) -> None:
        if (self.header is None) == (self.body is None):
            raise _bad("a record carries exactly one of header and body")
        for value in (self.header, self.body):
            if value is not None and (not isinstance(value, str) or not value):
                raise _bad("a record's header or body is a non-empty string")

    def record_hash(self) -> bytes:
        """The record's identity: SHA-256 of its body, or its header's ``body_hash``."""
        if self.body is not None:
            return hashlib.sha256(self.body.encode("utf-8")).digest()
        try:
            return Header.parse(self.header or "").body_hash
        except MalformedError as exc:
            raise _bad(f"record header: {exc.message}") from None

    def to_json(self) -> dict[str, Any]:
        if self.body is not None:
            return {"body": self.body}
        return {"header": _header_to_json(self.header or "")}  # __post_init__: exactly one


@dataclass(frozen=True, slots=True)
class Bundle:
    """An ``accord-bundle/v1`` answer. ``keys[i]`` and ``proofs[i]`` are the key id and
    key proof of ``query.terms[i]``; ``driver`` names the term whose postings are given;
    ``page`` the driver's posting range ``[start, end)`` when paginated; ``late`` the key
    id and whole-log proof of the driver's ``late`` key (windowed queries, first page)."""

    query: QuerySpec
    policy: Policy
    checkpoint: str
    commit_leaf: str
    commit_proof: tuple[bytes, ...]
    keys: tuple[bytes, ...]
    proofs: tuple[KeyProof, ...]
    driver: int
    page: tuple[int, int] | None
    late: tuple[bytes, KeyProof] | None
    records: tuple[BundleRecord, ...]

    def __post_init__(self) -> None:
        n = len(self.query.terms)
        if len(self.keys) != n or len(self.proofs) != n:
            raise _bad("one key and one key proof per query term")
        if not all(isinstance(k, bytes) and len(k) == 32 for k in self.keys):
            raise _bad("key ids are 32 bytes")
        if not _int(self.driver, 0, n - 1):
            raise _bad("driver must name a query term")
        if not isinstance(self.commit_proof, tuple) or not all(
            isinstance(h, bytes) and len(h) == 32 for h in self.commit_proof
        ):
            raise _bad("the commit proof is a tuple of 32-byte hashes")
        if self.page is not None and (
            not isinstance(self.page, tuple)
            or len(self.page) != 2
            or not all(_int(v) for v in self.page)
            or self.page[0] > self.page[1]
        ):
            raise _bad("page is (start, end) with start <= end")
        if (self.page is None) != (self.query.page is None):
            raise _bad("a paginated query has a page range, and only then")
        if not all(isinstance(r, BundleRecord) for r in self.records):
            raise _bad("records must be BundleRecord values")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "query": self.query.to_json(),
            "policy": self.policy.to_json(),
            "checkpoint": self.checkpoint,
            "commit": {
                "leaf": _commit_to_json(self.commit_leaf),
                "proof": _b64_join(self.commit_proof),
            },
            "terms": [
                {"key": b64encode(k), "proof": _key_proof_to_json(p)}
                for k, p in zip(self.keys, self.proofs, strict=True)
            ],
            "driver": self.driver,
            "page": None if self.page is None else {"start": self.page[0], "end": self.page[1]},
            "late": None
            if self.late is None
            else {"key": b64encode(self.late[0]), "proof": _key_proof_to_json(self.late[1])},
            "records": [r.to_json() for r in self.records],
        }

    def record_postings(self) -> list[Posting]:
        """The postings the records answer, in order (:func:`needed_postings`): a record
        with a body carries no header, so this is how a record is matched to its entry."""
        late = None if self.late is None else self.late[1]
        return needed_postings(self.query, self.policy, self.proofs[self.driver], late)

    def format(self) -> str:
        """Canonical JSON text (RFC 8785)."""
        return canonical(self.to_json()).decode("utf-8")

    def proof_size(self, records: bool = True) -> int:
        """Bytes of the JSON form without the records' bodies (each body counted as the
        empty string ``""``; a shredded record's header stays), or without any record
        unless ``records``."""
        value = self.to_json()
        value["records"] = (
            [{"body": ""} if "body" in r else r for r in value["records"]] if records else []
        )
        return len(canonical(value))


def _exact(obj: object, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or set(obj) != keys:
        raise _bad(f"{what} must have exactly the fields {', '.join(sorted(keys))}")
    return obj


# -- the compact JSON of binary values (docs/bundles.md section 2) ----------------------
#
# Every list of hashes (or postings) is ONE standard padded base64 string of the
# concatenated 32-byte hashes (48-byte postings); a key id or a single hash is the base64
# of its 32 bytes. Parsing is strict: canonical base64 only, and a length that is a
# multiple of the element size. The key-proof and map-proof JSON of docs/index.md (hex)
# is unchanged: this form exists at the bundle boundary only.


def _b64_join(items: Sequence[bytes]) -> str:
    return b64encode(b"".join(items))


def _b64_split(value: object, what: str, size: int = 32) -> tuple[bytes, ...]:
    if not isinstance(value, str):
        raise _bad(f"{what} must be a base64 string")
    try:
        raw = b64decode(value, what)
    except MalformedError as exc:
        raise _bad(f"{what}: {exc.message}") from None
    if len(raw) % size:
        raise _bad(f"{what}: {len(raw)} bytes is not a multiple of {size}")
    return tuple(raw[i : i + size] for i in range(0, len(raw), size))


def _b64_one(value: object, what: str) -> bytes:
    items = _b64_split(value, what)
    if len(items) != 1:
        raise _bad(f"{what} must be the base64 of 32 bytes")
    return items[0]


def _map_proof_to_json(proof: MapProof) -> dict[str, Any]:
    leaf = proof.leaf
    out: dict[str, Any] | None = None
    if leaf is not None and leaf.value is not None:
        out = {
            "key": b64encode(leaf.key_id),
            "size": leaf.value.size,
            "posting_root": b64encode(leaf.value.posting_root),
        }
    elif leaf is not None:
        out = {"key": b64encode(leaf.key_id), "value_hash": b64encode(leaf.value_hash or b"")}
    # the empty subtree is its 32 zero bytes: its only spelling here
    return {"siblings": _b64_join(proof.siblings), "leaf": out}


def _map_proof_from_json(obj: object) -> MapProof:
    obj = _exact(obj, {"siblings", "leaf"}, "a map proof")
    siblings = _b64_split(obj["siblings"], "map proof siblings")
    raw = obj["leaf"]
    leaf: MapLeaf | None = None
    try:
        if raw is not None:
            if not isinstance(raw, dict):
                raise _bad("a map proof's leaf must be an object or null")
            if set(raw) == {"key", "size", "posting_root"}:
                size = raw["size"]
                if not _int(size):
                    raise _bad("a map leaf's size must be an integer")
                root = _b64_one(raw["posting_root"], "posting root")
                leaf = MapLeaf(_b64_one(raw["key"], "map leaf key"), value=MapValue(size, root))
            elif set(raw) == {"key", "value_hash"}:
                vh = _b64_one(raw["value_hash"], "value hash")
                leaf = MapLeaf(_b64_one(raw["key"], "map leaf key"), value_hash=vh)
            else:
                raise _bad("a map leaf holds key, size and posting_root, or key and value_hash")
        return MapProof(siblings, leaf)
    except MalformedError as exc:
        if exc.what == _WHAT:
            raise
        raise _bad(f"map proof: {exc.message}") from None


def _key_proof_to_json(proof: KeyProof) -> dict[str, Any]:
    return {
        "map": _map_proof_to_json(proof.map_proof),
        "start": proof.start,
        "postings": _b64_join([p.to_bytes() for p in proof.postings]),
        "range_proof": _b64_join(proof.range_proof),
    }


def _key_proof(obj: object) -> KeyProof:
    obj = _exact(obj, {"map", "start", "postings", "range_proof"}, "a key proof")
    map_proof = _map_proof_from_json(obj["map"])
    raw = _b64_split(obj["postings"], "postings", POSTING_SIZE)
    proof = _b64_split(obj["range_proof"], "range proof")
    if not _int(obj["start"]):
        raise _bad("a key proof's start must be an integer in [0, 2**64)")
    try:
        postings = tuple(Posting.from_bytes(p) for p in raw)
        return KeyProof(map_proof, obj["start"], postings, proof)
    except MalformedError as exc:
        raise _bad(f"key proof: {exc.message}") from None


_HEADER_FIELDS: Final = {"type", "org", "src", "log_ts", "event_ts", "keys", "body_hash"}


def _header_to_json(text: str) -> dict[str, Any]:
    """A record header leaf (text) as its fields, key ids and body hash in base64."""
    try:
        h = Header.parse(text)
    except MalformedError as exc:
        raise _bad(f"record header: {exc.message}") from None
    if h.format() != text:
        raise _bad("record header is not a canonical leaf")
    return {
        "type": h.type,
        "org": h.org,
        "src": h.src,
        "log_ts": h.log_ts,
        "event_ts": h.event_ts,
        "keys": _b64_join(h.keys),
        "body_hash": b64encode(h.body_hash),
    }


def _header_from_json(obj: object) -> str:
    """The leaf text of a header's JSON fields (the leaf is a function of its fields)."""
    obj = _exact(obj, _HEADER_FIELDS, "a record header")
    keys = _b64_split(obj["keys"], "header keys")
    body_hash = _b64_one(obj["body_hash"], "header body hash")
    try:
        h = Header(
            type=obj["type"],
            org=obj["org"],
            src=obj["src"],
            log_ts=obj["log_ts"],
            event_ts=obj["event_ts"],
            keys=keys,
            body_hash=body_hash,
        )
    except MalformedError as exc:
        raise _bad(f"record header: {exc.message}") from None
    return h.format()


_COMMIT_FIELDS: Final = {"log_ts", "covers_size", "index_root", "mapfn_id", "prev_commit_seq"}


def _commit_to_json(text: str) -> dict[str, Any]:
    """The index-commit leaf (text) as its fields, hashes in base64."""
    try:
        c = parse_leaf(text)
    except MalformedError as exc:
        raise _bad(f"commit leaf: {exc.message}") from None
    if not isinstance(c, IndexCommit) or c.leaf.decode("ascii") != text:
        raise _bad("the commit leaf is not a canonical index-commit leaf")
    return {
        "log_ts": c.log_ts,
        "covers_size": c.covers_size,
        "index_root": b64encode(c.index_root),
        "mapfn_id": b64encode(c.mapfn_id),
        "prev_commit_seq": c.prev_commit_seq,
    }


def _commit_from_json(obj: object) -> str:
    obj = _exact(obj, _COMMIT_FIELDS, "the commit leaf")
    root = _b64_one(obj["index_root"], "index root")
    mapfn_id = _b64_one(obj["mapfn_id"], "mapfn id")
    try:
        c = IndexCommit(
            log_ts=obj["log_ts"],
            covers_size=obj["covers_size"],
            index_root=root,
            mapfn_id=mapfn_id,
            prev_commit_seq=obj["prev_commit_seq"],
        )
    except MalformedError as exc:
        raise _bad(f"commit leaf: {exc.message}") from None
    return c.leaf.decode("ascii")


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(f"{what} must be a non-empty string")
    return value


def bundle_from_json(obj: object) -> Bundle:
    """Strict decoding of a bundle's JSON value (MalformedError("bundle"))."""
    top = _exact(
        obj,
        {"format", "query", "policy", "checkpoint", "commit", "terms", "driver", "page", "late",
         "records"},
        "a bundle",
    )  # fmt: skip
    if top["format"] != FORMAT:
        raise _bad(f'format must be "{FORMAT}"')
    query_obj = top["query"]
    if not isinstance(query_obj, dict):
        raise _bad("query must be an object")
    try:
        query = QuerySpec.from_json(query_obj)
        pol = _exact(top["policy"], {"skew_ms", "lateness_ms"}, "policy")
        policy = Policy(pol["skew_ms"], pol["lateness_ms"])
    except UsageError as exc:
        raise _bad(f"query or policy: {exc.message}") from None
    if query.to_json() != query_obj:
        raise _bad("query is not in its canonical form")
    commit = _exact(top["commit"], {"leaf", "proof"}, "commit")
    terms = top["terms"]
    if not isinstance(terms, list):
        raise _bad("terms must be a list")
    keys, proofs = [], []
    for t in terms:
        t = _exact(t, {"key", "proof"}, "a term")
        keys.append(_b64_one(t["key"], "term key"))
        proofs.append(_key_proof(t["proof"]))
    page = top["page"]
    if page is not None:
        page = _exact(page, {"start", "end"}, "page")
        page = (page["start"], page["end"])
    late = top["late"]
    if late is not None:
        late = _exact(late, {"key", "proof"}, "late")
        late = (_b64_one(late["key"], "late key"), _key_proof(late["proof"]))
    records = top["records"]
    if not isinstance(records, list):
        raise _bad("records must be a list")
    recs = []
    for r in records:
        if isinstance(r, dict) and set(r) == {"body"}:
            recs.append(BundleRecord(None, _text(r["body"], "record body")))
        elif isinstance(r, dict) and set(r) == {"header"}:
            recs.append(BundleRecord(_header_from_json(r["header"]), None))
        else:
            raise _bad('a record is {"body": <text>} or, body absent, {"header": <header>}')
    return Bundle(
        query=query,
        policy=policy,
        checkpoint=_text(top["checkpoint"], "checkpoint"),
        commit_leaf=_commit_from_json(commit["leaf"]),
        commit_proof=_b64_split(commit["proof"], "commit proof"),
        keys=tuple(keys),
        proofs=tuple(proofs),
        driver=top["driver"],
        page=page,
        late=late,
        records=tuple(recs),
    )


def parse_bundle(text: str | bytes) -> Bundle:
    """Parse a bundle's JSON text (inverse of :meth:`Bundle.format`)."""
    return bundle_from_json(parse_json(text, _WHAT))


# -- building ---------------------------------------------------------------------------


def driver_query(
    query: QuerySpec, policy: Policy, page: tuple[int, int] | None
) -> Window | Page | None:
    """The :mod:`accord.index.query` query of the driver's key proof."""
    if page is not None:
        return Page(page[0], page[1])
    return query.log_window(policy)


def needed_postings(
    query: QuerySpec, policy: Policy, driver: KeyProof, late: KeyProof | None
) -> list[Posting]:
    """The postings whose records a bundle must carry, by seq, without duplicates: the
    driver's postings inside the log-time window (all of them without a window), and
    every posting of the ``late`` log."""
    window = query.log_window(policy)
    chosen: dict[int, Posting] = {}
    for p in driver.postings:
        if window is None or window.start <= p.log_ts <= window.end:
            chosen[p.seq] = p
    if late is not None:
        for p in late.postings:
            chosen[p.seq] = p
    return [chosen[s] for s in sorted(chosen)]


def prove_terms(
    view: IndexView, readers: PostingReaders, query: QuerySpec, policy: Policy, index_key: bytes
) -> tuple[list[bytes], list[KeyProof], int, tuple[int, int] | None, tuple[bytes, KeyProof] | None]:
    """The key proofs of a bundle at ``view``'s commit: ``(keys, proofs, driver, page,
    late)`` for :func:`build_bundle`. The driver is the first term with the shortest
    posting log; a page of a windowed query counts from the window's first posting (or its
    boundary posting). NotFoundError for a page past the end of a windowed answer."""
    keys = [key_id(index_key, *t.family_value()) for t in query.terms]
    sizes = []
    for k in keys:
        leaf = view.map_proof(k).leaf
        member = leaf is not None and leaf.key_id == k and leaf.value is not None
        sizes.append(leaf.value.size if member and leaf is not None and leaf.value else 0)
    driver = sizes.index(min(sizes))
    s, dkey = sizes[driver], keys[driver]
    window = query.log_window(policy)
    page: tuple[int, int] | None = None
    if query.page is not None and query.page_size is not None:
        per = query.page_size
        if window is None:
            a = query.page * per
            page = (a, a + per)
        else:
            i = readers.first_at_or_after(dkey, s, window.start) if s else 0
            j = readers.first_at_or_after(dkey, s, window.end + 1) if s else 0
            lo, end = (i - 1 if i > 0 else 0), (j + 1 if j < s else s)
            a = lo + query.page * per
            if query.page and a >= end:
                raise NotFoundError(f"page {query.page} is past the end of the answer")
            page = (a, min(a + per, end))
    proofs = [
        prove_key(
            view, k, driver_query(query, policy, page) if i == driver else Page(0, 0), readers
        )
        for i, k in enumerate(keys)
    ]
    late: tuple[bytes, KeyProof] | None = None
    if query.windowed and (query.page is None or query.page == 0):
        late_key = key_id(index_key, *query.terms[driver].late_family_value())
        late = (late_key, prove_key(view, late_key, None, readers))
    return keys, proofs, driver, page, late


def build_bundle(
    *,
    query: QuerySpec,
    policy: Policy,
    checkpoint: str,
    commit_leaf: str,
    commit_proof: Sequence[bytes],
    keys: Sequence[bytes],
    proofs: Sequence[KeyProof],
    driver: int,
    page: tuple[int, int] | None,
    late: tuple[bytes, KeyProof] | None,
    records: Mapping[int, BundleRecord],
) -> Bundle:
    """Assemble a bundle; ``records`` maps seq to record and must hold every needed one
    (UsageError otherwise; others are left out)."""
    if not 0 <= driver < len(proofs):
        raise UsageError("driver must name a query term")
    wanted = needed_postings(query, policy, proofs[driver], None if late is None else late[1])
    missing = [p.seq for p in wanted if p.seq not in records]
    if missing:
        raise UsageError(f"records missing for seqs {missing[:5]}")
    return Bundle(
        query=query,
        policy=policy,
        checkpoint=checkpoint,
        commit_leaf=commit_leaf,
        commit_proof=tuple(commit_proof),
        keys=tuple(keys),
        proofs=tuple(proofs),
        driver=driver,
        page=page,
        late=late,
        records=tuple(records[p.seq] for p in wanted),
    )


def parse_time(value: object, what: str) -> int | None:
    """A query time: None, an integer in ms, or an ISO 8601 date or time (UTC unless it
    names a zone). UsageError otherwise."""
    import datetime as dt

    if value is None:
        return None
    if type(value) is int and 0 <= value <= MAX_U64:
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and len(text) <= 19:
            return int(text)
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            ms = (when - epoch) // dt.timedelta(milliseconds=1)
            if ms >= 0:
                return ms
    raise UsageError(f"{what} must be a time: ms since the epoch or ISO 8601", value=str(value))
