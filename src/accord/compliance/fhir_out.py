"""Accord records -> FHIR: AuditEvents, searchset Bundles and OperationOutcomes.

``statement_to_auditevent`` serves back exactly the resource a statement was
made from (``fields.fhir``), with ``id`` = the record hash in hex (64 hex
digits, a valid FHIR id). A statement without a stored resource of the asked
version (one submitted natively, or stored as R4 and asked as R5) gets an
AuditEvent synthesised from its fields in the BALP shape of its pattern
(Read/Query/Create/Update/Delete, break-the-glass, PrivacyDisclosure Source /
Recipient). Record references cannot be reversed (they are hashes), so a
synthesised data entity carries the hash as an identifier
(system ``urn:accord:record-ref``) and a disclosure's ``transfer_id`` is a BALP
transaction (XrequestId) entity; ``other_half`` and an access's
``authorization`` have no AuditEvent element and are not carried. Everything
returned validates with the fhir.resources model of its version.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Final

from accord.compliance.fhir_in import BALP_ENTITY_TYPE
from accord.compliance.fhir_models import (
    NOT_SUPPORTED,
    RECORD_REF_SYSTEM,
    detect_version,
    ms_to_instant,
)
from accord.errors import AccordError, TooLargeError, UsageError
from accord.records.codes import (
    ACT_REASON,
    AUDIT_EVENT_TYPE,
    DCM,
    DCM_CODES,
    ISSUE_SEVERITY,
    LIFECYCLE,
    OBJECT_ROLE,
    OUTCOME_TO_ISSUE_SEVERITY,
    OUTCOME_TO_R4,
    PARTICIPATION_TYPE,
    RESTFUL_INTERACTION,
    ROLE_CLASS,
)
from accord.records.schemas import Access, Disclosure
from accord.records.statement import Statement

__all__ = [
    "RECORD_REF_SYSTEM",
    "operation_outcome",
    "searchset_bundle",
    "statement_to_auditevent",
]

_AUDIT_ENTITY_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_REST_CODE: Final = {"R": "read", "E": "search-type", "C": "create", "U": "update", "D": "delete"}


def _check_version(version: str) -> None:
    if version not in ("R4", "R5"):
        raise UsageError(f"unknown FHIR version {version!r}; use R4 or R5")


def statement_to_auditevent(
    statement: Statement, record_hash: bytes, version: str
) -> dict[str, Any]:
    """The AuditEvent (``version`` R4 or R5) for a record; ``id`` = ``record_hash`` in hex.

    Raises UsageError for statements that are not accesses or disclosures.
    """
    _check_version(version)
    if type(record_hash) is not bytes or len(record_hash) != 32:
        raise UsageError("record_hash must be the 32-byte record hash")
    typed = statement.typed
    if not isinstance(typed, Access | Disclosure):
        raise UsageError(f"a {statement.schema} statement has no AuditEvent form")
    if typed.fhir is not None and typed.fhir.version == version:
        out = copy.deepcopy(dict(typed.fhir.resource))
        out["id"] = record_hash.hex()
        return out
    if isinstance(typed, Access):
        return _access_event(statement, typed, record_hash.hex(), version)
    return _disclosure_event(statement, typed, record_hash.hex(), version)


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)]}


def _ref(text: str, display: str | None = None) -> dict[str, Any]:
    """A Reference: ``Type/id`` strings as references, anything else as an identifier."""
    head, _, tail = text.partition("/")
    out: dict[str, Any] = (
        {"reference": text}
        if tail and head[:1].isupper() and head.isalpha()
        else {"identifier": {"value": text}}
    )
    if display:
        out["display"] = display
    return out


def _base(statement: Statement, record_hex: str, version: str) -> dict[str, Any]:
    instant = ms_to_instant(statement.event_ts)
    out: dict[str, Any] = {"resourceType": "AuditEvent", "id": record_hex}
    if version == "R5":
        out["occurredDateTime"] = instant
    else:
        out["period"] = {"start": instant, "end": instant}
    out["recorded"] = instant
    return out


def _event_codes(
    out: dict[str, Any], version: str, kind: tuple[str, str], specific: tuple[str, str]
) -> None:
    """R4 type + subtype, or R5 category + code."""
    kind_display = DCM_CODES.get(kind[1]) if kind[0] == DCM else None
    specific_display = DCM_CODES.get(specific[1]) if specific[0] == DCM else None
    if version == "R5":
        out["category"] = [_concept(kind[0], kind[1], kind_display)]
        out["code"] = _concept(specific[0], specific[1], specific_display)
    else:
        out["type"] = _coding(kind[0], kind[1], kind_display)
        out["subtype"] = [_coding(specific[0], specific[1], specific_display)]


def _outcome(out: dict[str, Any], outcome: str, version: str) -> None:
    if version == "R5":
        out["outcome"] = {"code": _coding(ISSUE_SEVERITY, OUTCOME_TO_ISSUE_SEVERITY[outcome])}
    else:
        out["outcome"] = OUTCOME_TO_R4[outcome]


def _purpose(out: dict[str, Any], purpose: str, version: str) -> None:
    out["authorization" if version == "R5" else "purposeOfEvent"] = [_concept(ACT_REASON, purpose)]


def _source(statement: Statement, version: str) -> dict[str, Any]:
    observer = {"display": statement.key_id}
    return (
        {"observer": observer} if version == "R5" else {"site": statement.org, "observer": observer}
    )


def _entity(what: dict[str, Any], role: str, entity_type: str, version: str) -> dict[str, Any]:
    if version == "R5":
        return {"what": what, "role": _concept(OBJECT_ROLE, role)}
    return {
        "what": what,
        "type": _coding(_AUDIT_ENTITY_TYPE, entity_type),
        "role": _coding(OBJECT_ROLE, role),
    }


def _data_entity(ref: bytes, version: str) -> dict[str, Any]:
    what = {"identifier": {"system": RECORD_REF_SYSTEM, "value": ref.hex()}}
    return _entity(what, "4", "2", version)


def _access_event(statement: Statement, a: Access, record_hex: str, version: str) -> dict[str, Any]:
    out = _base(statement, record_hex, version)
    if a.break_glass:
        _event_codes(out, version, (DCM, "110113"), (DCM, "110127"))
    else:
        _event_codes(
            out, version, (AUDIT_EVENT_TYPE, "rest"), (RESTFUL_INTERACTION, _REST_CODE[a.action])
        )
    out["action"] = a.action
    if version == "R5":
        out["severity"] = "warning" if a.break_glass else "informational"
    _outcome(out, a.outcome, version)
    _purpose(out, a.purpose, version)
    if version == "R5":
        out["patient"] = _ref(a.patient)
    user: dict[str, Any] = {
        "type": _concept(PARTICIPATION_TYPE, "IRCP", "information recipient"),
        "role": [{"coding": [{"code": a.accessor.role}]}],
        "who": _ref(a.accessor.id, a.accessor.name),
        "requestor": True,
    }
    org = {
        "type": _concept(ROLE_CLASS, "PROV", "healthcare provider"),
        "who": _ref(a.accessor_org),
        "requestor": False,
    }
    out["agent"] = [user, org]
    out["source"] = _source(statement, version)
    out["entity"] = [
        _entity(_ref(a.patient), "1", "1", version),
        _data_entity(a.record_ref, version),
    ]
    return out


def _disclosure_event(
    statement: Statement, d: Disclosure, record_hex: str, version: str
) -> dict[str, Any]:
    out = _base(statement, record_hex, version)
    export = d.half == "export"
    _event_codes(out, version, (DCM, "110106" if export else "110107"), (LIFECYCLE, "disclose"))
    out["action"] = "R" if export else "C"
    if version == "R5":
        out["severity"] = "informational"
    _outcome(out, "success", version)
    _purpose(out, d.purpose, version)
    if version == "R5":
        out["patient"] = _ref(d.patient)
    out["agent"] = [
        {
            "type": _concept(DCM, "110153", "Source Role ID"),
            "who": _ref(d.discloser_org),
            "requestor": False,
        },
        {
            "type": _concept(DCM, "110152", "Destination Role ID"),
            "who": _ref(d.recipient_org),
            "requestor": False,
        },
    ]
    out["source"] = _source(statement, version)
    out["entity"] = [_entity(_ref(d.patient), "1", "1", version)] + [
        _data_entity(ref, version) for ref in d.record_refs
    ]
    transaction: dict[str, Any] = {"what": {"identifier": {"value": d.transfer_id}}}
    kind = _coding(BALP_ENTITY_TYPE, "XrequestId")
    if version == "R5":  # R5 entities have no type: BALP's transaction entity goes by role
        transaction["role"] = {"coding": [kind]}
    else:
        transaction["type"] = kind
    out["entity"].append(transaction)
    first = out["entity"][1]
    if version == "R4":
        first["description"] = d.description
    else:
        first["what"]["display"] = d.description
    return out


def searchset_bundle(
    entries: Sequence[Mapping[str, Any]], total: int, self_url: str, version: str
) -> dict[str, Any]:
    """A FHIR searchset Bundle of AuditEvents (all of ``version``; mixing is a UsageError).

    ``self_url`` is the search URL; each entry's fullUrl is its base (the part
    before ``?``) plus ``/<id>``, so pass an absolute URL.
    """
    _check_version(version)
    if type(total) is not int or total < len(entries):
        raise UsageError("total must be an integer at least the number of entries")
    base = self_url.split("?", 1)[0].rstrip("/")
    out_entries = []
    for i, resource in enumerate(entries):
        if detect_version(resource, None, "AuditEvent") != version:
            raise UsageError(f"entry {i} is not an {version} AuditEvent: never mix versions")
        out_entries.append(
            {
                "fullUrl": f"{base}/{resource['id']}",
                "resource": dict(resource),
                "search": {"mode": "match"},
            }
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": "self", "url": self_url}],
    }
    if out_entries:
        bundle["entry"] = out_entries
    return bundle


def operation_outcome(error: AccordError) -> dict[str, Any]:
    """The FHIR OperationOutcome for an error (severity error; code invalid, not-supported,
    too-long, or processing for errors that are not about the input)."""
    if error.details.get("issue") == NOT_SUPPORTED:
        code = "not-supported"
    elif isinstance(error, TooLargeError):
        code = "too-long"
    elif error.status == 400:
        code = "invalid"
    else:
        code = "processing"
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": error.message}],
    }
