"""Small builders for rule tests: statements by keyword, and a log that evaluates as it goes."""

from __future__ import annotations

from typing import Any

from accord.compliance import Alert, Directory, Entry, MemoryFacts, RuleConfig, evaluate, sweep
from accord.records import Statement
from tests.unit.compliance.history import DAY, HOUR, KEY, PARTIES, T0, entry, record_ref, statement

PATIENT = "MPI-1"
NOON = T0 + 10 * DAY + 17 * HOUR  # 2024-01-11 12:00 in New York (a Thursday)
REF = record_ref("chart", PATIENT)


def access(
    accessor: str = "dr-a",
    org: str = "nyu",
    ts: int = NOON,
    *,
    patient: str = PATIENT,
    purpose: str = "TREAT",
    role: str = "ATTPHYS",
    name: str | None = None,
    ref: str = REF,
    action: str = "R",
    outcome: str = "success",
    break_glass: bool = False,
    authorization: tuple[str, bytes] | None = None,
    logged_by: str | None = None,
    sid: str | None = None,
) -> Statement:
    fields: dict[str, Any] = {
        "accessor": {"id": accessor, "role": role},
        "accessor_org": org,
        "record_ref": ref,
        "action": action,
        "purpose": purpose,
        "outcome": outcome,
        "break_glass": break_glass,
    }
    if name is not None:
        fields["accessor"]["name"] = name
    if authorization is not None:
        fields["authorization"] = {"kind": authorization[0], "ref": authorization[1].hex()}
    return statement(
        "ehr.access", logged_by or org, ts, patient, fields, sid or f"a-{accessor}-{ts}-{purpose}"
    )


def care(
    clinician: str = "dr-a",
    org: str = "nyu",
    start: int = NOON - 30 * DAY,
    end: int | None = None,
    *,
    patient: str = PATIENT,
) -> Statement:
    period: dict[str, int] = {"start": start}
    if end is not None:
        period["end"] = end
    fields = {"clinician": {"id": clinician}, "org": org, "period": period}
    return statement("ehr.care", org, start, patient, fields, f"c-{clinician}-{org}-{start}")


def consent(
    grantee: tuple[str, str] = ("org", "nyu"),
    purposes: tuple[str, ...] = ("TREAT",),
    start: int = NOON - 10 * DAY,
    end: int = NOON + 10 * DAY,
    *,
    decision: str = "permit",
    revokes: bytes | None = None,
    ts: int | None = None,
    patient: str = PATIENT,
    org: str = "cornell",
) -> Statement:
    fields: dict[str, Any] = {
        "grantee": {"kind": grantee[0], "id": grantee[1]},
        "purposes": list(purposes),
        "period": {"start": start, "end": end},
        "decision": decision,
    }
    if revokes is not None:
        fields["revokes"] = revokes.hex()
    return statement(
        "ehr.consent",
        org,
        start if ts is None else ts,
        patient,
        fields,
        f"k-{grantee}-{start}-{decision}-{ts}",
    )


def disclosure(
    half: str,
    transfer: str = "t1",
    src: str = "cornell",
    dst: str = "nyu",
    ts: int = NOON - DAY,
    *,
    purpose: str = "TREAT",
    refs: tuple[str, ...] = (REF,),
    patient: str = PATIENT,
    description: str = "discharge summary",
    other_half: bytes | None = None,
) -> Statement:
    fields: dict[str, Any] = {
        "half": half,
        "transfer_id": transfer,
        "discloser_org": src,
        "recipient_org": dst,
        "record_refs": list(refs),
        "purpose": purpose,
        "description": description,
    }
    if other_half is not None:
        fields["other_half"] = other_half.hex()
    org = src if half == "export" else dst
    return statement("ehr.disclosure", org, ts, patient, fields, f"d-{transfer}-{half}-{ts}")


class Log:
    """Records appended in order (log_ts = max(event_ts, last)), evaluated on arrival."""

    def __init__(self, directory: Directory | None = None, config: RuleConfig | None = None):
        self.directory = directory or Directory(org="nyu", timezone="America/New_York")
        self.config = config or RuleConfig(org="nyu", timezone="America/New_York")
        self.facts = MemoryFacts(self.directory, pseudonym_key=KEY, parties=PARTIES)
        self.entries: list[Entry] = []
        self.alerts: list[Alert] = []
        self.fired: list[Alert] = []
        self.last = 0

    def add(self, st: Statement, log_ts: int | None = None) -> Entry:
        """Append ``st``; returns its entry. Its alerts are in ``self.alerts`` (and ``fired``)."""
        self.last = max(self.last, st.event_ts if log_ts is None else log_ts)
        e = entry(st, self.last)
        self.entries.append(e)
        self.facts.add(e)
        self.fired = evaluate(e, self.facts, self.config)
        self.alerts.extend(self.fired)
        return e

    def rules(self) -> list[str]:
        """Rules fired by the last record added."""
        return [a.rule for a in self.fired]

    def sweep(self, now: int, since: int | None = None) -> list[Alert]:
        out = sweep(self.facts, self.config, now, since)
        self.alerts.extend(out)
        return out
