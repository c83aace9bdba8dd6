"""Mrs. Sally Smith's story (DESIGN.md section 1) as the three hospitals' EHRs log it.

Admitted to Weill Cornell for abdominal pain and an infection; her records disclosed to
NYU Langone for surgery (export and import halves); surgery and post-op at NYU; records
disclosed to Memorial Sloan Kettering for oncology; infection follow-ups at Cornell; one
appropriate access by Dr. Marshall at NYU (during her stay, on the care team) and one
unexplained one (two weeks after discharge); one break-the-glass at MSK. Everything
happens in March (the latest March that is over), logged now: the events are late, so
the index's ``late`` keys carry them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

from accord.records import Principal, Statement

__all__ = [
    "ORGS",
    "PATIENT",
    "PATIENT_NAME",
    "Event",
    "directory_toml",
    "march",
    "rules_toml",
    "story",
]

PATIENT: Final = "MPI-4471-SMITH"
PATIENT_NAME: Final = "Sally Smith"

#: (org id, display name, postal address)
ORGS: Final = (
    ("cornell", "Weill Cornell Medicine", "1300 York Avenue\nNew York, NY 10065"),
    ("nyu", "NYU Langone Health", "550 First Avenue\nNew York, NY 10016"),
    ("mskcc", "Memorial Sloan Kettering", "1275 York Avenue\nNew York, NY 10065"),
)

#: people of each org: (id, name, role)
PEOPLE: Final = {
    "cornell": [
        ("Practitioner/alvarez", "Dr. Ana Alvarez", "physician"),
        ("Practitioner/okafor", "Nurse Grace Okafor", "nurse"),
    ],
    "nyu": [
        ("Practitioner/patel", "Dr. Raj Patel", "surgeon"),
        ("Practitioner/marshall", "Dr. John Marshall", "physician"),
    ],
    "mskcc": [
        ("Practitioner/chen", "Dr. Wen Chen", "oncologist"),
        ("Practitioner/lee", "Dr. Daniel Lee", "emergency physician"),
    ],
}


def march(today: dt.date) -> int:
    """The year of the latest March that is over."""
    return today.year if today.month > 3 else today.year - 1


def record_ref(ehr_id: str) -> str:
    """A record reference: SHA-256 of the EHR's record id and version (never the record)."""
    return hashlib.sha256(f"{ehr_id}|1".encode()).hexdigest()


@dataclass(frozen=True)
class Event:
    """One statement of the story and what the demo expects of it."""

    org: str
    statement: Statement
    caption: str
    tags: frozenset[str] = field(default_factory=frozenset)


