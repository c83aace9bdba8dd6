"""The rules on the Synthea patients and the scenario resources, through the FHIR mapping.

Cris921 had an encounter with Dr. Fisher429 at MOUNT AUBURN (2020-02-29), so her
read of Cris921's record at PCP91959 (2021-03-02) is appropriate; Dr. Cormier289
(STURDY MEMORIAL) has no encounter and breaks the glass: that alerts.
"""

from __future__ import annotations

import hashlib

from accord.compliance import (
    Directory,
    Entry,
    MemoryFacts,
    Party,
    Person,
    RuleConfig,
    WorkingHours,
    evaluate,
    rerun,
    sweep,
)
from accord.compliance.fhir import (
    auditevent_to_statement,
    bundle_references,
    consent_to_statement,
    encounter_to_care,
    encounters_in_bundle,
)
from accord.records import Statement
from tests.unit.compliance.fhir_data import (
    BTG_R5,
    CONSENT_R4,
    CORMIER,
    DIRECTORY,
    EXPORT_R4,
    FISHER,
    HOSPITALS,
    IMPORT_R4,
    LOGGED_BY,
    PATIENT,
    READ_R5,
    scenario,
    synthea,
)

KEY = bytes(32)
PARTIES = {
    "pcp91959": Party("PCP91959"),
    "mount-auburn": Party("MOUNT AUBURN HOSPITAL", "330 Mount Auburn Street\nCambridge, MA"),
    "sturdy": Party("STURDY MEMORIAL HOSPITAL"),
}
DAY = 86_400_000


def _care(name: str) -> list[Statement]:
    bundle = synthea(name)
    refs = bundle_references(bundle) | bundle_references(synthea(HOSPITALS))
    return [
        encounter_to_care(enc, org="pcp91959", source="fhir", directory=DIRECTORY, references=refs)
        for enc in encounters_in_bundle(bundle)
    ]


def _audit(name: str) -> Statement:
    return auditevent_to_statement(
        scenario(name), org=LOGGED_BY[name], source="fhir", directory=DIRECTORY
    )


def _consent() -> Statement:
    return consent_to_statement(
        scenario(CONSENT_R4), org="pcp91959", source="fhir", directory=DIRECTORY
    )


def _entries(statements: list[Statement]) -> list[Entry]:
    out, last = [], 0
    for st in sorted(statements, key=lambda s: s.event_ts):
        last = max(last, st.event_ts)
        out.append(Entry.of(hashlib.sha256(st.canonical_bytes).digest(), st, last))
    return out


def _run(org: str, statements: list[Statement], people: tuple[Person, ...] = ()) -> list:  # type: ignore[type-arg]
    directory = Directory(org=org, timezone="America/New_York", people=people)
    config = RuleConfig(org=org, timezone="America/New_York")
    facts = MemoryFacts(directory, pseudonym_key=KEY, parties=PARTIES)
    alerts = []
    for e in _entries(statements):
        facts.add(e)
        alerts += evaluate(e, facts, config)
    return alerts


FISHER_ON_CALL = Person(
    id=FISHER,
    name="Dr. Janette321 Fisher429",
    hours=WorkingHours.parse(["daily 00:00-24:00"]),
)


def test_cris921_encounters_map_to_care_at_two_orgs() -> None:
    care = [st.typed for st in _care("Cris921")]
    orgs = {c.org for c in care}  # type: ignore[union-attr]
    assert orgs == {"pcp91959", "mount-auburn"}
    fisher = [c for c in care if c.clinician.id == FISHER]  # type: ignore[union-attr]
    assert len(fisher) == 1


def test_fisher_read_is_appropriate_by_the_encounter() -> None:
    alerts = _run("mount-auburn", [*_care("Cris921"), _audit(READ_R5)], (FISHER_ON_CALL,))
    assert alerts == []


def test_fisher_read_is_appropriate_by_the_consent_alone() -> None:
    alerts = _run("mount-auburn", [_consent(), _audit(READ_R5)], (FISHER_ON_CALL,))
    assert alerts == []


def test_fisher_read_without_encounter_or_consent_alerts() -> None:
    alerts = _run("mount-auburn", [*_care("Roland928"), _audit(READ_R5)], (FISHER_ON_CALL,))
    assert [a.rule for a in alerts] == ["no-relationship"]
    assert alerts[0].explanation.startswith(
        "Dr. Janette321 Fisher429 (MOUNT AUBURN HOSPITAL) read the record of patient"
    )


def test_fisher_read_early_in_the_morning_is_after_hours_by_default() -> None:
    # 10:15Z is 05:15 in Boston: outside the default mon-fri 07:00-19:00
    alerts = _run("mount-auburn", [*_care("Cris921"), _audit(READ_R5)], (Person(id=FISHER),))
    assert [a.rule for a in alerts] == ["after-hours"]


def test_cormier_break_glass_alerts() -> None:
    statements = [*_care("Cris921"), *_care("Hipolito984"), _consent(), _audit(BTG_R5)]
    alerts = _run("pcp91959", statements)
    assert [a.rule for a in alerts] == ["no-relationship", "break-glass"]
    btg = alerts[1]
    assert btg.accessor == CORMIER
    assert btg.org == "sturdy"
    assert "Dr. Gerry91 Cormier289 (STURDY MEMORIAL HOSPITAL)" in btg.explanation
    assert "purpose BTG" in btg.explanation
    assert btg.severity == "medium"


def test_cormier_break_glass_with_an_encounter_still_alerts_once() -> None:
    care = encounter_to_care(
        {
            "resourceType": "Encounter",
            "id": "er-visit",
            "status": "finished",
            "class": {"code": "EMER"},
            "subject": {"reference": PATIENT},
            "participant": [{"individual": {"reference": CORMIER}}],
            "serviceProvider": {"reference": "Organization/5e765f2b-e908-3888-9fc7-df2cb87beb58"},
            "period": {"start": "2021-03-05T02:00:00Z", "end": "2021-03-05T06:00:00Z"},
        },
        org="sturdy",
        source="fhir",
        directory=DIRECTORY,
    )
    alerts = _run("pcp91959", [care, _audit(BTG_R5)])
    assert [a.rule for a in alerts] == ["break-glass"]


def test_scenario_disclosure_pair_is_matched() -> None:
    entries = _entries([_audit(EXPORT_R4), _audit(IMPORT_R4)])
    config = RuleConfig(org="mount-auburn")
    facts = MemoryFacts(Directory(org="mount-auburn"), pseudonym_key=KEY, parties=PARTIES)
    assert rerun(entries, config, entries[-1].log_ts + 30 * DAY, facts) == []


def test_scenario_export_alone_is_unmatched() -> None:
    entries = _entries([_audit(EXPORT_R4)])
    config = RuleConfig(org="pcp91959")
    facts = MemoryFacts(Directory(org="pcp91959"), pseudonym_key=KEY, parties=PARTIES)
    for e in entries:
        facts.add(e)
    out = sweep(facts, config, entries[0].log_ts + 2 * DAY)
    assert [a.rule for a in out] == ["unmatched-disclosure"]
    assert "PCP91959 logged the export of transfer" in out[0].explanation
    assert "MOUNT AUBURN HOSPITAL logged no import" in out[0].explanation
