"""The skeptic's verifier for ``accord-bundle/v1`` proof bundles (docs/bundles.md section 3).

Pure: the standard library, ``cryptography`` (through accord.note) and accord's pure
packages. :func:`verify_bundle` checks, in order, and refuses with a
VerificationError naming the first failure:

1. the time policy the node answered with is the one the verifier pins;
2. the checkpoint: the member's log signature, every other signature line by a
   consortium witness of that member and valid, at least ``k`` of them; freshness;
3. the index-commit leaf: included at ``N - 1``, ``covers_size == N - 1``, MapFn v1;
4. per query term: the key id is HMAC(index key, term), the map proof against the
   commit's ``index_root``; the driver is a term with the shortest posting log;
5. the driver's posting range proof, ordering, window boundaries and page position;
   the ``late`` posting log when the query has an event-time window;
6. each needed record: with a body (no header given), the header rebuilt from the body,
   the posting's ``log_ts``, the index key and the pinned lateness hashes to the
   posting's event hash; without (shredded), the given header is the posting's leaf;
   seq below ``covers_size``; the header declares the key;
7. the filter: every term's key in the header's keys, ``event_ts`` in the window.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from accord.errors import (
    BadProofError,
    MalformedError,
    RootMismatchError,
    UsageError,
    VerificationError,
)
from accord.index.bundle import (
    Bundle,
    Policy,
    QuerySpec,
    driver_query,
    needed_postings,
    parse_bundle,
)
from accord.index.postings import Posting
from accord.index.query import KeyProof, Page, Window, verify_key_proof
from accord.merkle import leaf_hash, root_from_inclusion_proof
from accord.note import Checkpoint, Note, Verifier, verify_cosigned_checkpoint
from accord.quorum import Consortium, Member
from accord.records import (
    MAPFN_ID,
    Header,
    IndexCommit,
    SignedStatement,
    build_header,
    key_id,
)

__all__ = [
    "DEFAULT_POLICY",
    "VerifiedAnswer",
    "VerifiedRecord",
    "omit_record",
    "verify_bundle",
    "verify_pages",
]

#: The node's default policy (accord.node.config.Policy): 5 min skew, 7 days lateness.
DEFAULT_POLICY: Final = Policy(300_000, 7 * 24 * 3_600_000)


@dataclass(frozen=True, slots=True)
class VerifiedRecord:
    """One record of a verified answer. ``statement`` is the signed statement's
    ``statement`` object, or None when the body was absent (``header_only``)."""

    seq: int
    log_ts: int
    event_ts: int
    type: str
    org: str
    src: str
    record: str
    late: bool
    statement: dict[str, Any] | None

    @property
    def header_only(self) -> bool:
        return self.statement is None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "log_ts": self.log_ts,
            "event_ts": self.event_ts,
            "type": self.type,
            "org": self.org,
            "src": self.src,
            "record": self.record,
            "late": self.late,
            "header_only": self.header_only,
            "statement": self.statement,
        }


@dataclass(frozen=True, slots=True)
class VerifiedAnswer:
    """A verified answer. ``complete`` is True when the answer is the whole answer at the
    checkpoint (one bundle, or every page of it); a single page of a longer answer says
    False. ``span`` is the driver's posting range checked, ``run`` whether it starts and
    ends the matching run; ``driver_size`` and ``driver_root`` identify its posting log."""

    org: str
    origin: str
    size: int
    root: str
    covers_size: int
    witnesses: dict[str, int]
    query: QuerySpec
    records: tuple[VerifiedRecord, ...]
    complete: bool
    span: tuple[int, int]
    run: tuple[bool, bool]
    driver_size: int
    driver_root: str
    sizes: tuple[int, ...]
    notes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": True,
            "org": self.org,
            "origin": self.origin,
            "checkpoint": {"size": self.size, "root": self.root},
            "covers_size": self.covers_size,
            "witnesses": dict(sorted(self.witnesses.items())),
            "query": self.query.to_json(),
            "complete": self.complete,
            "span": list(self.span),
            "term_sizes": list(self.sizes),
            "count": len(self.records),
            "records": [r.to_json() for r in self.records],
            "notes": list(self.notes),
        }


def _refuse(message: str, **details: Any) -> VerificationError:
    return VerificationError(f"refused: {message}", **details)


# -- checkpoint ------------------------------------------------------------------------


def _member(consortium: Consortium, origin: str) -> Member:
    for member in consortium.members:
        if member.origin == origin:
            return member
    raise _refuse(f"no member of consortium {consortium.id!r} has the log {origin!r}")


def _checkpoint(
    text: str, consortium: Consortium, k: int | None, max_age_s: int | None, now_s: int
) -> tuple[Member, Checkpoint, dict[str, int]]:
    note = Note.parse(text)
    checkpoint = Checkpoint.parse(note.text)
    member = _member(consortium, checkpoint.origin)
    log = Verifier.parse(member.log_key)
    witnesses = tuple(Verifier.parse(m.witness_key) for m in consortium.witnesses_for(member.org))
    known = {(v.name, v.key_id) for v in (log, *witnesses)}
    for sig in note.signatures:
        if (sig.name, sig.key_id) not in known:
            raise _refuse(
                f"the checkpoint carries a signature by {sig.key_ref}, neither the log key "
                "nor a consortium witness of this member"
            )
    need = consortium.witness_k if k is None else k
    if type(need) is not int or not 0 <= need <= len(witnesses):
        raise UsageError(f"k must be from 0 to {len(witnesses)}")
    cp, stamps = verify_cosigned_checkpoint(note, log, witnesses, need)
    if max_age_s is not None:
        fresh = sorted(stamps.values(), reverse=True)
        if not fresh or len(fresh) < max(need, 1) or now_s - fresh[max(need, 1) - 1] > max_age_s:
            raise _refuse(
                f"the checkpoint is not fresh: fewer than {max(need, 1)} cosignature(s) from "
                f"the last {max_age_s} s",
                timestamps=stamps,
            )
    return member, cp, stamps


# -- the bundle ------------------------------------------------------------------------


def _page_checks(
    query: QuerySpec, window: Window | None, size: int, page: tuple[int, int], got: KeyProof
) -> tuple[bool, bool, tuple[Posting, ...]]:
    """Window boundaries and position of one page; (starts_run, ends_run, in-window)."""
    a, b = page
    postings = got.postings
    n = len(postings)
    k, size_n = query.page or 0, query.page_size or 0
    if window is None:
        if a != k * size_n or b != a + size_n:
            raise _refuse(
                f"page {k} of size {size_n} must cover [{k * size_n}, {k * size_n + size_n})"
            )
        return a == 0, a + n >= size, postings
    below = [i for i, p in enumerate(postings) if p.log_ts < window.start]
    above = [i for i, p in enumerate(postings) if p.log_ts > window.end]
    if below not in ([], [0]):
        raise _refuse("a page holds a posting before the window that is not its first")
    if above not in ([], [n - 1]):
        raise _refuse("a page holds a posting after the window that is not its last")
    starts = a == 0 or bool(below)
    ends = a + n >= size or bool(above)
    if query.page == 0 and not starts:
        raise _refuse("the first page must start the posting log or show a boundary posting")
    if b - a != query.page_size and not ends:
        raise _refuse(f"a page that does not end the run holds {query.page_size} postings")
    inside = tuple(p for i, p in enumerate(postings) if i not in below and i not in above)
    return starts, ends, inside


def _given_header(posting: Posting, text: str | None) -> Header:
    """The header of a record whose body is absent: it must be the posting's log entry."""
    try:
        header = Header.parse(text or "")
    except MalformedError as exc:
        raise _refuse(f"record {posting.seq}: bad header: {exc.message}") from None
    if leaf_hash(header.leaf) != posting.event_hash:
        raise _refuse(f"record {posting.seq}: its header is not the posting's log entry")
    if header.log_ts != posting.log_ts:
        raise _refuse(f"record {posting.seq}: its header's log_ts is not the posting's")
    return header


