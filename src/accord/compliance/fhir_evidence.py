"""FHIR Consent -> ehr.consent, Encounter -> ehr.care: the evidence that makes access appropriate.

Consent (healthcare.md section 6): R4 ``patient``, ``provision.type``,
``provision.period``, ``provision.actor``, ``provision.purpose``; R5 ``subject``,
``decision``, ``grantee`` (else the provision's actor), ``provision[0].period``
(else ``period``) and ``provision[0].purpose``. Only ``active`` consents with one
grantee, one top-level provision and no nested provisions are mapped; the
others are refused with a diagnostic saying why.

Encounter (Synthea R4, shared/testdata/fhir/README.md): clinician =
``participant[0].individual``, org = ``serviceProvider`` through ``directory``,
``period``, encounter_ref = ``Encounter/<id>``. Bundle references
(``urn:uuid:<id>``) resolve through :func:`bundle_references`, or else to
``Patient/<id>``, ``Practitioner/<id>``, ``Organization/<id>`` by position, so
they join with the ``Type/id`` references AuditEvents use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from accord.compliance.fhir_models import (
    build_statement,
    codings,
    detect_version,
    fhir_time_ms,
    load_resource,
    not_supported,
    reference_of,
    statement_id,
    validate_model,
)
from accord.errors import MalformedError, UsageError
from accord.records.codes import ACT_REASON, ACT_REASON_PARENT, CONSENT_DECISIONS
from accord.records.schemas import Principal
from accord.records.statement import Statement

__all__ = [
    "CONSENT_SCOPES",
    "CONSENT_STATUSES",
    "ENCOUNTER_STATUSES",
    "bundle_references",
    "consent_to_statement",
    "encounter_to_care",
    "encounters_in_bundle",
]

#: R4 ``consentscope`` codes.
CONSENT_SCOPES: Final = frozenset({"adr", "research", "patient-privacy", "treatment"})
#: Consent.status codes per version; only ``active`` becomes a statement.
CONSENT_STATUSES: Final = {
    "R4": frozenset({"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}),
    "R5": frozenset({"draft", "active", "inactive", "not-done", "entered-in-error", "unknown"}),
}
#: R4 Encounter.status codes; cancelled and entered-in-error are no evidence of care.
ENCOUNTER_STATUSES: Final = frozenset(
    {
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
_GRANTEE_KIND: Final = {
    "Organization": "org",
    "Practitioner": "person",
    "Patient": "person",
    "RelatedPerson": "person",
    "PractitionerRole": "role",
    "CareTeam": "role",
    "Group": "role",
}


def _purposes(values: Any, what: str) -> list[str]:
    out: list[str] = []
    for system, code in codings(values):
        if system != ACT_REASON:
            continue
        if code not in ACT_REASON_PARENT:
            raise MalformedError(what, f"unknown purpose of use {code!r} (v3-ActReason)")
        if code not in out:
            out.append(code)
    return out


def consent_to_statement(
    resource: Mapping[str, Any] | str | bytes,
    *,
    org: str,
    source: str,
    directory: Mapping[str, str],
    event_id_hint: str | None = None,
    version: str | None = None,
    references: Mapping[str, str] | None = None,
) -> Statement:
    """An ehr.consent statement for an R4 or R5 Consent; MalformedError("Consent", ...) if not."""
    what = "Consent"
    res = load_resource(resource, what)
    ver = detect_version(res, version, what)
    validate_model(res, ver, what)
    status = res.get("status")
    if status not in CONSENT_STATUSES[ver]:
        raise MalformedError(what, f"unknown {ver} Consent.status {status!r}")
    if status != "active":
        raise not_supported(what, f"only active consents are recorded, this one is {status!r}")
    if ver == "R4":
        scopes = [code for _, code in codings(res.get("scope"))]
        if not scopes or any(code not in CONSENT_SCOPES for code in scopes):
            raise MalformedError(what, f"scope {scopes} is not a consentscope code")
        patient_ref = res.get("patient")
        provision = res.get("provision")
        if not isinstance(provision, dict):
            raise MalformedError(what, "an R4 consent needs a provision")
        decision = provision.get("type")
        grantees = [a.get("reference") for a in provision.get("actor", [])]
        period = provision.get("period")
        when = res.get("dateTime")
    else:
        patient_ref = res.get("subject")
        provisions = res.get("provision", [])
        if len(provisions) != 1:
            raise not_supported(what, f"one provision is supported, got {len(provisions)}")
        provision = provisions[0]
        decision = res.get("decision")
        grantees = list(res.get("grantee", [])) or [
            a.get("reference") for a in provision.get("actor", [])
        ]
        period = provision.get("period") or res.get("period")
        when = res.get("date")
    if "provision" in provision:
        raise not_supported(what, "nested provisions (exceptions) are not supported")
    patient = reference_of(patient_ref, expect="Patient", references=references)
    if patient is None or not patient.startswith("Patient/"):
        raise MalformedError(what, "no patient: the consent must refer to a Patient")
    if decision not in CONSENT_DECISIONS:
        raise MalformedError(what, f"decision {decision!r} is not permit or deny")
    if len(grantees) != 1:
        raise MalformedError(what, f"one grantee per consent statement, got {len(grantees)}")
    grantee_ref = reference_of(grantees[0], expect=None, references=references)
    kind = _GRANTEE_KIND.get((grantee_ref or "").split("/", 1)[0])
    if grantee_ref is None or kind is None:
        raise MalformedError(what, f"the grantee {grantee_ref!r} is not an org, person or role")
    if not isinstance(period, dict) or "start" not in period or "end" not in period:
        raise MalformedError(what, "the provision needs a period with start and end")
    start = fhir_time_ms(period["start"], "period.start", what)
    end = fhir_time_ms(period["end"], "period.end", what, end=True)
    purposes = _purposes(provision.get("purpose"), what)
    if not purposes:
        raise MalformedError(what, "no purpose: give v3-ActReason codes in provision.purpose")
    fields = {
        "patient": patient,
        "grantee": {
            "kind": kind,
            "id": directory.get(grantee_ref, grantee_ref) if kind == "org" else grantee_ref,
        },
        "purposes": purposes,
        "period": {"start": start, "end": end},
        "decision": decision,
    }
    event_ts = fhir_time_ms(when, "date", what) if when else start
    return build_statement(
        what,
        schema="ehr.consent",
        id=statement_id(res, event_id_hint),
        org=org,
        source=source,
        event_ts=event_ts,
        principals=(Principal("patient", patient),),
        fields=fields,
    )


def encounter_to_care(
    resource: Mapping[str, Any] | str | bytes,
    *,
    org: str,
    source: str,
    directory: Mapping[str, str],
    references: Mapping[str, str] | None = None,
    event_id_hint: str | None = None,
) -> Statement:
    """An ehr.care statement for an R4 Encounter (Synthea); MalformedError("Encounter", ...)."""
    what = "Encounter"
    res = load_resource(resource, what)
    if res.get("resourceType") != what:
        raise MalformedError(
            what, f"expected resourceType 'Encounter', got {res.get('resourceType')!r:.60}"
        )
    validate_model(res, "R4", what)
    status = res.get("status")
    if status not in ENCOUNTER_STATUSES:
        raise MalformedError(what, f"unknown Encounter.status {status!r}")
    if status in ("cancelled", "entered-in-error"):
        raise not_supported(what, f"a {status} encounter is no evidence of care")
    patient = reference_of(res.get("subject"), expect="Patient", references=references)
    if patient is None or not patient.startswith("Patient/"):
        raise MalformedError(what, "no patient: subject must refer to a Patient")
    participants = res.get("participant") or []
    first = participants[0] if participants else {}
    clinician_id = reference_of(
        first.get("individual"), expect="Practitioner", references=references
    )
    if clinician_id is None:
        raise MalformedError(what, "no clinician: participant[0].individual is required")
    clinician: dict[str, Any] = {"id": clinician_id}
    roles = codings(first.get("type"))
    if roles:
        clinician["role"] = roles[0][1]
    provider = reference_of(
        res.get("serviceProvider"), expect="Organization", references=references
    )
    if provider is None:
        raise MalformedError(what, "no organization: serviceProvider is required")
    period = res.get("period") or {}
    if "start" not in period:
        raise MalformedError(what, "period.start is required")
    start = fhir_time_ms(period["start"], "period.start", what)
    care_period = {"start": start}
    if "end" in period:
        care_period["end"] = fhir_time_ms(period["end"], "period.end", what, end=True)
    fields: dict[str, Any] = {
        "patient": patient,
        "clinician": clinician,
        "org": directory.get(provider, provider),
        "period": care_period,
    }
    if isinstance(res.get("id"), str):
        fields["encounter_ref"] = f"Encounter/{res['id']}"
    return build_statement(
        what,
        schema="ehr.care",
        id=statement_id(res, event_id_hint),
        org=org,
        source=source,
        event_ts=start,
        principals=(Principal("patient", patient),),
        fields=fields,
    )


def bundle_references(bundle: Mapping[str, Any]) -> dict[str, str]:
    """fullUrl -> ``Type/id`` for every entry of a Bundle (resolves ``urn:uuid:`` references)."""
    out: dict[str, str] = {}
    for entry in _entries(bundle):
        res, url = entry.get("resource") or {}, entry.get("fullUrl")
        if isinstance(url, str) and isinstance(res.get("id"), str):
            out[url] = f"{res.get('resourceType')}/{res['id']}"
    return out


def encounters_in_bundle(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Encounter resources of a Bundle, in order."""
    return [
        e["resource"]
        for e in _entries(bundle)
        if isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == "Encounter"
    ]


def _entries(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    if bundle.get("resourceType") != "Bundle":
        raise UsageError("expected a FHIR Bundle")
    return [e for e in bundle.get("entry", []) if isinstance(e, dict)]
