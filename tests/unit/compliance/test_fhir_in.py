"""AuditEvent -> statement: the scenario files, BALP patterns, and bad resources as data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest

from accord.compliance.fhir import (
    NOT_SUPPORTED,
    auditevent_to_statement,
    auditevent_to_statements,
    operation_outcome,
    record_ref,
)
from accord.errors import MalformedError, TooLargeError, UsageError
from accord.records import Access, Disclosure, sign_statement
from tests.unit.compliance.fhir_data import (
    AUDIT_EVENTS,
    BTG_R5,
    CORMIER,
    DIRECTORY,
    EXPORT_R4,
    FISHER,
    IMPORT_R4,
    LOGGED_BY,
    MOUNT_AUBURN,
    PATIENT,
    PCP,
    PROVENANCE_R4,
    READ_R5,
    scenario,
)
from tests.unit.records.examples import SOURCE_KEY


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1000  # type: ignore[misc]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _map(name: str, resource: Any = None, **kw: Any) -> Any:
    return auditevent_to_statement(
        scenario(name) if resource is None else resource,
        org=kw.pop("org", LOGGED_BY[name]),
        source="fhir-gateway",
        directory=kw.pop("directory", DIRECTORY),
        **kw,
    )


def test_patient_read_r5() -> None:
    st = _map(READ_R5)
    assert (st.schema, st.org, st.source, st.event_ts) == (
        "ehr.access",
        "pcp91959",
        "fhir-gateway",
        _ms(2021, 3, 2, 10, 15),
    )
    assert [p.to_json() for p in st.principals] == [{"kind": "patient", "id": PATIENT}]
    fields = dict(st.fields)
    assert fields.pop("fhir") == {"version": "R5", "resource": scenario(READ_R5)}
    assert fields == {
        "accessor": {"id": FISHER, "role": "ATTPHYS", "name": "Dr. Janette321 Fisher429"},
        "accessor_org": "mount-auburn",
        "patient": PATIENT,
        "record_ref": _sha("Encounter/example-encounter-summary|"),
        "action": "R",
        "purpose": "TREAT",
        "outcome": "success",
        "break_glass": False,
    }


def test_break_glass_r5() -> None:
    st = _map(BTG_R5)
    a = st.typed
    assert isinstance(a, Access)
    assert (a.break_glass, a.purpose, a.action, a.outcome) == (True, "BTG", "E", "success")
    assert (a.accessor.id, a.accessor.role, a.accessor_org) == (CORMIER, "IRCP", "sturdy")
    assert a.record_ref.hex() == _sha(PATIENT + "|")  # no data entity: the patient record
    assert st.event_ts == _ms(2021, 3, 5, 2, 40)


def test_disclosure_pair_r4() -> None:
    export, import_ = _map(EXPORT_R4), _map(IMPORT_R4)
    e, i = export.typed, import_.typed
    assert isinstance(e, Disclosure)
    assert isinstance(i, Disclosure)
    assert (export.org, e.half, i.half, import_.org) == (
        "pcp91959",
        "export",
        "import",
        "mount-auburn",
    )
    for d in (e, i):
        assert (d.discloser_org, d.recipient_org, d.patient, d.purpose) == (
            "pcp91959",
            "mount-auburn",
            PATIENT,
            "TREAT",
        )
        assert [r.hex() for r in d.record_refs] == [
            _sha("DocumentReference/example-transfer-summary|")
        ]
        assert d.description == "DocumentReference/example-transfer-summary"
        assert d.other_half is None
    assert e.transfer_id == i.transfer_id  # the two halves join
    assert export.event_ts == _ms(2021, 3, 2, 10, 0, 5)
    assert import_.event_ts == _ms(2021, 3, 2, 10, 0, 7)


@pytest.mark.parametrize("name", AUDIT_EVENTS)
def test_same_resource_gives_same_record(name: str) -> None:
    a = sign_statement(_map(name), SOURCE_KEY)
    b = sign_statement(_map(name, json.dumps(scenario(name), indent=2)), SOURCE_KEY)
    assert a.body == b.body
    assert a.statement.id.startswith("fhir-")


@pytest.mark.parametrize("name", AUDIT_EVENTS)
def test_explicit_version_and_hint(name: str) -> None:
    version = "R5" if name.startswith("r5") else "R4"
    st = _map(name, version=version, event_id_hint="evt-42")
    assert st.id == "evt-42"
    assert st.fields["fhir"]["version"] == version


def test_directory_fallback_is_the_reference() -> None:
    st = _map(READ_R5, directory={})
    assert isinstance(st.typed, Access)
    assert st.typed.accessor_org == MOUNT_AUBURN


def test_record_ref_splits_history() -> None:
    assert record_ref("DocumentReference/x/_history/3") == _sha("DocumentReference/x|3")
    assert record_ref("DocumentReference/x") == _sha("DocumentReference/x|")


# -- more BALP patterns, made from the scenario files --------------------------------------


def _rest(code: str, action: str) -> dict[str, Any]:
    r = scenario(READ_R5)
    r["code"]["coding"][0]["code"] = code
    r["action"] = action
    return r


@pytest.mark.parametrize(
    ("code", "action"),
    [("vread", "R"), ("create", "C"), ("update", "U"), ("patch", "U"), ("delete", "D")],
)
def test_rest_interactions(code: str, action: str) -> None:
    st = _map(READ_R5, _rest(code, action))
    assert isinstance(st.typed, Access)
    assert st.typed.action == action


def test_action_defaults_to_the_pattern_action() -> None:
    r = _rest("delete", "D")
    del r["action"]
    typed = _map(READ_R5, r).typed
    assert isinstance(typed, Access)
    assert typed.action == "D"


def _query(patients: list[str]) -> dict[str, Any]:
    """A BALP PatientQuery (R4): client 110153, server 110152, a query entity."""
    r = scenario(EXPORT_R4)
    r["type"] = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"}
    r["subtype"] = [{"system": "http://hl7.org/fhir/restful-interaction", "code": "search-type"}]
    r["action"] = "E"
    r["agent"][2]["purposeOfUse"][0]["coding"][0]["code"] = "HPAYMT"
    patient_entity = r["entity"][0]
    r["entity"] = [{**patient_entity, "what": {"reference": p}} for p in patients] + [
        {
            "type": {
                "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "code": "2",
            },
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "24"},
            "query": "R0VUIC9QYXRpZW50P25hbWU9UmF0aA==",
        }
    ]
    r["agent"][1]["who"] = {"reference": MOUNT_AUBURN}  # the client is an org: 110153
    r["agent"][0]["who"] = {"reference": MOUNT_AUBURN}
    return r


def test_patient_query_one_statement_per_patient() -> None:
    other = "Patient/6b9c211c-2c38-3955-43a0-4d285c714fab"
    out = auditevent_to_statements(
        _query([PATIENT, other]),
        org="pcp91959",
        source="gw",
        directory=DIRECTORY,
        event_id_hint="q1",
    )
    assert [s.id for s in out] == ["q1#1", "q1#2"]
    for st, patient in zip(out, [PATIENT, other], strict=True):
        a = st.typed
        assert isinstance(a, Access)
        assert (a.patient, a.action, a.purpose) == (patient, "E", "TREAT")
        assert a.record_ref.hex() == _sha("query:R0VUIC9QYXRpZW50P25hbWU9UmF0aA==|")
        assert a.accessor.id == FISHER
    one = _map(EXPORT_R4, _query([PATIENT]), org="pcp91959")
    assert one.id.startswith("fhir-")


def test_btg_purpose_alone_makes_break_glass() -> None:
    r = scenario(READ_R5)
    r["authorization"][0]["coding"][0]["code"] = "BTG"
    typed = _map(READ_R5, r).typed
    assert isinstance(typed, Access)
    assert (typed.break_glass, typed.purpose, typed.action) == (True, "BTG", "R")


def test_purpose_falls_back_to_the_user_agent() -> None:
    r = scenario(EXPORT_R4)
    del r["purposeOfEvent"]
    r["agent"][2]["purposeOfUse"][0]["coding"][0]["code"] = "COC"
    typed = _map(EXPORT_R4, r).typed
    assert isinstance(typed, Disclosure)
    assert typed.purpose == "COC"


def test_transaction_entity_gives_the_transfer_id() -> None:
    r = scenario(IMPORT_R4)
    r["entity"].append(
        {
            "what": {"identifier": {"value": "req-123"}},
            "type": {
                "system": "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType",
                "code": "XrequestId",
            },
        }
    )
    typed = _map(IMPORT_R4, r).typed
    assert isinstance(typed, Disclosure)
    assert typed.transfer_id == "req-123"
    assert len(typed.record_refs) == 1


# -- bad resources, as data -------------------------------------------------------------


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], Any]:
    def change(r: dict[str, Any]) -> None:
        target = r
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], Any]:
    def change(r: dict[str, Any]) -> None:
        target = r
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return change


class Bad(NamedTuple):
    name: str
    base: str
    change: Callable[[dict[str, Any]], Any] | None
    version: str | None
    message: str
    issue: str = "invalid"
    raw: Callable[[str], str] | None = None  # a mutation of the JSON text instead


BAD = [
    Bad(
        "r4-declared-r5",
        EXPORT_R4,
        None,
        "R5",
        "declared R5 but has R4 field(s) purposeOfEvent, subtype, type",
    ),
    Bad(
        "r5-declared-r4",
        READ_R5,
        None,
        "R4",
        "declared R4 but has R5 field(s) authorization, category, code",
    ),
    Bad(
        "mixed-r4-r5",
        READ_R5,
        _set(("type",), {"code": "rest"}),
        None,
        "mixes R4 field(s) type and R5",
    ),
    Bad(
        "no-version-marker",
        READ_R5,
        lambda r: [
            r.pop(k)
            for k in (
                "code",
                "category",
                "authorization",
                "patient",
                "severity",
                "occurredDateTime",
            )
        ],
        None,
        "cannot tell the FHIR version",
    ),
    Bad(
        "patient-resource",
        READ_R5,
        lambda r: r.update(resourceType="Patient"),
        None,
        "expected resourceType 'AuditEvent', got 'Patient'",
    ),
    Bad(
        "provenance-resource",
        PROVENANCE_R4,
        None,
        None,
        "expected resourceType 'AuditEvent', got 'Provenance'",
    ),
    Bad(
        "truncated-json",
        READ_R5,
        None,
        None,
        "malformed AuditEvent",
        raw=lambda t: t[: len(t) // 2],
    ),
    Bad("not-an-object", READ_R5, None, None, "must be a JSON object", raw=lambda t: "[]"),
    Bad(
        "fails-r5-model",
        READ_R5,
        _delete(("recorded",)),
        None,
        "not a valid FHIR R5 AuditEvent: recorded",
    ),
    Bad(
        "fails-r4-model",
        EXPORT_R4,
        _delete(("agent", 0, "requestor")),
        None,
        "not a valid FHIR R4 AuditEvent",
    ),
    Bad(
        "zoneless-instant",
        EXPORT_R4,
        _set(("recorded",), "2021-03-02T10:00:05"),
        None,
        "not a valid FHIR R4",
    ),
    Bad(
        "missing-patient", BTG_R5, lambda r: (r.pop("patient"), r.pop("entity")), None, "no patient"
    ),
    Bad("missing-patient-r4", EXPORT_R4, _delete(("entity", 0)), None, "no patient"),
    Bad(
        "bad-purpose",
        READ_R5,
        _set(("authorization", 0, "coding", 0, "code"), "NOT-A-CODE"),
        None,
        "unknown purpose of use 'NOT-A-CODE'",
    ),
    Bad(
        "bad-agent-purpose",
        EXPORT_R4,
        _set(("agent", 2, "purposeOfUse", 0, "coding", 0, "code"), "treat"),
        None,
        "unknown purpose of use 'treat'",
    ),
    Bad(
        "no-purpose",
        READ_R5,
        lambda r: (r.pop("authorization"), r["agent"][0].pop("authorization")),
        None,
        "no purpose of use",
    ),
    Bad(
        "bad-action-code",
        READ_R5,
        _set(("action",), "X"),
        None,
        "BALP read has action R, the resource has 'X'",
    ),
    Bad(
        "export-with-action-c", EXPORT_R4, _set(("action",), "C"), None, "BALP export has action R"
    ),
    Bad(
        "bad-r4-outcome",
        EXPORT_R4,
        _set(("outcome",), "3"),
        None,
        "outcome '3' is not an audit-event-outcome",
    ),
    Bad(
        "bad-r5-outcome",
        READ_R5,
        _set(("outcome", "code", "code"), "great"),
        None,
        "is not an issue-severity code",
    ),
    Bad("no-outcome", READ_R5, _delete(("outcome",)), None, "outcome is required"),
    Bad(
        "failed-disclosure",
        EXPORT_R4,
        _set(("outcome",), "8"),
        None,
        "a failed disclosure",
        NOT_SUPPORTED,
    ),
    Bad("no-user-agent", READ_R5, _delete(("agent", 0)), None, "no user agent"),
    Bad("no-user-org", READ_R5, lambda r: r["agent"].pop(1), None, "no user organization"),
    Bad(
        "unsupported-login",
        READ_R5,
        lambda r: r.update(
            category=[
                {
                    "coding": [
                        {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110114"}
                    ]
                }
            ],
            code={
                "coding": [
                    {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110122"}
                ]
            },
        ),
        None,
        "unsupported pattern",
        NOT_SUPPORTED,
    ),
    Bad(
        "unsupported-capabilities",
        READ_R5,
        _set(("code", "coding", 0, "code"), "capabilities"),
        None,
        "'capabilities' is not a record access",
        NOT_SUPPORTED,
    ),
    Bad(
        "alert-without-override",
        BTG_R5,
        _set(("code", "coding", 0, "code"), "110138"),
        None,
        "110113 Security Alert without 110127",
        NOT_SUPPORTED,
    ),
    Bad(
        "export-and-import",
        EXPORT_R4,
        lambda r: r["subtype"].append(
            {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110107"}
        ),
        None,
        "several patterns",
    ),
    Bad(
        "btg-on-disclosure",
        EXPORT_R4,
        _set(("purposeOfEvent", 0, "coding", 0, "code"), "BTG"),
        None,
        "BTG (break the glass) on a disclosure",
    ),
    Bad(
        "two-patients-read",
        READ_R5,
        lambda r: r["entity"].append(
            {"what": {"reference": "Patient/other"}, "role": r["entity"][0]["role"]}
        ),
        None,
        "one patient per read event, got 2",
    ),
    Bad(
        "two-data-entities-read",
        READ_R5,
        lambda r: r["entity"].append({"what": {"reference": "Observation/1"}}),
        None,
        "an access refers to one record",
    ),
    Bad(
        "data-entity-without-what",
        EXPORT_R4,
        _delete(("entity", 1, "what")),
        None,
        "entity[1]: a data entity needs what.reference or query",
    ),
    Bad(
        "disclosure-without-data",
        EXPORT_R4,
        _delete(("entity", 1)),
        None,
        "at least one data entity",
    ),
    Bad(
        "disclosure-without-recipient",
        EXPORT_R4,
        _delete(("agent", 1)),
        None,
        "recipient (DCM 110152)",
    ),
    Bad(
        "export-logged-by-recipient",
        EXPORT_R4,
        lambda r: r["agent"][0].update(who={"reference": STURDY_REF}),
        None,
        "the export half is logged by the discloser",
    ),
    Bad(
        "accessor-name-too-long",
        READ_R5,
        _set(("agent", 0, "who", "display"), "x" * 300),
        None,
        "fields.accessor.name: must be 1..256",
    ),
]
STURDY_REF = "Organization/5e765f2b-e908-3888-9fc7-df2cb87beb58"


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_bad_resource_refused(case: Bad) -> None:
    resource: Any = scenario(case.base)
    if case.change is not None:
        case.change(resource)
    if case.raw is not None:
        resource = case.raw(json.dumps(resource))
    org = LOGGED_BY.get(case.base, "pcp91959")
    with pytest.raises(MalformedError) as info:
        auditevent_to_statement(
            resource, org=org, source="gw", directory=DIRECTORY, version=case.version
        )
    assert info.value.what == "AuditEvent"
    assert case.message in info.value.message, info.value.message
    outcome = operation_outcome(info.value)
    assert outcome["issue"][0]["code"] == case.issue
    assert case.message in outcome["issue"][0]["diagnostics"]


def test_bad_case_names_unique() -> None:
    assert len({c.name for c in BAD}) == len(BAD)


def test_query_for_two_patients_refused_by_the_single_form() -> None:
    with pytest.raises(MalformedError, match="use auditevent_to_statements"):
        auditevent_to_statement(
            _query([PATIENT, "Patient/x"]), org="pcp91959", source="gw", directory=DIRECTORY
        )


def test_too_large_resource() -> None:
    r = scenario(READ_R5)
    r["entity"][1]["what"]["display"] = "x" * 70_000
    with pytest.raises(TooLargeError) as info:
        _map(READ_R5, r)
    assert info.value.what == "AuditEvent"
    assert operation_outcome(info.value)["issue"][0]["code"] == "too-long"


def test_unknown_version_argument() -> None:
    with pytest.raises(UsageError, match="R4 or R5"):
        _map(READ_R5, version="R4B")


def test_pcp_reference_maps_through_directory() -> None:
    typed = _map(EXPORT_R4).typed
    assert isinstance(typed, Disclosure)
    assert typed.discloser_org == DIRECTORY[PCP]


def test_event_time_sources() -> None:
    r4 = scenario(EXPORT_R4)
    r4["period"] = {"start": "2021-03-02T09:59:00Z", "end": "2021-03-02T10:00:00Z"}
    assert _map(EXPORT_R4, r4).event_ts == _ms(2021, 3, 2, 9, 59)
    r5 = scenario(READ_R5)
    del r5["occurredDateTime"]
    r5["occurredPeriod"] = {"start": "2021-03-02T10:14:00+01:00"}
    assert _map(READ_R5, r5).event_ts == _ms(2021, 3, 2, 9, 14)
    del r5["occurredPeriod"]
    assert _map(READ_R5, r5).event_ts == _ms(2021, 3, 2, 10, 15, 1)  # recorded