def _rebuilt_header(
    posting: Posting, body: str, index_key: bytes, lateness_ms: int
) -> tuple[Header, SignedStatement]:
    """The header of a record given by its body, rebuilt from the body (type, org, src,
    event_ts, SHA-256 body hash), the posting's ``log_ts``, the index key and the pinned
    lateness (MapFn v1 keys); SHA-256(0x00 || leaf) must be the posting's event hash."""
    raw = body.encode("utf-8")
    try:
        signed = SignedStatement.parse(raw)
    except MalformedError as exc:
        raise _refuse(
            f"record {posting.seq}: its body is not a valid signed statement: {exc.message}"
        ) from None
    if signed.body != raw:
        raise _refuse(f"record {posting.seq}: its body is not canonical")
    try:
        header = build_header(
            signed, log_ts=posting.log_ts, index_key=index_key, lateness_ms=lateness_ms
        )
    except MalformedError as exc:
        raise _refuse(f"record {posting.seq}: no header can be built: {exc.message}") from None
    if header.leaf_hash() != posting.event_hash:
        raise _refuse(
            f"record {posting.seq}: the header rebuilt from its body (log_ts {posting.log_ts}, "
            "MapFn v1 keys at the pinned lateness) does not hash to the posting's event "
            "hash: the body is not the log entry's, or the entry's header is not the body's"
        )
    return header, signed