def _ms(year: int, day: int, hour: int, minute: int = 0) -> int:
    when = dt.datetime(year, 3, day, hour, minute, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    return int(when.timestamp() * 1000)


def story(today: dt.date) -> list[Event]:
    year = march(today)
    events: list[Event] = []
    counter = iter(range(1, 1000))

    def add(
        org: str, schema: str, at: int, fields: dict[str, Any], caption: str, *tags: str
    ) -> None:
        statement = Statement(
            schema=schema,
            id=f"{org}-ehr-{year}-{next(counter):03d}",
            org=org,
            source="ehr",
            event_ts=at,
            principals=(Principal("patient", PATIENT),),
            fields={"patient": PATIENT, **fields},
        )
        events.append(Event(org, statement, caption, frozenset(tags)))

    def care(
        org: str, who: str, role: str, start: int, end: int, encounter: str, caption: str
    ) -> None:
        add(
            org,
            "ehr.care",
            start,
            {
                "clinician": {"id": who, "role": role},
                "org": org,
                "period": {"start": start, "end": end},
                "encounter_ref": encounter,
            },
            caption,
        )

    def access(
        org: str,
        who: str,
        role: str,
        by_org: str,
        at: int,
        ref: str,
        purpose: str,
        caption: str,
        *tags: str,
        action: str = "R",
    ) -> None:
        add(
            org,
            "ehr.access",
            at,
            {
                "accessor": {"id": who, "role": role},
                "accessor_org": by_org,
                "record_ref": record_ref(ref),
                "action": action,
                "purpose": purpose,
                "outcome": "success",
                "break_glass": purpose == "BTG",
            },
            caption,
            *tags,
        )

    def disclosure(
        org: str,
        half: str,
        at: int,
        src: str,
        dst: str,
        refs: list[str],
        description: str,
        transfer: str,
        caption: str,
    ) -> None:
        add(
            org,
            "ehr.disclosure",
            at,
            {
                "half": half,
                "transfer_id": transfer,
                "discloser_org": src,
                "recipient_org": dst,
                "record_refs": [record_ref(r) for r in refs],
                "purpose": "TREAT",
                "description": description,
            },
            caption,
        )

    # Weill Cornell: admission, infection treatment.
    care(
        "cornell",
        "Practitioner/alvarez",
        "physician",
        _ms(year, 2, 9),
        _ms(year, 9, 12),
        "Encounter/cornell-admission",
        "Cornell: admitted under Dr. Alvarez",
    )
    access(
        "cornell",
        "Practitioner/alvarez",
        "physician",
        "cornell",
        _ms(year, 2, 10),
        "cornell/labs/1",
        "TREAT",
        "Cornell: Dr. Alvarez reads the admission labs",
    )
    access(
        "cornell",
        "Practitioner/okafor",
        "nurse",
        "cornell",
        _ms(year, 3, 14),
        "cornell/meds/1",
        "TREAT",
        "Cornell: Nurse Okafor records the antibiotics",
        action="U",
    )
    # Disclosure Cornell -> NYU for surgery.
    refs = ["cornell/summary/1", "cornell/imaging/1"]
    disclosure(
        "cornell",
        "export",
        _ms(year, 9, 11),
        "cornell",
        "nyu",
        refs,
        "discharge summary and abdominal CT",
        f"transfer-{year}-0309",
        "Cornell sends her summary and CT to NYU (export half)",
    )
    disclosure(
        "nyu",
        "import",
        _ms(year, 9, 12),
        "cornell",
        "nyu",
        refs,
        "discharge summary and abdominal CT",
        f"transfer-{year}-0309",
        "NYU receives them (import half)",
    )
    # NYU: surgery and post-op.
    care(
        "nyu",
        "Practitioner/patel",
        "surgeon",
        _ms(year, 10, 8),
        _ms(year, 15, 12),
        "Encounter/nyu-surgery",
        "NYU: admitted for surgery under Dr. Patel",
    )
    care(
        "nyu",
        "Practitioner/marshall",
        "physician",
        _ms(year, 10, 8),
        _ms(year, 15, 12),
        "Encounter/nyu-surgery",
        "NYU: Dr. Marshall on the care team",
    )
    access(
        "nyu",
        "Practitioner/patel",
        "surgeon",
        "nyu",
        _ms(year, 11, 7),
        "cornell/imaging/1",
        "TREAT",
        "NYU: Dr. Patel reviews Cornell's CT before surgery",
    )
    access(
        "nyu",
        "Practitioner/patel",
        "surgeon",
        "nyu",
        _ms(year, 11, 15),
        "nyu/op-note/1",
        "TREAT",
        "NYU: Dr. Patel writes the operative note",
        action="C",
    )
    access(
        "cornell",
        "Practitioner/marshall",
        "physician",
        "nyu",
        _ms(year, 12, 10),
        "cornell/summary/1",
        "TREAT",
        "Dr. Marshall (NYU) opens her Cornell summary during her stay",
        "marshall-ok",
    )
    access(
        "nyu",
        "Practitioner/patel",
        "surgeon",
        "nyu",
        _ms(year, 13, 9),
        "nyu/postop/1",
        "TREAT",
        "NYU: Dr. Patel's post-op check",
        action="U",
    )
    # Disclosure NYU -> MSK for oncology.
    refs2 = ["nyu/pathology/1", "nyu/op-note/1"]
    disclosure(
        "nyu",
        "export",
        _ms(year, 16, 11),
        "nyu",
        "mskcc",
        refs2,
        "pathology report and operative note",
        f"transfer-{year}-0316",
        "NYU sends pathology to Memorial Sloan Kettering (export half)",
    )
    disclosure(
        "mskcc",
        "import",
        _ms(year, 16, 13),
        "nyu",
        "mskcc",
        refs2,
        "pathology report and operative note",
        f"transfer-{year}-0316",
        "MSK receives it (import half)",
    )
    care(
        "mskcc",
        "Practitioner/chen",
        "oncologist",
        _ms(year, 17, 9),
        _ms(year, 31, 17),
        "Encounter/msk-oncology",
        "MSK: oncology consult with Dr. Chen",
    )
    access(
        "mskcc",
        "Practitioner/chen",
        "oncologist",
        "mskcc",
        _ms(year, 18, 10),
        "nyu/pathology/1",
        "TREAT",
        "MSK: Dr. Chen reads the pathology report",
    )
    # Cornell: infection follow-ups.
    care(
        "cornell",
        "Practitioner/alvarez",
        "physician",
        _ms(year, 22, 9),
        _ms(year, 25, 17),
        "Encounter/cornell-followup",
        "Cornell: infection follow-up visits",
    )
    access(
        "cornell",
        "Practitioner/alvarez",
        "physician",
        "cornell",
        _ms(year, 22, 10),
        "cornell/labs/2",
        "TREAT",
        "Cornell: follow-up labs",
    )
    access(
        "cornell",
        "Practitioner/alvarez",
        "physician",
        "cornell",
        _ms(year, 25, 11),
        "cornell/labs/3",
        "TREAT",
        "Cornell: second follow-up",
    )
    # The unexplained access and the break-the-glass.
    access(
        "cornell",
        "Practitioner/marshall",
        "physician",
        "nyu",
        _ms(year, 28, 21, 40),
        "cornell/summary/1",
        "TREAT",
        "Dr. Marshall (NYU) opens her Cornell summary two weeks after discharge",
        "marshall-unexplained",
    )
    access(
        "mskcc",
        "Practitioner/lee",
        "emergency physician",
        "mskcc",
        _ms(year, 30, 2, 10),
        "nyu/pathology/1",
        "BTG",
        "MSK: Dr. Lee breaks the glass in the emergency room",
        "break-glass",
    )
    return events


def directory_toml(org: str) -> str:
    """The org's directory file (its people; the patient's name for explanations)."""
    lines = ["version = 1", f'org = "{org}"', 'timezone = "America/New_York"', ""]
    for person_id, name, _role in PEOPLE[org]:
        surname = name.split()[-1]
        lines += [
            "[[people]]",
            f'id = "{person_id}"',
            f'name = "{name}"',
            f'surname = "{surname}"',
            'status = "active"',
            "",
        ]
    lines += [
        "[[patients]]",
        f'id = "{PATIENT}"',
        f'name = "{PATIENT_NAME}"',
        'surname = "Smith"',
        "",
    ]
    return "\n".join(lines)


def rules_toml(org: str) -> str:
    """The org's rule configuration: a care relationship explains accesses up to two days
    after it ends (and one day before it starts); after-hours and volume rules are off to
    keep the demo's worklist about the story."""
    return "\n".join(
        [
            "version = 1",
            f'org = "{org}"',
            'timezone = "America/New_York"',
            "",
            "[rules.no-relationship]",
            "care_days_after = 2",
            "care_days_before = 1",
            "",
            "[rules.after-hours]",
            "enabled = false",
            "",
            "[rules.volume]",
            "enabled = false",
            "",
        ]
    )
