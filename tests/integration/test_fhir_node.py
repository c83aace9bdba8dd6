"""The FHIR endpoints of a real node over HTTP: AuditEvent create (R4, R5, PatientQuery) and
search (searchset Bundles that validate with fhir.resources), Consent and Encounter (a Synthea
Bundle), and bad resources refused with an OperationOutcome, nothing appended."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.R4B.bundle import Bundle as BundleR4

from accord.records import SignedStatement
from tests.integration.compliance_nodes import compliance_node, wait_evaluated
from tests.integration.nodes import RunningNode
from tests.unit.compliance.fhir_data import (
    BTG_R5,
    CONSENT_R4,
    CONSENT_R5,
    DIRECTORY,
    EXPORT_R4,
    IMPORT_R4,
    PATIENT,
    PROVENANCE_R4,
    READ_R5,
    scenario,
    synthea,
)
from tests.unit.compliance.test_fhir_in import _query

FHIR = "application/fhir+json"


@pytest.fixture
def rn(tmp_path: Path, db_url: str) -> Iterator[RunningNode]:
    with compliance_node(tmp_path, db_url, "pcp91959", fhir_directory=DIRECTORY) as node:
        yield node


def post(
    rn: RunningNode,
    kind: str,
    resource: Any,
    *,
    role: str | None = "source",
    ctype: str = FHIR,
) -> httpx.Response:
    body = resource if isinstance(resource, bytes) else json.dumps(resource).encode()
    headers = {"Content-Type": ctype}
    if role:
        headers["Authorization"] = f"Bearer {rn.tokens[role]}"
    return httpx.post(f"{rn.url}/fhir/{kind}", content=body, headers=headers, timeout=30)


def search(rn: RunningNode, accept: str = FHIR, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {rn.tokens['auditor']}", "Accept": accept}
    return httpx.get(f"{rn.url}/fhir/AuditEvent", params=params, headers=headers, timeout=30)


def size(rn: RunningNode) -> int:
    return int(rn.client(None).health()["size"])


def test_auditevents_round_trip(rn: RunningNode) -> None:
    ids = {}
    for name in (READ_R5, BTG_R5, EXPORT_R4):
        r = post(rn, "AuditEvent", scenario(name))
        assert r.status_code == 201, r.text
        assert r.headers["content-type"].startswith(FHIR)
        body = r.json()
        ids[name] = body["id"]
        assert r.headers["location"] == f"{rn.url}/fhir/AuditEvent/{body['id']}"
        stored = rn.client("auditor").record(body["id"])
        statement = SignedStatement.from_json(stored["statement"]).statement
        assert statement.source == "fhir-gateway"
        assert statement.fields["fhir"]["resource"] == scenario(name)
        assert body == {**scenario(name), "id": body["id"]}
    again = post(rn, "AuditEvent", scenario(READ_R5))
    assert again.status_code == 200  # the same resource is the same record
    assert again.json()["id"] == ids[READ_R5]

    r5 = search(rn, f"{FHIR}; fhirVersion=5.0", patient=PATIENT, date=["ge2021-01-01"])
    assert r5.status_code == 200, r5.text
    bundle = r5.json()
    BundleR5.model_validate(bundle)
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 3
    by_id = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    assert by_id[ids[READ_R5]] == {**scenario(READ_R5), "id": ids[READ_R5]}
    assert by_id[ids[BTG_R5]] == {**scenario(BTG_R5), "id": ids[BTG_R5]}

    r4 = search(rn, patient=PATIENT, date=["ge2021-01-01", "lt2022-01-01"], _count="2")
    bundle4 = r4.json()
    BundleR4.model_validate(bundle4)
    assert bundle4["total"] == 3
    assert len(bundle4["entry"]) == 2
    assert any(link["relation"] == "next" for link in bundle4["link"])
    export = next(e for e in bundle4["entry"] if e["resource"]["id"] == ids[EXPORT_R4])
    assert export["resource"] == {**scenario(EXPORT_R4), "id": ids[EXPORT_R4]}

    none = search(rn, patient=PATIENT, date="lt2020-01-01").json()
    BundleR4.model_validate(none)
    assert none["total"] == 0
    bare = search(rn, patient=PATIENT.removeprefix("Patient/")).json()
    assert bare["total"] == 3


def test_fhir_records_raise_alerts(rn: RunningNode) -> None:
    r = post(rn, "AuditEvent", scenario(BTG_R5))
    assert r.status_code == 201
    wait_evaluated(rn.client("admin"))
    listed = rn.client("auditor").json("GET", "/v1/alerts", params={"patient": PATIENT})
    rules = {i["alert"]["rule"] for i in listed["alerts"]}
    assert {"break-glass", "no-relationship"} <= rules


def test_consents_and_encounters(rn: RunningNode) -> None:
    for name in (CONSENT_R4, CONSENT_R5):
        r = post(rn, "Consent", scenario(name))
        assert r.status_code == 201, r.text
        stored = rn.client("auditor").record(r.json()["id"])
        assert stored["header"]["type"] == "ehr.consent"
    bundle = synthea("Cris921")
    encounters = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"]
    r = post(rn, "Encounter", bundle)
    assert r.status_code == 200, r.text
    answer = r.json()
    BundleR4.model_validate(answer)
    assert answer["type"] == "batch-response"
    assert len(answer["entry"]) == len(encounters)
    assert {e["response"]["status"] for e in answer["entry"]} == {"201 Created"}
    again = post(rn, "Encounter", bundle).json()
    assert {e["response"]["status"] for e in again["entry"]} == {"200 OK"}
    one = post(rn, "Encounter", encounters[0]["resource"])
    assert one.status_code == 200  # already recorded from the Bundle
    care = rn.client("auditor").sql("SELECT count(*) FROM care")
    assert care["rows"][0][0] == len(encounters)


def test_patient_query_about_two_patients_makes_two_records(rn: RunningNode) -> None:
    other = "Patient/6b9c211c-2c38-3955-43a0-4d285c714fab"
    r = post(rn, "AuditEvent", _query([PATIENT, other]))
    assert r.status_code == 201, r.text
    records = r.headers["x-accord-records"].split(",")
    assert len(records) == 2
    body = r.json()
    assert body["id"] == records[0]
    assert [x["valueId"] for x in body["extension"]] == records
    for record in records:
        assert rn.client("auditor").record(record)["header"]["type"] == "ehr.access"


def _truncated() -> bytes:
    return json.dumps(scenario(READ_R5)).encode()[:-20]


def _declared_wrong() -> dict[str, Any]:
    return scenario(EXPORT_R4)  # an R4 resource posted as fhirVersion=5.0


def _no_patient() -> dict[str, Any]:
    r = scenario(READ_R5)
    del r["patient"]
    r["entity"] = [
        e for e in r["entity"] if e.get("role", {}).get("coding", [{}])[0].get("code") != "1"
    ]
    return r


def _bad_purpose() -> dict[str, Any]:
    r = scenario(READ_R5)
    r["authorization"][0]["coding"][0]["code"] = "NOPE"
    return r


BAD: list[tuple[str, str, Any, str, int, str]] = [
    # (mutation, kind, resource, content type, status, OperationOutcome issue code)
    ("truncated JSON", "AuditEvent", _truncated(), FHIR, 400, "invalid"),
    ("a Provenance", "AuditEvent", scenario(PROVENANCE_R4), FHIR, 400, "invalid"),
    ("R4 declared R5", "AuditEvent", _declared_wrong(), f"{FHIR}; fhirVersion=5.0", 400, "invalid"),
    ("no patient", "AuditEvent", _no_patient(), FHIR, 400, "invalid"),
    ("unknown purpose", "AuditEvent", _bad_purpose(), FHIR, 400, "invalid"),
    ("import logged by the discloser", "AuditEvent", scenario(IMPORT_R4), FHIR, 400, "invalid"),
    ("XML", "AuditEvent", b"<AuditEvent/>", "application/fhir+xml", 400, "not-supported"),
    ("a Consent as an Encounter", "Encounter", scenario(CONSENT_R4), FHIR, 400, "invalid"),
    ("an AuditEvent as a Consent", "Consent", scenario(READ_R5), FHIR, 400, "invalid"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_resources_get_an_operation_outcome_and_append_nothing(
    rn: RunningNode, case: tuple[str, str, Any, str, int, str]
) -> None:
    _, kind, resource, ctype, status, code = case
    before = size(rn)
    r = post(rn, kind, resource, ctype=ctype)
    assert r.status_code == status, r.text
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == code
    assert outcome["issue"][0]["diagnostics"]
    assert size(rn) == before


def test_fhir_needs_the_right_token(rn: RunningNode) -> None:
    r = post(rn, "AuditEvent", scenario(READ_R5), role=None)
    assert r.status_code == 401
    assert r.json()["resourceType"] == "OperationOutcome"
    r = post(rn, "AuditEvent", scenario(READ_R5), role="auditor")
    assert r.status_code == 403
    s = httpx.get(f"{rn.url}/fhir/AuditEvent", params={"patient": PATIENT})
    assert s.status_code == 401
    bad = search(rn, patient=PATIENT, date="xx2021")
    assert bad.status_code == 400
    assert bad.json()["resourceType"] == "OperationOutcome"
    assert search(rn).status_code == 400  # a patient is required
