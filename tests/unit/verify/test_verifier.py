"""accord.verify: the checks of docs/bundles.md section 3, one refusal per rule, on bundles
served by the in-memory ledger (tests/unit/verify/ledger.py)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from functools import cache

import pytest

from accord.errors import (
    BadSignatureError,
    MalformedError,
    QuorumNotMetError,
    UsageError,
    VerificationError,
)
from accord.index.bundle import (
    Bundle,
    BundleRecord,
    Policy,
    QuerySpec,
    Term,
    needed_postings,
    parse_bundle,
    parse_time,
)
from accord.merkle import inclusion_proof
from accord.records import MAPFN_ID, Header, IndexCommit
from accord.verify import DEFAULT_POLICY, omit_record, verify_bundle, verify_pages
from tests.unit.verify.ledger import (
    DAY,
    INDEX_KEY,
    NOW_MS,
    NOW_S,
    Ledger,
    access,
    brute_force,
    consortium,
    sample_ledger,
)

C1 = consortium(1)
T0 = NOW_MS - 3 * DAY
MPI1 = QuerySpec((Term("patient", ("MPI-1",)),))


@cache
def ledger() -> Ledger:
    return sample_ledger()


def _verify(bundle: Bundle | str, **kw: object) -> object:
    return verify_bundle(bundle, C1, INDEX_KEY, now_s=NOW_S, **kw)  # type: ignore[arg-type]


def _refused(bundle: Bundle | str, match: str, **kw: object) -> None:
    with pytest.raises(VerificationError, match=match):
        _verify(bundle, **kw)


def test_round_trip_and_answer() -> None:
    bundle = ledger().bundle(MPI1)
    assert parse_bundle(bundle.format()) == bundle
    answer = verify_bundle(bundle.format(), C1, INDEX_KEY, now_s=NOW_S, query=MPI1)
    assert answer.complete
    assert answer.org == "cornell"
    assert [r.seq for r in answer.records] == brute_force(ledger(), {"kind": "patient",
        "patient": "MPI-1"}, answer.covers_size)  # fmt: skip
    assert all(r.statement is not None for r in answer.records)
    assert answer.to_json()["count"] == len(answer.records)


def test_strict_json() -> None:
    text = ledger().bundle(MPI1).format()
    for bad in (
        text.replace('"accord-bundle/v1"', '"accord-bundle/v2"'),
        text.replace('"driver":0', '"driver":0,"extra":1'),
        text.replace('"driver":0', '"driver":"0"'),
        "[]",
        "{",
    ):
        with pytest.raises(MalformedError):
            parse_bundle(bad)
        _refused(bad, "refused")


def test_policy_is_pinned() -> None:
    _refused(ledger().bundle(MPI1), "pins", policy=Policy(1, DEFAULT_POLICY.lateness_ms))


def test_checkpoint_signatures_and_quorum() -> None:
    led = ledger()
    with pytest.raises(QuorumNotMetError):
        _verify(led.bundle(MPI1, note=led.note(())))
    with pytest.raises(QuorumNotMetError):
        verify_bundle(led.bundle(MPI1), consortium(2), INDEX_KEY, now_s=NOW_S)
    _verify(led.bundle(MPI1, note=led.note(("nyu", "mskcc"))), k=2)
    # a cosignature by a key the consortium does not name for this log: refused
    _refused(led.bundle(MPI1, note=led.note(("cornell",))), "neither the log key")
    note = led.note(("nyu",))
    head, _, sigs = note.partition("\n\n")
    forged = head.replace("\n", "\n", 1) + "\n\n" + sigs.replace("A", "B", 1)
    with pytest.raises(VerificationError):
        _verify(led.bundle(MPI1, note=forged))
    lines = sigs.split("\n")
    raw = lines[1].rsplit(" ", 1)
    sig = bytearray(base64.b64decode(raw[1]))
    sig[-1] ^= 1
    lines[1] = raw[0] + " " + base64.b64encode(bytes(sig)).decode()
    flipped = led.bundle(MPI1, note=head + "\n\n" + "\n".join(lines))
    with pytest.raises(BadSignatureError):
        _verify(flipped)


def test_another_members_log_or_unknown_origin() -> None:
    other = consortium(1)
    renamed = dataclasses.replace(
        other,
        members=tuple(
            dataclasses.replace(m, origin=m.origin + "-x") if m.org == "cornell" else m
            for m in other.members
        ),
    )
    with pytest.raises(VerificationError, match="no member"):
        verify_bundle(ledger().bundle(MPI1), renamed, INDEX_KEY, now_s=NOW_S)


def test_freshness() -> None:
    led = ledger()
    stale = led.bundle(MPI1, note=led.note(("nyu",), ts=NOW_S - 3600))
    _verify(stale, max_age_s=7200)
    _refused(stale, "not fresh", max_age_s=600)
    with pytest.raises(VerificationError, match="not fresh"):
        verify_bundle(
            led.bundle(MPI1, note=led.note(())), consortium(0), INDEX_KEY, now_s=NOW_S,
            max_age_s=600,
        )  # fmt: skip


def test_commit_leaf_rules() -> None:
    led = ledger()
    bundle = led.bundle(MPI1)
    commit = IndexCommit.parse(bundle.commit_leaf)
    # an unknown MapFn: a log whose commit names another mapfn_id (properly included)
    other = Ledger()
    other.batch([access("MPI-1", "dr-a", T0, "x1")], T0 + 1)
    n = other.tree.size
    wrong = IndexCommit(
        commit.log_ts, n - 1, IndexCommit.parse(other.entries[-1]).index_root, b"\x01" * 32, None
    )
    other.entries[-1] = wrong.leaf
    other.tree = type(other.tree)(hashlib.sha256(b"\x00" + e).digest() for e in other.entries)
    _refused(other.bundle(MPI1), "unknown mapfn_id")
    # the commit leaf swapped for an older one: not the checkpoint's last entry
    old = led.entries[led.last_commit - 8] if False else None
    assert old is None
    prev = IndexCommit.parse(led.entries[commit.prev_commit_seq or 0])
    _refused(dataclasses.replace(bundle, commit_leaf=prev.format()), "last entry")
    # a proof for another position
    _refused(
        dataclasses.replace(
            bundle, commit_proof=tuple(inclusion_proof(0, led.tree.size, led.tree.read_nodes))
        ),
        "last entry|proof",
    )
    assert commit.mapfn_id == MAPFN_ID


def test_query_mismatch_and_key_substitution() -> None:
    bundle = ledger().bundle(MPI1)
    _refused(bundle, "another query", query=QuerySpec((Term("patient", ("MPI-2",)),)))
    mpi2 = ledger().bundle(QuerySpec((Term("patient", ("MPI-2",)),)))
    # MPI-2's proofs passed off as MPI-1's
    _refused(dataclasses.replace(mpi2, query=MPI1), "key id")
    _refused(dataclasses.replace(bundle, keys=mpi2.keys, proofs=mpi2.proofs), "key id")


def test_records_must_match_postings_and_bodies() -> None:
    bundle = ledger().bundle(MPI1)
    recs = list(bundle.records)
    # another patient's record in place of one
    other = ledger().bundle(QuerySpec((Term("patient", ("MPI-2",)),))).records[0]
    _refused(dataclasses.replace(bundle, records=(other, *recs[1:])), "posting's event hash")
    # a record with a body carries no header: the verifier rebuilds it
    assert all(r.header is None and r.body is not None for r in recs)
    # two records' bodies swapped: the rebuilt headers are not the postings' entries
    swapped = (recs[1], recs[0], *recs[2:])
    _refused(dataclasses.replace(bundle, records=swapped), "does not hash to the posting")
    # a body edited (still a valid statement, canonical): refused by the leaf hash
    edited = BundleRecord(None, recs[0].body.replace("dr-", "dr-x-", 1))  # type: ignore[union-attr]
    _refused(dataclasses.replace(bundle, records=(edited, *recs[1:])), "event hash")
    # a body that is not a signed statement, or not canonical
    junk = BundleRecord(None, "{}")
    _refused(dataclasses.replace(bundle, records=(junk, *recs[1:])), "not a valid signed")
    loose = BundleRecord(None, recs[0].body.replace(",", ", ", 1))  # type: ignore[union-attr]
    _refused(dataclasses.replace(bundle, records=(loose, *recs[1:])), "record")
    _refused(dataclasses.replace(bundle, records=tuple(recs[:-1])), "records where")
    # a body withheld (claimed shredded), the header given: accepted header-only, and said
    seq = bundle.proofs[0].postings[0].seq
    blank = BundleRecord(ledger().entries[seq].decode("ascii"), None)
    answer = _verify(dataclasses.replace(bundle, records=(blank, *recs[1:])))
    assert answer.records[0].header_only  # type: ignore[attr-defined]
    assert "header-only" in answer.notes[0]  # type: ignore[attr-defined]
    # the header of another record in its place
    wrong = BundleRecord(ledger().entries[bundle.proofs[0].postings[1].seq].decode(), None)
    _refused(dataclasses.replace(bundle, records=(wrong, *recs[1:])), "not the posting's log")


def test_a_record_carries_exactly_one_of_header_and_body() -> None:
    bundle = ledger().bundle(MPI1)
    seq = bundle.proofs[0].postings[0].seq
    header = ledger().entries[seq].decode("ascii")
    body = bundle.records[0].body
    for h, b in ((header, body), (None, None), ("", None), (None, "")):
        with pytest.raises(MalformedError, match="record"):
            BundleRecord(h, b)
    value = bundle.to_json()
    assert set(value["records"][0]) == {"body"}
    header_json = BundleRecord(header, None).to_json()["header"]
    for bad in (
        {"body": body, "header": header_json},
        {"body": None, "header": header_json},
        {"body": body, "header": None},
        {},
        {"body": None},
        {"header": None},
        {"body": ""},
    ):
        value["records"][0] = bad
        text = json.dumps(value)
        with pytest.raises(MalformedError):
            parse_bundle(text)
        _refused(text, "malformed|record")
    value["records"][0] = {"header": header_json}
    answer = _verify(json.dumps(value))
    assert answer.records[0].header_only  # type: ignore[attr-defined]


def test_header_keys_must_equal_mapfn_of_the_body() -> None:
    # a log whose header omits a key MapFn gives (the index is built from the header)
    led = Ledger()
    led.batch([access("MPI-1", "dr-a", T0, "h1")], T0 + 10)
    header = Header.parse(led.entries[0])
    from accord.records import key_id

    drop = key_id(INDEX_KEY, "accessor_org", "cornell")
    bad = dataclasses.replace(header, keys=tuple(k for k in header.keys if k != drop))
    led2 = Ledger()
    led2.bodies[0] = led.bodies[0]
    from accord.index import IndexEntry

    led2._append(bad.leaf)
    led2.store.apply(led2.state.apply_batch([IndexEntry(0, bad.log_ts, bad.leaf_hash(), bad.keys)]))
    commit = IndexCommit(bad.log_ts, 1, led2.state.root, MAPFN_ID, None)
    led2.last_commit = led2._append(commit.leaf)
    _refused(led2.bundle(MPI1), "MapFn")


def test_late_records_and_windows() -> None:
    q = QuerySpec((Term("patient", ("MPI-2",)),), NOW_MS - 13 * DAY, T0)
    bundle = ledger().bundle(q)
    answer = _verify(bundle)
    assert answer.records  # type: ignore[attr-defined]
    assert all(r.late for r in answer.records)  # type: ignore[attr-defined]
    _refused(dataclasses.replace(bundle, late=None), "late log")
    whole = ledger().bundle(MPI1)
    _refused(dataclasses.replace(whole, late=bundle.late), "no late log")


def test_conjunction_needs_the_shorter_driver() -> None:
    q = QuerySpec((Term("patient", ("MPI-1",)), Term("accessor", ("cornell", "nurse-c"))))
    bundle = ledger().bundle(q)
    answer = _verify(bundle)
    sizes = answer.sizes  # type: ignore[attr-defined]
    assert sizes[bundle.driver] == min(sizes)
    expect = brute_force(ledger(), q.to_json(), answer.covers_size)  # type: ignore[attr-defined]
    assert [r.seq for r in answer.records] == expect  # type: ignore[attr-defined]


def test_pages_tile_the_answer() -> None:
    q = QuerySpec((Term("patient", ("MPI-0",)),), T0 + 9 * 60_000, None, 0, 3)
    pages = []
    for k in range(20):
        b = ledger().bundle(dataclasses.replace(q, page=k))
        pages.append(b.format())
        if _verify(b).run[1]:  # type: ignore[attr-defined]
            break
    assert len(pages) > 2
    merged = verify_pages(pages, C1, INDEX_KEY, now_s=NOW_S)
    plain = {"kind": "patient", "patient": "MPI-0", "from": q.start}
    assert [r.seq for r in merged.records] == brute_force(ledger(), plain, merged.covers_size)
    for broken in (pages[1:], pages[:-1], [pages[0], pages[2], *pages[3:]], [*pages, pages[-1]]):
        with pytest.raises(VerificationError):
            verify_pages(broken, C1, INDEX_KEY, now_s=NOW_S)
    with pytest.raises(UsageError):
        verify_pages([], C1, INDEX_KEY)


def test_omit_record_is_refused() -> None:
    for q in (MPI1, QuerySpec((Term("patient", ("MPI-2",)),), NOW_MS - 13 * DAY, T0 + DAY)):
        bundle = ledger().bundle(q)
        late = None if bundle.late is None else bundle.late[1]
        for posting in needed_postings(bundle.query, bundle.policy, bundle.proofs[0], late):
            lie = omit_record(bundle, posting.event_hash)
            assert len(lie.records) == len(bundle.records) - 1
            with pytest.raises(VerificationError):
                _verify(lie)
    with pytest.raises(UsageError):
        omit_record(bundle, b"\x00" * 32)


def test_query_spec_and_times() -> None:
    assert parse_time("2026-01-01T00:00:00Z", "t") == 1767225600000
    assert parse_time("2026-01-01", "t") == 1767225600000
    assert parse_time(5, "t") == 5
    assert parse_time("17", "t") == 17
    assert parse_time(None, "t") is None
    for bad in ("yesterday", -1, 1.5, True):
        with pytest.raises(UsageError):
            parse_time(bad, "t")
    for bad_q in (
        {"kind": "x"},
        {"kind": "patient"},
        {"kind": "patient", "patient": ""},
        {"kind": "patient", "patient": "a", "from": 5, "to": 4},
        {"kind": "patient", "patient": "a", "page": 1},
        {"kind": "record", "record": "AB" * 32},
        {"kind": "patient", "patient": "a", "and": [{"kind": "patient", "patient": "a"}]},
    ):
        with pytest.raises(UsageError):
            QuerySpec.from_json(bad_q)
    with pytest.raises(UsageError):
        _verify(ledger().bundle(MPI1), k=5)
    with pytest.raises(UsageError):
        verify_bundle(ledger().bundle(MPI1), C1, b"short")
