"""Consent -> ehr.consent and Synthea Encounters -> ehr.care."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest

from accord.compliance.fhir import (
    NOT_SUPPORTED,
    bundle_references,
    consent_to_statement,
    encounter_to_care,
    encounters_in_bundle,
    operation_outcome,
)
from accord.errors import MalformedError, UsageError
from accord.records import Care, Consent
from tests.unit.compliance.fhir_data import (
    CONSENT_R4,
    CONSENT_R5,
    DIRECTORY,
    FISHER,
    HOSPITALS,
    MOUNT_AUBURN,
    PATIENT,
    SYNTHEA,
    scenario,
    synthea,
)


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1000  # type: ignore[misc]


def _consent(resource: Any, **kw: Any) -> Any:
    return consent_to_statement(
        resource, org="pcp91959", source="fhir-gateway", directory=DIRECTORY, **kw
    )


@pytest.mark.parametrize("name", [CONSENT_R4, CONSENT_R5])
def test_consent_scenarios(name: str) -> None:
    st = _consent(scenario(name))
    assert st.schema == "ehr.consent"
    assert st.fields == {
        "patient": PATIENT,
        "grantee": {"kind": "org", "id": "mount-auburn"},
        "purposes": ["TREAT"],
        # FHIR Period.end includes the whole end date
        "period": {"start": _ms(2021, 1, 10), "end": _ms(2022, 1, 11) - 1},
        "decision": "permit",
    }
    assert st.event_ts == _ms(2021, 1, 10)
    assert [p.to_json() for p in st.principals] == [{"kind": "patient", "id": PATIENT}]
    assert isinstance(st.typed, Consent)


def test_r4_and_r5_consents_agree() -> None:
    a, b = _consent(scenario(CONSENT_R4)), _consent(scenario(CONSENT_R5))
    assert a.fields == b.fields
    assert a.id != b.id  # different resources, different statement ids


def test_consent_grantee_kinds_and_deny() -> None:
    r = scenario(CONSENT_R5)
    r["grantee"] = [{"reference": FISHER}]
    r["decision"] = "deny"
    typed = _consent(r).typed
    assert isinstance(typed, Consent)
    assert (typed.grantee.kind, typed.grantee.id, typed.decision) == ("person", FISHER, "deny")
    r["grantee"] = [{"reference": "CareTeam/ct1"}]
    typed = _consent(r).typed
    assert isinstance(typed, Consent)
    assert typed.grantee.kind == "role"


class Bad(NamedTuple):
    name: str
    base: str
    change: Callable[[dict[str, Any]], Any]
    message: str
    issue: str = "invalid"
    version: str | None = None


def _provision(r: dict[str, Any]) -> dict[str, Any]:
    p = r["provision"]
    return p if isinstance(p, dict) else p[0]


CONSENT_BAD = [
    Bad(
        "r4-declared-r5",
        CONSENT_R4,
        lambda r: None,
        "declared R5 but has R4 field(s)",
        version="R5",
    ),
    Bad(
        "r5-declared-r4",
        CONSENT_R5,
        lambda r: None,
        "declared R4 but has R5 field(s)",
        version="R4",
    ),
    Bad(
        "not-a-consent",
        CONSENT_R4,
        lambda r: r.update(resourceType="Patient"),
        "expected resourceType 'Consent'",
    ),
    Bad(
        "bogus-status",
        CONSENT_R4,
        lambda r: r.update(status="bogus"),
        "unknown R4 Consent.status 'bogus'",
    ),
    Bad(
        "inactive",
        CONSENT_R5,
        lambda r: r.update(status="inactive"),
        "only active consents",
        NOT_SUPPORTED,
    ),
    Bad(
        "bad-scope",
        CONSENT_R4,
        lambda r: r["scope"]["coding"][0].update(code="everything"),
        "not a consentscope code",
    ),
    Bad(
        "decision-maybe",
        CONSENT_R5,
        lambda r: r.update(decision="maybe"),
        "decision 'maybe' is not permit or deny",
    ),
    Bad(
        "r4-type-maybe",
        CONSENT_R4,
        lambda r: r["provision"].update(type="maybe"),
        "decision 'maybe'",
    ),
    Bad(
        "bad-purpose",
        CONSENT_R5,
        lambda r: _provision(r)["purpose"][0].update(code="NOT-A-CODE"),
        "unknown purpose of use 'NOT-A-CODE'",
    ),
    Bad("no-purpose", CONSENT_R4, lambda r: r["provision"].pop("purpose"), "no purpose"),
    Bad(
        "no-end",
        CONSENT_R4,
        lambda r: r["provision"]["period"].pop("end"),
        "period with start and end",
    ),
    Bad("no-patient", CONSENT_R4, lambda r: r.pop("patient"), "no patient"),
    Bad(
        "subject-not-patient",
        CONSENT_R5,
        lambda r: r["subject"].update(reference="Group/g1"),
        "no patient",
    ),
    Bad(
        "two-grantees",
        CONSENT_R5,
        lambda r: r["grantee"].append({"reference": FISHER}),
        "one grantee per consent statement, got 2",
    ),
    Bad(
        "grantee-device",
        CONSENT_R5,
        lambda r: r.update(grantee=[{"reference": "Device/d1"}]),
        "is not an org, person or role",
    ),
    Bad(
        "nested-provision",
        CONSENT_R4,
        lambda r: r["provision"].update(provision=[{"type": "deny"}]),
        "nested provisions",
        NOT_SUPPORTED,
    ),
    Bad(
        "two-provisions",
        CONSENT_R5,
        lambda r: r["provision"].append(r["provision"][0]),
        "one provision is supported",
        NOT_SUPPORTED,
    ),
    Bad(
        "bad-date", CONSENT_R4, lambda r: r.update(dateTime="2021-02-30"), "dateTime: Input should"
    ),
    Bad("date-before-1970", CONSENT_R4, lambda r: r.update(dateTime="1960-01-01"), "before 1970"),
]


@pytest.mark.parametrize("case", CONSENT_BAD, ids=lambda c: c.name)
def test_bad_consent_refused(case: Bad) -> None:
    r = scenario(case.base)
    case.change(r)
    with pytest.raises(MalformedError) as info:
        _consent(r, version=case.version)
    assert info.value.what == "Consent"
    assert case.message in info.value.message, info.value.message
    assert operation_outcome(info.value)["issue"][0]["code"] == case.issue


# -- Encounters ---------------------------------------------------------------------------


def _care(resource: Any, refs: Any = None) -> Any:
    return encounter_to_care(
        resource, org="pcp91959", source="synthea", directory=DIRECTORY, references=refs
    )


@pytest.mark.parametrize(
    ("patient", "count"), [("Cris921", 11), ("Hipolito984", 13), ("Roland928", 13)]
)
def test_every_synthea_encounter_maps(patient: str, count: int) -> None:
    bundle = synthea(patient)
    refs = bundle_references(bundle)
    encounters = encounters_in_bundle(bundle)
    assert len(encounters) == count
    patient_ref = next(v for v in refs.values() if v.startswith("Patient/"))
    for enc in encounters:
        st = _care(enc, refs)
        c = st.typed
        assert isinstance(c, Care)
        assert st.schema == "ehr.care"
        assert c.patient == patient_ref
        assert c.clinician.id == refs[enc["participant"][0]["individual"]["reference"]]
        assert c.clinician.role == "PPRF"
        assert c.encounter_ref == f"Encounter/{enc['id']}"
        assert c.period.end is not None
        assert c.period.start <= c.period.end
        assert st.event_ts == c.period.start
        assert _care(enc).fields == st.fields  # positional defaults agree with the bundle


def test_shared_patient_encounter_at_mount_auburn() -> None:
    bundle = synthea("Cris921")
    cares = [_care(e).typed for e in encounters_in_bundle(bundle)]
    at_ma = [c for c in cares if isinstance(c, Care) and c.org == "mount-auburn"]
    assert len(at_ma) == 1
    c = at_ma[0]
    assert (c.patient, c.clinician.id) == (PATIENT, FISHER)
    # "2020-02-29T05:57:27-08:00" .. "2020-02-29T06:47:27-08:00" (end second included)
    assert c.period.start == _ms(2020, 2, 29, 13, 57, 27)
    assert c.period.end == _ms(2020, 2, 29, 14, 47, 27) + 999
    others = {c.org for c in cares if isinstance(c, Care)} - {"mount-auburn"}
    assert others == {"pcp91959"}


def test_unmapped_org_keeps_its_reference() -> None:
    enc = encounters_in_bundle(synthea("Roland928"))[0]
    typed = _care(enc).typed
    assert isinstance(typed, Care)
    assert typed.org.startswith("Organization/")
    assert typed.org not in DIRECTORY.values()


ENCOUNTER = SYNTHEA["Cris921"]

ENCOUNTER_BAD = [
    (
        "not-an-encounter",
        lambda e: e.update(resourceType="Observation"),
        "expected resourceType 'Encounter'",
        "invalid",
    ),
    (
        "bad-status",
        lambda e: e.update(status="bogus"),
        "unknown Encounter.status 'bogus'",
        "invalid",
    ),
    (
        "cancelled",
        lambda e: e.update(status="cancelled"),
        "a cancelled encounter is no evidence",
        NOT_SUPPORTED,
    ),
    ("no-participant", lambda e: e.pop("participant"), "no clinician", "invalid"),
    ("no-service-provider", lambda e: e.pop("serviceProvider"), "no organization", "invalid"),
    ("no-period", lambda e: e.pop("period"), "period.start is required", "invalid"),
    (
        "r5-shape",
        lambda e: e.update(actualPeriod=e.pop("period")),
        "not a valid FHIR R4 Encounter",
        "invalid",
    ),
    ("subject-group", lambda e: e["subject"].update(reference="Group/1"), "no patient", "invalid"),
]


@pytest.mark.parametrize(
    ("name", "change", "message", "issue"), ENCOUNTER_BAD, ids=[c[0] for c in ENCOUNTER_BAD]
)
def test_bad_encounter_refused(name: str, change: Any, message: str, issue: str) -> None:
    enc = encounters_in_bundle(synthea("Cris921"))[0]
    change(enc)
    with pytest.raises(MalformedError) as info:
        _care(enc)
    assert info.value.what == "Encounter"
    assert message in info.value.message, info.value.message
    assert operation_outcome(info.value)["issue"][0]["code"] == issue


def test_bundle_helpers() -> None:
    refs = bundle_references(synthea(HOSPITALS))
    assert refs[f"urn:uuid:{MOUNT_AUBURN.split('/')[1]}"] == MOUNT_AUBURN
    assert len(refs) == 17
    assert encounters_in_bundle(synthea(HOSPITALS)) == []
    with pytest.raises(UsageError):
        bundle_references({"resourceType": "Patient"})
