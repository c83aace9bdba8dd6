"""MemoryFacts answers every Facts query as a plain scan of the log would."""

from __future__ import annotations

import dataclasses
import hashlib
import random

import pytest

from accord.compliance import Directory, Entry, MemoryFacts, Party, parties_from_consortium
from accord.errors import UsageError
from accord.quorum import Consortium
from accord.records import Access, Care, Consent, Decision, Disclosure, Reviewer
from tests.unit.compliance.builders import NOON, access, care
from tests.unit.compliance.history import DAY, KEY, T0, directory, generate, statement
from tests.unit.quorum.fixtures import consortium

SEEDS = range(4)


def _facts(seed: int) -> tuple[list[Entry], MemoryFacts]:
    h = generate(seed)
    return h.entries, MemoryFacts.from_records(
        h.entries, directory(h.staff, h.patients), pseudonym_key=KEY
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_queries_equal_a_scan(seed: int) -> None:
    entries, facts = _facts(seed)
    rng = random.Random(seed)
    patients = sorted({e.patient for e in entries if e.patient})
    people = sorted(
        {(e.view.accessor_org, e.view.accessor.id) for e in entries if isinstance(e.view, Access)}
    )
    for _ in range(200):
        p = rng.choice(patients)
        org, person = rng.choice(people)
        lo = T0 + rng.randrange(-60, 90) * DAY
        hi = lo + rng.randrange(0, 40) * DAY
        assert list(facts.care(p, org, person, lo, hi)) == [
            e
            for e in entries
            if isinstance(e.view, Care)
            and e.view.patient == p
            and (e.view.org == org or e.view.clinician.id == person)
            and e.view.period.start <= hi
            and (e.view.period.end is None or e.view.period.end >= lo)
        ]
        assert list(facts.consents(p)) == [
            e for e in entries if isinstance(e.view, Consent) and e.view.patient == p
        ]
        assert facts.access_count(org, person, lo, hi) == sum(
            1
            for e in entries
            if isinstance(e.view, Access)
            and (e.view.accessor_org, e.view.accessor.id) == (org, person)
            and lo <= e.event_ts < hi
        )
        for schema in ("ehr.access", "ehr.disclosure", "ehr.care"):
            assert list(facts.patient_entries(p, schema, lo, hi)) == [
                e
                for e in entries
                if e.schema == schema and e.patient == p and lo <= e.event_ts < hi
            ]
        assert list(facts.org_disclosures(org, lo, hi)) == [
            e
            for e in entries
            if isinstance(e.view, Disclosure)
            and org in (e.view.discloser_org, e.view.recipient_org)
            and lo <= e.event_ts < hi
        ]
        assert list(facts.halves_logged(lo, hi)) == [
            e for e in entries if isinstance(e.view, Disclosure) and lo < e.log_ts <= hi
        ]
    halves = [e for e in entries if isinstance(e.view, Disclosure)]
    for h in halves:
        d = h.view
        assert isinstance(d, Disclosure)
        assert list(facts.halves(d.transfer_id)) == [
            e
            for e in halves
            if e.view.transfer_id == d.transfer_id  # type: ignore[union-attr]
        ]
        for ref in d.record_refs:
            assert list(facts.disclosures_to(d.recipient_org, ref)) == [
                e
                for e in halves
                if e.view.recipient_org == d.recipient_org and ref in e.view.record_refs  # type: ignore[union-attr]
            ]
        assert facts.record(h.hash) is h
    assert facts.record(b"\0" * 32) is None
    assert facts.halves("no-such-transfer") == ()
    assert facts.access_count("nyu", "nobody", 0, 2**52) == 0


def test_from_records_takes_statements_with_their_hash_and_log_ts() -> None:
    statements = [care(), access()]
    triples = [(hashlib.sha256(st.canonical_bytes).digest(), st, st.event_ts) for st in statements]
    d = Directory(org="nyu")
    a = MemoryFacts.from_records(triples, d, pseudonym_key=KEY)
    b = MemoryFacts.from_records([Entry.of(*t) for t in triples], d, pseudonym_key=KEY)
    assert [a.record(t[0]) for t in triples] == [b.record(t[0]) for t in triples]
    e = a.record(triples[1][0])
    assert e is not None
    assert (e.org, e.schema, e.event_ts, e.log_ts) == ("nyu", "ehr.access", NOON, NOON)
    assert e.view == statements[1].typed


def test_one_record_per_hash_and_log_order() -> None:
    facts = MemoryFacts(Directory(org="nyu"), pseudonym_key=KEY)
    st = access()
    e = Entry.of(b"\1" * 32, st, NOON)
    assert facts.add(e) is True
    assert facts.add(e) is False
    assert facts.access_count("nyu", "dr-a", 0, 2**52) == 1
    with pytest.raises(UsageError, match="log order"):
        facts.add(Entry.of(b"\2" * 32, st, NOON - 1))
    assert len(facts) == 1


def test_late_accesses_are_counted_in_order() -> None:
    facts = MemoryFacts(Directory(org="nyu"), pseudonym_key=KEY)
    for i, ts in enumerate((NOON, NOON - 5 * DAY, NOON + DAY, NOON - DAY)):
        facts.add(Entry.of(bytes([i]) * 32, access(ts=ts, sid=f"s{i}"), NOON + DAY))
    assert facts.access_count("nyu", "dr-a", NOON - 5 * DAY, NOON) == 2
    assert facts.access_count("nyu", "dr-a", NOON, NOON + DAY + 1) == 2
    assert facts.access_count("nyu", "dr-a", NOON, NOON) == 0


def test_decisions_are_collected() -> None:
    facts = MemoryFacts(Directory(org="nyu"), pseudonym_key=KEY)
    fields = {
        "alert": "ab" * 32,
        "status": "violation",
        "reason": "no treatment relationship",
        "reviewer": {"id": "po"},
    }
    st = statement("accord.decision", "nyu", NOON, "MPI-1", fields, "dec-1")
    e = Entry.of(b"\3" * 32, st, NOON)
    facts.add(e)
    assert facts.decisions() == [e]
    assert e.view == Decision(
        bytes.fromhex("ab" * 32), "MPI-1", "violation", fields["reason"], Reviewer("po")
    )
    assert e.patient == "MPI-1"


def test_pseudonyms_and_parties() -> None:
    facts = MemoryFacts(Directory(org="nyu"), pseudonym_key=KEY, parties={"nyu": Party("NYU")})
    p = facts.pseudonym("MPI-1")
    assert len(p) == 32
    assert p == facts.pseudonym("MPI-1") != facts.pseudonym("MPI-2")
    assert facts.party("nyu") == Party("NYU")
    assert facts.party("lab") == Party("lab", None)
    with pytest.raises(UsageError):
        MemoryFacts(Directory(org="nyu"), pseudonym_key=b"short")
    with pytest.raises(UsageError):
        MemoryFacts("nyu", pseudonym_key=KEY)  # type: ignore[arg-type]


def test_parties_from_the_consortium_file() -> None:
    c = consortium()
    members = list(c.members)
    members[0] = dataclasses.replace(members[0], address="1300 York Avenue\nNew York, NY")
    c2 = Consortium(c.id, tuple(members), c.witness_k, c.trust)
    parties = parties_from_consortium(c2)
    assert parties["cornell"] == Party("CORNELL Hospital", "1300 York Avenue\nNew York, NY")
    assert parties["nyu"] == Party("NYU Hospital", None)


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("short-hash", {"hash": b"\0" * 31}),
        ("str-hash", {"hash": "00" * 32}),
        ("negative-time", {"event_ts": -1}),
        ("float-time", {"log_ts": 1.0}),
        ("huge-time", {"log_ts": 2**53}),
    ],
)
def test_entry_checks(name: str, change: dict[str, object]) -> None:
    good = Entry.of(b"\0" * 32, access(), NOON)
    with pytest.raises(UsageError):
        dataclasses.replace(good, **change)  # type: ignore[arg-type]


def test_window_checks() -> None:
    _, facts = _facts(0)
    with pytest.raises(UsageError):
        facts.patient_entries("x", "ehr.access", 5, 4)
    with pytest.raises(UsageError):
        facts.org_disclosures("nyu", 0, 1.5)  # type: ignore[arg-type]
