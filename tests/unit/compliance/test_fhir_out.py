"""Statement -> AuditEvent / searchset Bundle / OperationOutcome, validated with fhir.resources."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.auditevent import AuditEvent as AuditEventR5
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.operationoutcome import OperationOutcome as OperationOutcomeR5
from fhir.resources.R4B.auditevent import AuditEvent as AuditEventR4
from fhir.resources.R4B.bundle import Bundle as BundleR4
from fhir.resources.R4B.operationoutcome import OperationOutcome as OperationOutcomeR4

from accord.compliance.fhir import (
    auditevent_to_statement,
    consent_to_statement,
    operation_outcome,
    searchset_bundle,
    statement_to_auditevent,
)
from accord.errors import MalformedError, NotFoundError, StoreError, UsageError
from accord.records import SignedStatement, Statement, sign_statement
from tests.unit.compliance.fhir_data import (
    AUDIT_EVENTS,
    CONSENT_R4,
    DIRECTORY,
    LOGGED_BY,
    scenario,
)
from tests.unit.records.examples import EXAMPLES, SOURCE_KEY

MODELS = {"R4": (AuditEventR4, BundleR4), "R5": (AuditEventR5, BundleR5)}
SELF = "https://pcp91959.example/fhir/AuditEvent?patient=Patient/d4519c92&date=ge2021-03-01"


def _signed(name: str) -> SignedStatement:
    st = auditevent_to_statement(
        scenario(name), org=LOGGED_BY[name], source="fhir-gateway", directory=DIRECTORY
    )
    return sign_statement(st, SOURCE_KEY)


def _version(name: str) -> str:
    return "R5" if name.startswith("r5") else "R4"


@pytest.mark.parametrize("name", AUDIT_EVENTS)
def test_round_trip_is_exact(name: str) -> None:
    signed = _signed(name)
    # as the node would: store the body, read it back, serve the resource
    stored = SignedStatement.parse(signed.body)
    out = statement_to_auditevent(stored.statement, stored.record_hash, _version(name))
    original = scenario(name)
    assert out["id"] == signed.record_hash.hex()
    assert {k: v for k, v in out.items() if k != "id"} == {
        k: v for k, v in original.items() if k != "id"
    }
    assert json.loads(MODELS[_version(name)][0].model_validate(out).model_dump_json()) == out


@pytest.mark.parametrize("name", AUDIT_EVENTS)
@pytest.mark.parametrize("version", ["R4", "R5"])
def test_synthesised_events_validate_and_map_back(name: str, version: str) -> None:
    signed = _signed(name)
    value = signed.statement.to_json()
    del value["fields"]["fhir"]
    bare = Statement.from_json(value)
    out = statement_to_auditevent(bare, signed.record_hash, version)
    MODELS[version][0].model_validate(out)
    assert out["id"] == signed.record_hash.hex()
    back = auditevent_to_statement(
        out, org=bare.org, source=bare.source, directory={}, event_id_hint=bare.id, version=version
    )
    again = back.to_json()
    assert again["fields"].pop("fhir")["version"] == version
    assert again == value  # every field survives statement -> AuditEvent -> statement


def test_other_version_is_synthesised_not_mixed() -> None:
    signed = _signed("r4-auditevent-disclosure-source.json")
    r5 = statement_to_auditevent(signed.statement, signed.record_hash, "R5")
    assert "type" not in r5
    assert r5["category"][0]["coding"][0]["code"] == "110106"
    AuditEventR5.model_validate(r5)


@pytest.mark.parametrize("schema", ["ehr.access", "ehr.disclosure"])
@pytest.mark.parametrize("version", ["R4", "R5"])
def test_native_statements_get_an_auditevent(schema: str, version: str) -> None:
    signed = sign_statement(Statement.from_json(EXAMPLES[schema]()), SOURCE_KEY)
    out = statement_to_auditevent(signed.statement, signed.record_hash, version)
    MODELS[version][0].model_validate(out)
    back = auditevent_to_statement(
        out,
        org="cornell",
        source="ehr",
        directory={},
        event_id_hint=signed.statement.id,
        version=version,
    )
    value = back.to_json()
    value["fields"].pop("fhir")
    expected = EXAMPLES[schema]()
    expected["fields"].pop("authorization", None)  # not carried by an AuditEvent
    assert value == expected


def test_no_auditevent_for_consent_or_bad_arguments() -> None:
    consent = consent_to_statement(
        scenario(CONSENT_R4), org="pcp91959", source="gw", directory=DIRECTORY
    )
    with pytest.raises(UsageError, match="no AuditEvent form"):
        statement_to_auditevent(consent, b"\0" * 32, "R4")
    signed = _signed(AUDIT_EVENTS[0])
    with pytest.raises(UsageError, match="R4 or R5"):
        statement_to_auditevent(signed.statement, signed.record_hash, "R4B")
    with pytest.raises(UsageError, match="32-byte"):
        statement_to_auditevent(signed.statement, signed.record_hash.hex(), "R5")  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_searchset_bundle_validates(version: str) -> None:
    entries: list[dict[str, Any]] = []
    for name in AUDIT_EVENTS:
        signed = _signed(name)
        entries.append(statement_to_auditevent(signed.statement, signed.record_hash, version))
    bundle = searchset_bundle(entries, 10, SELF, version)
    model = MODELS[version][1].model_validate(bundle)
    assert model.type == "searchset"
    assert model.total == 10
    assert bundle["link"] == [{"relation": "self", "url": SELF}]
    assert [e["fullUrl"] for e in bundle["entry"]] == [
        f"https://pcp91959.example/fhir/AuditEvent/{e['id']}" for e in entries
    ]
    assert all(e["search"] == {"mode": "match"} for e in bundle["entry"])
    empty = searchset_bundle([], 0, SELF, version)
    MODELS[version][1].model_validate(empty)
    assert "entry" not in empty


def test_searchset_bundle_refuses_mixed_versions_and_bad_total() -> None:
    r4 = _signed("r4-auditevent-disclosure-source.json")
    r5 = _signed("r5-auditevent-patientread-treat.json")
    e4 = statement_to_auditevent(r4.statement, r4.record_hash, "R4")
    e5 = statement_to_auditevent(r5.statement, r5.record_hash, "R5")
    with pytest.raises(UsageError, match="never mix"):
        searchset_bundle([e4, e5], 2, SELF, "R4")
    with pytest.raises(UsageError, match="total"):
        searchset_bundle([e4], 0, SELF, "R4")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (MalformedError("AuditEvent", "no patient"), "invalid"),
        (MalformedError("AuditEvent", "unsupported", issue="not-supported"), "not-supported"),
        (NotFoundError("no such record"), "processing"),
        (StoreError("database down"), "processing"),
    ],
    ids=["invalid", "not-supported", "not-found", "store"],
)
def test_operation_outcome(error: Any, code: str) -> None:
    out = operation_outcome(error)
    for model in (OperationOutcomeR4, OperationOutcomeR5):
        model.model_validate(out)
    assert out["issue"] == [{"severity": "error", "code": code, "diagnostics": error.message}]
