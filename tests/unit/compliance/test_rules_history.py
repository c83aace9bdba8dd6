"""Generated histories: re-running equals evaluating on arrival, and the engine agrees with a
brute-force reading of the rules written plainly over the log."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from accord.compliance import Alert, Entry, MemoryFacts, RuleConfig, evaluate, rerun, sweep
from accord.records import Access, Care, Consent, Disclosure, is_a
from tests.unit.compliance.history import (
    DAY,
    HOME,
    HOUR,
    KEY,
    PARTIES,
    burst,
    directory,
    generate,
)

SEEDS = range(8)
TZ = "America/New_York"


def _config(**rules: dict[str, object]) -> RuleConfig:
    return RuleConfig(org=HOME, timezone=TZ, rules=rules)


def _arrival(
    entries: list[Entry], config: RuleConfig, facts: MemoryFacts, now: int, seed: int
) -> list[Alert]:
    """Evaluate each record as it arrives, with sweeps at random points in between."""
    rng = random.Random(seed)
    out: list[Alert] = []
    since = None
    for e in entries:
        facts.add(e)
        out += evaluate(e, facts, config)
        if rng.random() < 0.1:
            out += sweep(facts, config, e.log_ts, since)
            since = e.log_ts
    out += sweep(facts, config, now, since)
    return out


def _facts(seed: int, staff: list[tuple[str, str, str]], patients: list[str]) -> MemoryFacts:
    return MemoryFacts(directory(staff, patients), pseudonym_key=KEY, parties=PARTIES)


@pytest.mark.parametrize("seed", SEEDS)
def test_rerun_equals_arrival_with_interleaved_sweeps(seed: int) -> None:
    h = generate(seed)
    burst(h, h.staff[7], 55, 60)  # an NYU clinician's busy day: the volume rule
    config = _config()
    now = h.end + 60 * DAY
    arrived = _arrival(h.entries, config, _facts(seed, h.staff, h.patients), now, seed)
    again = rerun(h.entries, config, now, _facts(seed, h.staff, h.patients))
    assert sorted(arrived, key=lambda a: a.id) == sorted(again, key=lambda a: a.id)
    assert len({a.id for a in again}) == len(again)  # no alert raised twice
    rules = {a.rule for a in again}
    assert {"no-relationship", "break-glass", "unmatched-disclosure", "volume"} <= rules


def test_rerun_needs_empty_facts_and_skips_repeats() -> None:
    h = generate(1)
    facts = _facts(1, h.staff, h.patients)
    once = rerun(h.entries + h.entries[:5], _config(), h.end, facts)
    assert len(facts) == len(h.entries)
    assert once == rerun(h.entries, _config(), h.end, _facts(1, h.staff, h.patients))
    with pytest.raises(Exception, match="empty MemoryFacts"):
        rerun(h.entries, _config(), h.end, facts)


def test_rerun_with_another_config_changes_the_verdicts() -> None:
    h = generate(2)
    loose = rerun(h.entries, _config(), h.end, _facts(2, h.staff, h.patients))
    tight = rerun(
        h.entries,
        _config(**{"no-relationship": {"care_days_after": 0, "care_days_before": 0}}),
        h.end,
        _facts(2, h.staff, h.patients),
    )
    count = lambda alerts: sum(a.rule == "no-relationship" for a in alerts)  # noqa: E731
    assert count(tight) > count(loose)


# -- brute force: the rules read plainly ---------------------------------------------------


def _covers(purposes: tuple[str, ...] | set[str], purpose: str) -> bool:
    return any(is_a(purpose, p) for p in purposes)


def _consent_matches(c: Consent, a: Access) -> bool:
    g = c.grantee
    grantee = (
        (g.kind == "org" and g.id == a.accessor_org)
        or (g.kind == "person" and g.id == a.accessor.id)
        or (g.kind == "role" and g.id == a.accessor.role)
    )
    return grantee and _covers(c.purposes, a.purpose)


def _brute(
    entries: list[Entry], now: int, care_before: int, care_after: int, grace: int
) -> set[tuple[str, bytes]]:
    """(rule, trigger) for no-relationship, break-glass, consent-denied, purpose-drift,
    unmatched-disclosure and volume, each computed from the log prefix with plain loops."""
    out: set[tuple[str, bytes]] = set()
    zone = ZoneInfo(TZ)
    for i, e in enumerate(entries):
        a = e.view
        if not isinstance(a, Access):
            continue
        seen = entries[: i + 1]
        t = e.event_ts
        cared = False
        for o in seen:
            c = o.view
            if (
                isinstance(c, Care)
                and c.patient == a.patient
                and (c.org == a.accessor_org or c.clinician.id == a.accessor.id)
            ):
                end = c.period.end if c.period.end is not None else 2**60
                if c.period.start - care_before <= t and t <= end + care_after:
                    cared = True
        permitted = denied = False
        for o in seen:
            c = o.view
            if not isinstance(c, Consent) or c.patient != a.patient or not _consent_matches(c, a):
                continue
            revoked = any(
                isinstance(r.view, Consent) and r.view.revokes == o.hash and r.event_ts <= t
                for r in seen
            )
            if c.period.start <= t <= (c.period.end or 0) and not revoked:
                if c.decision == "permit":
                    permitted = True
                else:
                    denied = True
        if not cared and not permitted:
            out.add(("no-relationship", e.hash))
        if a.break_glass:
            out.add(("break-glass", e.hash))
        if denied:
            out.add(("consent-denied", e.hash))
        brought = {
            o.view.purpose
            for o in seen
            if isinstance(o.view, Disclosure)
            and o.view.recipient_org == a.accessor_org
            and a.record_ref in o.view.record_refs
            and o.event_ts <= t
        }
        if brought and not _covers(brought, a.purpose):
            out.add(("purpose-drift", e.hash))
        # volume: this accessor's accesses on the local day, and on the 28 days before
        day = datetime.fromtimestamp(t / 1000, zone).date()

        def count(first: object, last: object, upto: list[Entry] = seen, who: Access = a) -> int:
            return sum(
                1
                for o in upto
                if isinstance(o.view, Access)
                and (o.view.accessor_org, o.view.accessor.id) == (who.accessor_org, who.accessor.id)
                and first <= datetime.fromtimestamp(o.event_ts / 1000, zone).date() <= last  # type: ignore[operator]
            )

        today = count(day, day)
        before = count(day - timedelta(days=28), day - timedelta(days=1))
        prev_today = count(day, day, seen[:-1])
        above = today >= 50 and today > 3.0 * before / 28
        was_above = prev_today >= 50 and prev_today > 3.0 * before / 28
        if above and not was_above:
            out.add(("volume", e.hash))
    for e in entries:
        d = e.view
        if not isinstance(d, Disclosure) or e.log_ts + grace > now:
            continue
        key = (d.transfer_id, d.discloser_org, d.recipient_org, d.patient)
        matched = any(
            isinstance(o.view, Disclosure)
            and o.view.half != d.half
            and (o.view.transfer_id, o.view.discloser_org, o.view.recipient_org, o.view.patient)
            == key
            and o.log_ts <= e.log_ts + grace
            for o in entries
        )
        if not matched:
            out.add(("unmatched-disclosure", e.hash))
    return out


BRUTE_RULES = {
    "no-relationship",
    "break-glass",
    "consent-denied",
    "purpose-drift",
    "unmatched-disclosure",
    "volume",
}


@pytest.mark.parametrize("seed", SEEDS)
def test_engine_agrees_with_brute_force(seed: int) -> None:
    h = generate(seed, accesses=120)
    burst(h, h.staff[8], 40, 55)
    now = h.end + 10 * DAY
    alerts = rerun(h.entries, _config(), now, _facts(seed, h.staff, h.patients))
    got = {(a.rule, a.trigger) for a in alerts if a.rule in BRUTE_RULES}
    want = _brute(h.entries, now, 7 * DAY, 1095 * DAY, 24 * HOUR)
    assert got == want
    assert {r for r, _ in want} >= {"no-relationship", "unmatched-disclosure", "volume"}
