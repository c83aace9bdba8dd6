"""The worklist: alert status derived by replaying alerts and signed decision records."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.compliance import (
    Alert,
    Entry,
    MemoryFacts,
    RuleConfig,
    check_transition,
    decision_statement,
    replay,
    rerun,
)
from accord.compliance.worklist import WorkItem
from accord.errors import MalformedError, NotFoundError, UsageError
from accord.records import Decision, Reviewer, SignedStatement, Statement, sign_statement
from tests.unit.compliance.builders import NOON, PATIENT, Log, access
from tests.unit.compliance.history import DAY, HOME, KEY, PARTIES, directory, generate

SOURCE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PO = Reviewer("po-lee", "R. Lee, privacy officer")


def _alerts() -> tuple[Log, list[Alert]]:
    log = Log()
    log.add(access("dr-a"))
    log.add(access("dr-b", purpose="BTG", break_glass=True, ts=NOON + 1000))
    return log, log.alerts  # no-relationship (a), no-relationship (b), break-glass (b)


def _decide(
    log: Log, item: WorkItem, status: str, ts: int, org: str = "nyu", reason: str = "checked"
) -> Entry:
    """Make, sign, parse back and append a decision record: what the reviewer's tool does."""
    st = decision_statement(
        item,
        patient=PATIENT,
        status=status,
        reason=reason,
        reviewer=PO,
        org=org,
        source="privacy",
        event_ts=ts,
        pseudonym=log.facts.pseudonym,
    )
    signed = SignedStatement.parse(sign_statement(st, SOURCE).body)
    signed.verify(SOURCE.public_key())
    log.last = max(log.last, ts)
    e = Entry.of(signed.record_hash, signed.statement, log.last)
    log.facts.add(e)
    log.entries.append(e)
    return e


def test_every_alert_starts_open_in_time_order() -> None:
    _log, alerts = _alerts()
    wl = replay(reversed(alerts + alerts), [])
    assert [i.alert for i in wl.items] == sorted(alerts, key=lambda a: (a.time, a.id))
    assert [i.status for i in wl.items] == ["open"] * 3
    assert wl.counts() == {"open": 3, "justified": 0, "violation": 0}
    assert wl.orphans == ()


def test_decisions_move_status_and_keep_history() -> None:
    log, alerts = _alerts()
    wl = replay(alerts, [])
    btg = next(i for i in wl.items if i.alert.rule == "break-glass")
    first = _decide(log, btg, "justified", NOON + DAY, reason="code blue in the ED")
    wl = replay(alerts, log.facts.decisions())
    item = wl.get(btg.alert.id)
    assert item.status == "justified"
    assert item.last is not None
    assert (item.last.reason, item.last.reviewer, item.last.time, item.last.record) == (
        "code blue in the ED",
        PO,
        NOON + DAY,
        first.hash,
    )
    second = _decide(log, item, "violation", NOON + 2 * DAY, reason="no emergency on record")
    wl = replay(alerts, log.facts.decisions())
    item = wl.get(btg.alert.id)
    assert item.status == "violation"
    assert [r.record for r in item.reviews] == [first.hash, second.hash]
    assert wl.counts() == {"open": 2, "justified": 0, "violation": 1}
    assert [i.alert.id for i in wl.with_status("violation")] == [btg.alert.id]
    assert len(wl.with_status("open")) == 2


def test_transitions() -> None:
    for current, new in [
        ("open", "justified"),
        ("open", "violation"),
        ("justified", "violation"),
        ("violation", "justified"),
    ]:
        check_transition(current, new)
    for current, new in [
        ("open", "open"),
        ("justified", "justified"),
        ("violation", "open"),
        ("open", "closed"),
        ("closed", "violation"),
    ]:
        with pytest.raises(UsageError):
            check_transition(current, new)


