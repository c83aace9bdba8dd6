"""A seeded generator of histories for the compliance tests, built from real statements.

Care relationships (some ended), consents (permit and deny, to orgs, people and
roles, some revoked), disclosures (paired, export only, import only, import
logged late, repeated series, TPO and non-TPO purposes) and accesses (by
clinicians with and without relationships, break-the-glass, on disclosed
records with other purposes, bursts), in log order: ``log_ts`` never decreases,
and some records are logged long after their ``event_ts``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from accord.compliance import Directory, Entry, Party, PatientInfo, Person, WorkingHours
from accord.records import Principal, Statement

DAY = 86_400_000
HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOME = "nyu"
ORGS = ("cornell", "nyu", "mskcc", "ext-lab")
PARTIES = {
    "cornell": Party("Weill Cornell Medicine", "1300 York Avenue\nNew York, NY 10065"),
    "nyu": Party("NYU Langone Health", "550 First Avenue\nNew York, NY 10016"),
    "mskcc": Party("Memorial Sloan Kettering", "1275 York Avenue\nNew York, NY 10065"),
}
KEY = bytes(range(32))
ROLES = ("ATTPHYS", "NURSE", "BILLING")
ACCESS_PURPOSES = ("TREAT", "TREAT", "ETREAT", "HPAYMT", "HOPERAT", "CLINTRL", "HRESCH")
DISCLOSURE_PURPOSES = ("TREAT", "HPAYMT", "HOPERAT", "PUBHLTH", "HRESCH", "HLEGAL", "THREAT")


def record_ref(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def statement(
    schema: str, org: str, event_ts: int, patient: str, fields: dict[str, Any], sid: str
) -> Statement:
    return Statement(
        schema=schema,
        id=sid,
        org=org,
        source="ehr",
        event_ts=event_ts,
        principals=(Principal("patient", patient),),
        fields={"patient": patient, **fields},
    )


def entry(st: Statement, log_ts: int) -> Entry:
    return Entry.of(hashlib.sha256(st.canonical_bytes).digest(), st, log_ts)


@dataclass
class History:
    """The generated records in log order, with what generated them."""

    entries: list[Entry] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)
    staff: list[tuple[str, str, str]] = field(default_factory=list)  # (org, id, role)
    end: int = 0


def directory(staff: list[tuple[str, str, str]], patients: list[str]) -> Directory:
    """NYU's directory: its staff (one terminated, one on leave, one night shift), household
    and surname matches, a co-worker patient, one VIP."""
    people = []
    for i, (_org, sid, _) in enumerate(s for s in staff if s[0] == HOME):
        people.append(
            Person(
                id=sid,
                name=f"Dr. {sid}",
                surname="Smith" if i == 0 else f"Surname{i}",
                address="1 Elm Street\nBrooklyn" if i == 1 else f"{i} Oak Road",
                department="cardiology",
                status={2: "terminated", 3: "leave"}.get(i, "active"),
                end=T0 + 20 * DAY if i == 2 else None,
                hours=WorkingHours.parse("daily 19:00-07:00") if i == 4 else None,
                patient_ids=(patients[1],) if i == 5 else (),
            )
        )
    return Directory(
        org=HOME,
        timezone="America/New_York",
        people=tuple(people),
        patients=(
            PatientInfo(patients[0], name="Sally Smith", surname="SMITH", address="9 Bay St"),
            PatientInfo(
                patients[2], name="Ann Lee", surname="Lee", address="1 ELM STREET, Brooklyn"
            ),
        ),
        vip=(patients[3],),
    )


def generate(seed: int, patients: int = 8, accesses: int = 150, days: int = 60) -> History:
    rng = random.Random(seed)
    h = History()
    h.patients = [f"MPI-{seed}-{i}" for i in range(patients)]
    h.staff = [(org, f"{org}-dr{i}", ROLES[i % 3]) for org in ORGS[:3] for i in range(7)]
    items: list[tuple[int, int, Statement]] = []  # (log_ts, n, statement)
    n = 0

    def add(st: Statement, late: bool = False) -> None:
        nonlocal n
        delay = rng.randrange(30 * DAY) if late else rng.randrange(60_000)
        items.append((st.event_ts + delay, n, st))
        n += 1

    end = T0 + days * DAY
    h.end = end
    for p in h.patients:
        for _ in range(rng.randint(1, 3)):
            org, sid, role = rng.choice(h.staff)
            start = T0 + rng.randrange(days) * DAY - 40 * DAY
            fields: dict[str, Any] = {
                "clinician": {"id": sid, "role": role},
                "org": org,
                "period": {"start": start},
            }
            if rng.random() < 0.5:
                fields["period"]["end"] = start + rng.randrange(1, 30) * DAY
            add(statement("ehr.care", org, start, p, fields, f"care-{n}"), rng.random() < 0.1)
        for _ in range(rng.randint(0, 2)):
            org, sid, role = rng.choice(h.staff)
            kind = rng.choice(("org", "person", "role"))
            gid = {"org": org, "person": sid, "role": role}[kind]
            start = T0 + rng.randrange(days) * DAY - 10 * DAY
            fields = {
                "grantee": {"kind": kind, "id": gid},
                "purposes": rng.sample(["TREAT", "HPAYMT", "HOPERAT", "HRESCH"], rng.randint(1, 2)),
                "period": {"start": start, "end": start + rng.randrange(1, 40) * DAY},
                "decision": "deny" if rng.random() < 0.2 else "permit",
            }
            st = statement("ehr.consent", org, start, p, fields, f"consent-{n}")
            add(st)
            if rng.random() < 0.3:
                rev = dict(fields, revokes=hashlib.sha256(st.canonical_bytes).hexdigest())
                rev["decision"] = "deny"
                when = start + rng.randrange(1, 20) * DAY
                add(statement("ehr.consent", org, when, p, rev, f"revoke-{n}"))
    refs: dict[str, list[str]] = {p: [record_ref(p, k) for k in range(3)] for p in h.patients}
    transfer = 0
    for _ in range(max(4, patients * 2)):
        p = rng.choice(h.patients)
        src, dst = rng.sample(ORGS, 2)
        purpose = rng.choice(DISCLOSURE_PURPOSES)
        repeat = rng.choice((1, 1, 1, 3))
        when = T0 + rng.randrange(days) * DAY
        for _ in range(repeat):
            transfer += 1
            tid = f"xfer-{seed}-{transfer}"
            when += rng.randrange(1, 10) * DAY
            pick = rng.sample(refs[p], rng.randint(1, 2))
            shape = rng.random()
            base = {
                "transfer_id": tid,
                "discloser_org": src,
                "recipient_org": dst,
                "record_refs": pick,
                "purpose": purpose,
                "description": rng.choice(("discharge summary", "lab results", "imaging")),
            }
            if shape > 0.1 and src != "ext-lab":
                add(
                    statement("ehr.disclosure", src, when, p, {"half": "export", **base}, tid + "e")
                )
            if shape < 0.9 and dst != "ext-lab":
                imp = dict(base, half="import")
                if rng.random() < 0.1:
                    imp["purpose"] = "HOPERAT"
                add(
                    statement("ehr.disclosure", dst, when + HOUR, p, imp, tid + "i"),
                    late=rng.random() < 0.15,
                )
    for i in range(accesses):
        p = rng.choice(h.patients)
        org, sid, role = rng.choice(h.staff)
        ts = T0 + rng.randrange(days * DAY)
        purpose = rng.choice(ACCESS_PURPOSES)
        btg = rng.random() < 0.05
        fields = {
            "accessor": {"id": sid, "role": role, "name": f"Dr. {sid}"},
            "accessor_org": org,
            "record_ref": rng.choice(refs[p]),
            "action": rng.choice("RRRCUE"),
            "purpose": "BTG" if btg else purpose,
            "outcome": "success" if rng.random() < 0.95 else "minor-failure",
            "break_glass": btg,
        }
        add(statement("ehr.access", org, ts, p, fields, f"acc-{i}"), rng.random() < 0.05)
    items.sort(key=lambda item: (item[0], item[1]))
    h.entries = [entry(st, log_ts) for log_ts, _, st in items]
    return h


def burst(h: History, accessor: tuple[str, str, str], day: int, count: int) -> None:
    """Append ``count`` accesses by ``accessor`` on day ``day`` after the history (log order)."""
    org, sid, role = accessor
    last = h.entries[-1].log_ts if h.entries else T0
    for i in range(count):
        ts = T0 + day * DAY + 15 * HOUR + i * 1000
        fields = {
            "accessor": {"id": sid, "role": role},
            "accessor_org": org,
            "record_ref": record_ref("burst", i),
            "action": "R",
            "purpose": "TREAT",
            "outcome": "success",
            "break_glass": False,
        }
        st = statement("ehr.access", org, ts, h.patients[i % len(h.patients)], fields, f"b-{i}")
        h.entries.append(entry(st, max(last, ts)))
        last = max(last, ts)
