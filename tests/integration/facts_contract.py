"""The Facts contract: every query of an implementation equals a plain scan of the records.

Used on MemoryFacts and on the node's SqlFacts (SQLite and PostgreSQL), so both
are held to one brute-force reference written from docs/compliance.md
sections 1 and 7.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from accord.compliance import Entry, Facts
from accord.records import Access, Care, Consent, Decision, Disclosure
from tests.unit.compliance.history import DAY, T0

__all__ = ["check_contract"]


def check_contract(facts: Facts, entries: Sequence[Entry], seed: int, rounds: int = 60) -> int:
    """Assert ``facts`` answers like a scan of ``entries`` (log order); the queries made."""
    rng = random.Random(seed)
    made = 0
    patients = sorted({e.patient for e in entries if e.patient} | {"MPI-unknown"})
    people = sorted(
        {(e.view.accessor_org, e.view.accessor.id) for e in entries if isinstance(e.view, Access)}
        | {("nyu", "nobody")}
    )
    for _ in range(rounds):
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
        for schema in ("ehr.access", "ehr.disclosure", "ehr.care", "accord.decision"):
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
        log_lo = lo + rng.randrange(-30, 30) * DAY
        log_hi = log_lo + rng.randrange(-2, 40) * DAY
        assert list(facts.halves_logged(log_lo, log_hi)) == [
            e for e in entries if isinstance(e.view, Disclosure) and log_lo < e.log_ts <= log_hi
        ]
        assert facts.pseudonym(p) == facts.pseudonym(p)
        made += 7
    halves = [e for e in entries if isinstance(e.view, Disclosure)]
    for h in halves:
        d = h.view
        assert isinstance(d, Disclosure)
        assert list(facts.halves(d.transfer_id)) == [
            e
            for e in halves
            if isinstance(e.view, Disclosure) and e.view.transfer_id == d.transfer_id
        ]
        for ref in d.record_refs:
            assert list(facts.disclosures_to(d.recipient_org, ref)) == [
                e
                for e in halves
                if isinstance(e.view, Disclosure)
                and e.view.recipient_org == d.recipient_org
                and ref in e.view.record_refs
            ]
        made += 1 + len(d.record_refs)
    for e in rng.sample(list(entries), min(20, len(entries))):
        assert facts.record(e.hash) == e
    assert facts.record(b"\0" * 32) is None
    assert list(facts.halves("no-such-transfer")) == []
    assert list(facts.decisions()) == [e for e in entries if isinstance(e.view, Decision)]
    return made + 23