def _records(
    bundle: Bundle,
    index_key: bytes,
    covers_size: int,
    needed: list[Posting],
    main: set[int],
    late_seqs: set[int],
    late_key: bytes | None,
) -> tuple[list[VerifiedRecord], list[str]]:
    if len(bundle.records) != len(needed):
        raise _refuse(
            f"the bundle carries {len(bundle.records)} records where the proofs need {len(needed)}"
        )
    drv_key = bundle.keys[bundle.driver]
    out: list[VerifiedRecord] = []
    notes: list[str] = []
    for posting, rec in zip(needed, bundle.records, strict=True):
        statement: dict[str, Any] | None = None
        if rec.body is None:
            header = _given_header(posting, rec.header)
            notes.append(
                f"record {header.body_hash.hex()} (seq {posting.seq}): body absent "
                "(shredded); checked header-only"
            )
        else:
            header, signed = _rebuilt_header(
                posting, rec.body, index_key, bundle.policy.lateness_ms
            )
            statement = signed.statement.to_json()
        if posting.seq >= covers_size:
            raise _refuse(f"record {posting.seq}: its seq is not below the commit's covers_size")
        if posting.seq in main and drv_key not in header.keys:
            raise _refuse(f"record {posting.seq}: its header does not declare the queried key")
        if posting.seq in late_seqs and late_key not in header.keys:
            raise _refuse(f"record {posting.seq}: its header does not declare the late key")
        if not all(k in header.keys for k in bundle.keys):
            continue
        if not bundle.query.in_window(header.event_ts):
            continue
        out.append(
            VerifiedRecord(
                posting.seq,
                header.log_ts,
                header.event_ts,
                header.type,
                header.org,
                header.src,
                header.body_hash.hex(),
                posting.seq in late_seqs,
                statement,
            )
        )
    return out, notes