def test_decision_statement_fields_and_checks() -> None:
    log, alerts = _alerts()
    item = replay(alerts, []).items[0]
    st = decision_statement(
        item,
        patient=PATIENT,
        status="violation",
        reason="snooping",
        reviewer=Reviewer("po-lee"),
        org="nyu",
        source="privacy",
        event_ts=NOON + DAY,
        pseudonym=log.facts.pseudonym,
    )
    assert st.schema == "accord.decision"
    assert st.org == "nyu"
    assert [p.to_json() for p in st.principals] == [{"kind": "patient", "id": PATIENT}]
    assert dict(st.fields) == {
        "alert": item.alert.id.hex(),
        "patient": PATIENT,
        "status": "violation",
        "reason": "snooping",
        "reviewer": {"id": "po-lee"},
    }
    assert st.typed == Decision(item.alert.id, PATIENT, "violation", "snooping", Reviewer("po-lee"))
    assert Statement.parse(st.format()) == st
    kw = dict(
        reviewer=PO, org="nyu", source="privacy", event_ts=NOON, pseudonym=log.facts.pseudonym
    )
    with pytest.raises(UsageError, match="not the alert's patient"):
        decision_statement(item, patient="MPI-2", status="justified", reason="x", **kw)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"justified or violation, not .open."):
        decision_statement(item, patient=PATIENT, status="open", reason="x", **kw)  # type: ignore[arg-type]
    with pytest.raises(MalformedError, match=r"fields\.reason"):
        decision_statement(item, patient=PATIENT, status="justified", reason="", **kw)  # type: ignore[arg-type]


def test_other_orgs_decisions_orphans_and_repeats() -> None:
    log, alerts = _alerts()
    items = replay(alerts, []).items
    ours = _decide(log, items[0], "justified", NOON + DAY)
    _decide(log, items[1], "violation", NOON + DAY, org="mskcc")  # another org's review
    stray = _decide(log, items[2], "justified", NOON + DAY)
    decisions = list(log.facts.decisions())
    listed = [items[0].alert, items[1].alert]
    # repeats and records of other schemas in the stream are skipped
    wl = replay(listed, [*decisions, log.entries[0], *decisions], org="nyu")
    assert [i.status for i in wl.items] == ["justified", "open"]
    assert wl.items[0].reviews[0].record == ours.hash
    assert len(wl.items[0].reviews) == 1
    assert [r.record for r in wl.orphans] == [stray.hash]
    everyone = replay(listed, decisions)
    assert [i.status for i in everyone.items] == ["justified", "violation"]
    with pytest.raises(NotFoundError):
        wl.get(b"\0" * 32)
    with pytest.raises(UsageError):
        wl.with_status("closed")


def test_review_of_a_generated_history_is_replayed_from_the_ledger() -> None:
    h = generate(5)
    facts = MemoryFacts(directory(h.staff, h.patients), pseudonym_key=KEY, parties=PARTIES)
    config = RuleConfig(org=HOME, timezone="America/New_York")
    now = h.end + 30 * DAY
    alerts = rerun(h.entries, config, now, facts)
    patients = {facts.pseudonym(p): p for p in h.patients}
    wl = replay(alerts, facts.decisions())
    decided = {}
    last = h.entries[-1].log_ts
    for n, item in enumerate(wl.items[:12]):
        status = "justified" if n % 3 else "violation"
        st = decision_statement(
            item,
            patient=patients[item.alert.patient],
            status=status,
            reason=f"review {n}",
            reviewer=PO,
            org=HOME,
            source="privacy",
            event_ts=now + n,
            pseudonym=facts.pseudonym,
        )
        signed = sign_statement(st, SOURCE)
        facts.add(Entry.of(signed.record_hash, st, max(last, now + n)))
        decided[item.alert.id] = status
    wl = replay(alerts, facts.decisions(), org=HOME)
    assert {i.alert.id: i.status for i in wl.items if i.status != "open"} == decided
    assert wl.counts()["open"] == len(wl.items) - 12