def verify_bundle(
    bundle: Bundle | str | bytes,
    consortium: Consortium,
    index_key: bytes,
    *,
    policy: Policy = DEFAULT_POLICY,
    k: int | None = None,
    max_age_s: int | None = None,
    now_s: int | None = None,
    query: QuerySpec | None = None,
) -> VerifiedAnswer:
    """Verify one bundle (module doc); VerificationError with the reason if refused.

    ``query``: the query that was asked; the bundle must answer exactly it.

    ``k``: cosignatures required (default the consortium's ``witness.k``); ``max_age_s``:
    at least ``max(k, 1)`` cosignatures no older than this (None: no freshness check).
    """
    if not isinstance(consortium, Consortium):
        raise UsageError("verify_bundle needs a Consortium")
    if not isinstance(index_key, bytes) or len(index_key) != 32:
        raise UsageError("the index key is 32 bytes")
    now = int(time.time()) if now_s is None else now_s
    try:
        b = bundle if isinstance(bundle, Bundle) else parse_bundle(bundle)
        if query is not None and b.query != query:
            raise _refuse("the bundle answers another query than the one asked")
        return _verify(b, consortium, index_key, policy, k, max_age_s, now)
    except MalformedError as exc:
        raise _refuse(exc.message) from None


def _verify(
    b: Bundle,
    consortium: Consortium,
    index_key: bytes,
    policy: Policy,
    k: int | None,
    max_age_s: int | None,
    now_s: int,
) -> VerifiedAnswer:
    if b.policy != policy:
        raise _refuse(
            f"the node answered with skew {b.policy.skew_ms} ms and lateness "
            f"{b.policy.lateness_ms} ms; the verifier pins {policy.skew_ms} and "
            f"{policy.lateness_ms}"
        )
    member, cp, stamps = _checkpoint(b.checkpoint, consortium, k, max_age_s, now_s)
    # 3. the commit leaf
    if cp.size < 1:
        raise _refuse("an empty checkpoint holds no index commit")
    commit = IndexCommit.parse(b.commit_leaf)
    root = root_from_inclusion_proof(cp.size - 1, cp.size, leaf_hash(commit.leaf), b.commit_proof)
    if root != cp.root_hash:
        raise RootMismatchError(
            "refused: the commit leaf is not the checkpoint's last entry", cp.root_hash, root
        )
    if commit.covers_size != cp.size - 1:
        raise _refuse(f"the commit covers {commit.covers_size} entries, not {cp.size - 1}")
    if commit.mapfn_id != MAPFN_ID:
        raise _refuse(f"unknown mapfn_id {commit.mapfn_id.hex()}")
    # 4. terms and their map proofs
    query = b.query
    window = query.log_window(b.policy)
    sizes: list[int] = []
    answers = []
    for i, (term, key, proof) in enumerate(zip(query.terms, b.keys, b.proofs, strict=True)):
        family, value = term.family_value()
        if key != key_id(index_key, family, value):
            raise _refuse(f"term {i}: the key id is not the term's MapFn key")
        q = driver_query(query, b.policy, b.page) if i == b.driver else Page(0, 0)
        try:
            got = verify_key_proof(commit.index_root, key, q, proof)
        except UsageError as exc:
            raise BadProofError(f"term {i}: {exc.message}") from None
        answers.append(got)
        sizes.append(0 if got.value is None else got.value.size)
    if sizes[b.driver] != min(sizes):
        raise _refuse("the driver is not a term with the shortest posting log")
    drv = answers[b.driver]
    drv_size = sizes[b.driver]
    drv_proof = b.proofs[b.driver]
    # 5. driver postings: page position and window boundaries
    if b.page is None:
        start, end = drv.start, drv.start + len(drv.postings)
        run = (True, True)
        main = {p.seq for p in drv.postings}
    else:
        starts, ends, inside = _page_checks(query, window, drv_size, b.page, drv_proof)
        start, end = b.page[0], b.page[0] + len(drv_proof.postings)
        run = (starts, ends)
        main = {p.seq for p in inside}
    late_proof: KeyProof | None = None
    late_key: bytes | None = None
    want_late = query.windowed and (query.page is None or query.page == 0)
    if want_late != (b.late is not None):
        raise _refuse(
            "a windowed query's first page carries the late log"
            if want_late
            else "this query carries no late log"
        )
    late_seqs: set[int] = set()
    if b.late is not None:
        late_key, late_proof = b.late
        family, value = query.terms[b.driver].late_family_value()
        if late_key != key_id(index_key, family, value):
            raise _refuse("the late key id is not the driver's late key")
        got_late = verify_key_proof(commit.index_root, late_key, None, late_proof)
        late_seqs = {p.seq for p in got_late.postings}
    # 6-7. records and the filter
    needed = needed_postings(query, b.policy, drv_proof, late_proof)
    records, notes = _records(b, index_key, commit.covers_size, needed, main, late_seqs, late_key)
    return VerifiedAnswer(
        org=member.org,
        origin=cp.origin,
        size=cp.size,
        root=cp.root_hash.hex(),
        covers_size=commit.covers_size,
        witnesses=stamps,
        query=query,
        records=tuple(records),
        complete=run == (True, True),
        span=(start, end),
        run=run,
        driver_size=drv_size,
        driver_root="" if drv.value is None else drv.value.posting_root.hex(),
        sizes=tuple(sizes),
        notes=tuple(notes),
    )


def verify_pages(
    bundles: Sequence[Bundle | str | bytes],
    consortium: Consortium,
    index_key: bytes,
    **options: Any,
) -> VerifiedAnswer:
    """Verify every page of a paginated answer and that together they are complete: one
    checkpoint, one query, pages 0, 1, ... tiling the run of one posting log from its
    start to its end. Returns the merged answer (records by seq, once each)."""
    if not bundles:
        raise UsageError("no bundles to verify")
    answers = [verify_bundle(b, consortium, index_key, **options) for b in bundles]
    if len(answers) == 1:
        return answers[0]
    answers.sort(key=lambda a: a.query.page or 0)
    first = answers[0]
    base = dataclasses.replace(first.query, page=None, page_size=None)
    for i, a in enumerate(answers):
        if (a.origin, a.size, a.root) != (first.origin, first.size, first.root):
            raise _refuse("the pages are answered at different checkpoints")
        if dataclasses.replace(a.query, page=None, page_size=None) != base or a.query.page != i:
            raise _refuse(f"the pages are not pages 0..{len(answers) - 1} of one query")
        if (a.driver_size, a.driver_root) != (first.driver_size, first.driver_root):
            raise _refuse("the pages prove different posting logs")
        if i and a.span[0] != answers[i - 1].span[1]:
            raise _refuse(f"page {i} does not start where page {i - 1} ends")
    if not first.run[0] or not answers[-1].run[1]:
        raise _refuse("the pages do not cover the whole run (first or last page missing)")
    if any(a.run[1] for a in answers[:-1]):
        raise _refuse("a page before the last one already ends the run")
    seen: dict[int, VerifiedRecord] = {}
    for a in answers:
        for r in a.records:
            seen[r.seq] = r
    return dataclasses.replace(
        first,
        query=base,
        records=tuple(seen[s] for s in sorted(seen)),
        complete=True,
        span=(first.span[0], answers[-1].span[1]),
        run=(True, True),
        notes=tuple(n for a in answers for n in a.notes),
    )


def omit_record(bundle: Bundle, record_leaf_hash: bytes) -> Bundle:
    """The bundle a lying node would send without one record: the record and its postings
    (in the driver's and the late key's proofs) removed. The verifier refuses it."""
    # a record with a body carries no header: records are matched to their postings
    needed = bundle.record_postings()
    if len(needed) != len(bundle.records):
        raise UsageError("the bundle's records do not match its postings")
    records = tuple(
        r for p, r in zip(needed, bundle.records, strict=True) if p.event_hash != record_leaf_hash
    )
    if len(records) == len(bundle.records):
        raise UsageError("no record with that leaf hash in the bundle")

    def drop(proof: KeyProof) -> KeyProof:
        kept = tuple(p for p in proof.postings if p.event_hash != record_leaf_hash)
        return dataclasses.replace(proof, postings=kept)

    proofs = tuple(drop(p) if i == bundle.driver else p for i, p in enumerate(bundle.proofs))
    late = None if bundle.late is None else (bundle.late[0], drop(bundle.late[1]))
    return dataclasses.replace(bundle, proofs=proofs, late=late, records=records)
