"""FHIR AuditEvent (IHE BALP) -> ehr.access / ehr.disclosure statements.

The node's FHIR gateway source signs what these functions return. Patterns
(healthcare.md sections 3, 5 and 7; BALP 1.1.5):

| event codes (R4 type/subtype, R5 category/code) | statement |
|---|---|
| restful-interaction read, vread, history* (PatientRead, Read) | ehr.access, action R |
| restful-interaction search* (PatientQuery) | ehr.access, action E, one per patient |
| restful-interaction create / update, patch / delete | ehr.access, action C / U / D |
| DCM 110110 Patient Record | ehr.access, the resource's action |
| DCM 110106 Export (PrivacyDisclosure.Source), action R | ehr.disclosure, half export |
| DCM 110107 Import (PrivacyDisclosure.Recipient), action C | ehr.disclosure, half import |
| DCM 110113 + 110127 (break-the-glass), or purpose BTG | ehr.access, break_glass, BTG |

Mapping rules: the user agent (type v3-ParticipationType#IRCP, else a requestor
that is not an Organization) -> ``accessor`` {id: its ``who`` reference, role:
its first role code, else its type code; name: ``who.display``}; the user's org
(agent type v3-RoleClass#PROV, else the client agent's Organization) ->
``accessor_org`` through ``directory``; disclosure discloser / recipient = the
Source Role ID (DCM 110153) / Destination Role ID (110152) agents through
``directory`` (a reference missing from ``directory`` is used as is). Patient:
R5 ``patient`` and entities with object-role 1; data entities (all others but
BALP transaction ids) -> record refs ``SHA-256("<reference>|<version or ''>")``
in hex (a query entity without ``what`` uses ``query:<base64 query>``; an
identifier of system ``urn:accord:record-ref`` is a record ref already); an
access with no data entity refers to the patient record itself; a disclosure's
description joins its data entities' labels (display, description, name), else
their references, and its ``transfer_id`` is the BALP XrequestId entity, else
derived from (discloser, recipient, patient, record refs) so both halves agree.
A failed disclosure (outcome not success) is refused. Purpose: the first
v3-ActReason code of R4 ``purposeOfEvent`` / R5 ``authorization``, else of the
user agent's ``purposeOfUse`` / ``authorization``; unknown codes are refused. The resource is kept
verbatim in ``fields.fhir``. The statement id is ``event_id_hint`` or
``fhir-`` + the first 32 hex digits of SHA-256(canonical resource), so posting
the same resource twice yields the same statement.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import Any, Final

from accord.compliance.fhir_models import (
    RECORD_REF_SYSTEM,
    build_statement,
    codings,
    detect_version,
    fhir_time_ms,
    identifier_of,
    load_resource,
    not_supported,
    reference_of,
    split_history,
    statement_id,
    validate_model,
)
from accord.encoding import canonical
from accord.errors import MalformedError
from accord.records.codes import (
    ACT_REASON,
    ACT_REASON_PARENT,
    DCM,
    ISSUE_SEVERITY,
    ISSUE_SEVERITY_TO_OUTCOME,
    OBJECT_ROLE,
    PARTICIPATION_TYPE,
    R4_OUTCOME_TO_OUTCOME,
    RESTFUL_INTERACTION,
    ROLE_CLASS,
)
from accord.records.schemas import Principal
from accord.records.statement import Statement

__all__ = [
    "BALP_ENTITY_TYPE",
    "auditevent_to_statement",
    "auditevent_to_statements",
    "record_ref",
]

AE: Final = "AuditEvent"
BALP_ENTITY_TYPE: Final = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"

_REST_ACTION: Final = {
    "read": "R",
    "vread": "R",
    "history": "R",
    "history-instance": "R",
    "history-type": "R",
    "history-system": "R",
    "search": "E",
    "search-type": "E",
    "search-system": "E",
    "create": "C",
    "update": "U",
    "patch": "U",
    "delete": "D",
}
_SEARCH: Final = frozenset({"search", "search-type", "search-system"})


def record_ref(reference: str) -> str:
    """``SHA-256("<reference>|<version or ''>")`` in hex: a record reference, never the record."""
    base, version = split_history(reference)
    return hashlib.sha256(f"{base}|{version}".encode()).hexdigest()


def _org_ref(
    ref: Any, directory: Mapping[str, str], references: Mapping[str, str] | None
) -> str | None:
    text = reference_of(ref, expect="Organization", references=references)
    if text is None:
        text = identifier_of(ref)
    return None if text is None else directory.get(text, text)


# -- AuditEvent ------------------------------------------------------------------------


def auditevent_to_statement(
    resource: Mapping[str, Any] | str | bytes,
    *,
    org: str,
    source: str,
    directory: Mapping[str, str],
    event_id_hint: str | None = None,
    version: str | None = None,
) -> Statement:
    """One statement for one AuditEvent (R4 or R5); MalformedError("AuditEvent", ...) if invalid.

    A PatientQuery about several patients makes several statements: use
    :func:`auditevent_to_statements` for those.
    """
    out = auditevent_to_statements(
        resource,
        org=org,
        source=source,
        directory=directory,
        event_id_hint=event_id_hint,
        version=version,
    )
    if len(out) != 1:
        raise MalformedError(
            AE,
            f"a query about {len(out)} patients makes {len(out)} statements "
            "(BALP: one AuditEvent per patient); use auditevent_to_statements",
        )
    return out[0]


def auditevent_to_statements(
    resource: Mapping[str, Any] | str | bytes,
    *,
    org: str,
    source: str,
    directory: Mapping[str, str],
    event_id_hint: str | None = None,
    version: str | None = None,
) -> list[Statement]:
    """Statements for one AuditEvent: one, or one per patient for a PatientQuery.

    ``org``/``source`` name the node's FHIR gateway source; ``directory`` maps
    FHIR Organization references (``Organization/<id>``) to Accord org ids.
    ``version`` (``"R4"``/``"R5"``) is checked against the resource's shape.
    """
    res = load_resource(resource, AE)
    ver = detect_version(res, version, AE)
    validate_model(res, ver, AE)
    r5 = ver == "R5"
    if r5:
        event = codings(res.get("category")) + codings(res.get("code"))
        period = res.get("occurredPeriod") or {}
        occurred, when = res.get("occurredDateTime") or period.get("start"), "occurred"
    else:
        event = codings(res.get("type")) + codings(res.get("subtype"))
        occurred, when = (res.get("period") or {}).get("start"), "period.start"
    agents = [a for a in res.get("agent", []) if isinstance(a, dict)]
    purposes = _purposes(res, agents, r5)
    pattern, expected_action = _pattern(event, purposes)
    action = res.get("action")
    if action is None:
        if expected_action is None:
            raise MalformedError(AE, f"action is required for the {pattern} pattern")
        action = expected_action
    elif expected_action is not None and action != expected_action:
        raise MalformedError(
            AE, f"BALP {pattern} has action {expected_action}, the resource has {action!r}"
        )
    if not purposes:
        raise MalformedError(
            AE,
            "no purpose of use: give a v3-ActReason code in "
            + ("authorization" if r5 else "purposeOfEvent or the user agent's purposeOfUse"),
        )
    patients, data, transfer = _entities(res, r5)
    if len(patients) > 1 and pattern != "query":  # a query: one statement per patient
        raise MalformedError(AE, f"one patient per {pattern} event, got {len(patients)}")
    outcome = _outcome(res, r5)
    if pattern in ("export", "import") and outcome != "success":
        raise not_supported(
            AE, f"a failed disclosure (outcome {outcome}) is not a disclosure; log it as an access"
        )
    if occurred is None:
        occurred, when = res["recorded"], "recorded"
    event_ts = fhir_time_ms(occurred, when, AE)
    base_id = statement_id(res, event_id_hint)
    original = {"version": ver, "resource": copy.deepcopy(res)}
    out = []
    for i, patient in enumerate(patients):
        st_id = base_id if len(patients) == 1 else f"{base_id}#{i + 1}"
        if pattern in ("export", "import"):
            fields = _disclosure_fields(
                pattern, agents, patient, data, transfer, purposes, directory
            )
            schema = "ehr.disclosure"
        else:
            break_glass = pattern == "break-glass" or "BTG" in purposes
            refs = [entity[0] for entity in data]
            fields = _access_fields(
                agents, patient, refs, purposes, directory, pattern, break_glass
            )
            fields.update(action=action, outcome=outcome)
            schema = "ehr.access"
        fields["fhir"] = original
        out.append(
            build_statement(
                AE,
                schema=schema,
                id=st_id,
                org=org,
                source=source,
                event_ts=event_ts,
                principals=(Principal("patient", patient),),
                fields=fields,
            )
        )
    return out


def _purposes(res: Mapping[str, Any], agents: list[dict[str, Any]], r5: bool) -> list[str]:
    """v3-ActReason codes, event level first, then the user agent's, then other agents'."""
    key = "authorization" if r5 else "purposeOfUse"
    found = codings(res.get("authorization" if r5 else "purposeOfEvent"))
    user = _user_agent(agents)
    ordered = ([user] if user is not None else []) + [a for a in agents if a is not user]
    for agent in ordered:
        found += codings(agent.get(key))
    out: list[str] = []
    for system, code in found:
        if system != ACT_REASON:
            continue
        if code not in ACT_REASON_PARENT:
            raise MalformedError(AE, f"unknown purpose of use {code!r} (v3-ActReason)")
        if code not in out:
            out.append(code)
    return out


def _pattern(event: list[tuple[str, str]], purposes: list[str]) -> tuple[str, str | None]:
    """(pattern name, the action BALP fixes for it or None)."""
    dcm = {code for system, code in event if system == DCM}
    rest = [code for system, code in event if system == RESTFUL_INTERACTION]
    found: list[tuple[str, str | None]] = []
    if "110106" in dcm:
        found.append(("export", "R"))
    if "110107" in dcm:
        found.append(("import", "C"))
    if "110113" in dcm and "110127" in dcm:
        found.append(("break-glass", None))
    elif "110113" in dcm:
        raise not_supported(AE, "DCM 110113 Security Alert without 110127 is not an access")
    if "110110" in dcm:
        found.append(("patient-record", None))
    for code in rest:
        action = _REST_ACTION.get(code)
        if action is None:
            raise not_supported(AE, f"restful-interaction {code!r} is not a record access")
        found.append(("query" if code in _SEARCH else code, action))
    if not found:
        codes = ", ".join(f"{s or '?'}#{c}" for s, c in event) or "none"
        raise not_supported(
            AE,
            f"unsupported pattern (event codes: {codes}); supported: BALP Read, Query, "
            "Create/Update/Delete, PrivacyDisclosure Source and Recipient, break-the-glass",
        )
    kinds = {name for name, _ in found}
    disclosure = kinds & {"export", "import"}
    if disclosure and len(kinds) > 1:
        raise MalformedError(AE, f"event codes match several patterns: {', '.join(sorted(kinds))}")
    if disclosure and "BTG" in purposes:
        raise MalformedError(AE, "purpose BTG (break the glass) on a disclosure")
    if "break-glass" in kinds:
        return "break-glass", None
    access = sorted({f for f in found if f[0] != "patient-record"})
    if len(access) > 1:
        names = ", ".join(name for name, _ in access)
        raise MalformedError(AE, f"event codes match several patterns: {names}")
    return access[0] if access else found[0]


def _entities(
    res: Mapping[str, Any], r5: bool
) -> tuple[list[str], list[tuple[str, str | None, str]], str | None]:
    """(distinct patients, data entities, BALP transaction id).

    A data entity is (record ref hex, its label if it has one, its reference).
    """
    patients: list[str] = []
    data: list[tuple[str, str | None, str]] = []
    transfer: str | None = None
    if r5:
        p = reference_of(res.get("patient"), expect="Patient") or identifier_of(res.get("patient"))
        if p is not None:
            patients.append(p)
    for i, entity in enumerate(res.get("entity", [])):
        role = codings(entity.get("role"))
        what = entity.get("what") or {}
        ref = reference_of(what, expect=None)
        if (OBJECT_ROLE, "1") in role or (
            not role and ref is not None and ref.startswith("Patient/")
        ):
            ref = ref or identifier_of(what)
            if ref is None:
                raise MalformedError(AE, f"entity[{i}]: the patient entity has no what.reference")
            if ref not in patients:
                patients.append(ref)
        elif (BALP_ENTITY_TYPE, "XrequestId") in codings(entity.get("type")) + role:
            value = (what.get("identifier") or {}).get("value")
            transfer = value if isinstance(value, str) else transfer
        else:
            ident = what.get("identifier") or {}
            if ref is not None:
                ref_hex = record_ref(ref)
            elif ident.get("system") == RECORD_REF_SYSTEM and isinstance(ident.get("value"), str):
                ref_hex = ident["value"]  # an Accord record reference, already hashed
            elif isinstance(entity.get("query"), str):
                ref = "query:" + entity["query"]
                ref_hex = record_ref(ref)
            else:
                raise MalformedError(
                    AE, f"entity[{i}]: a data entity needs what.reference or query"
                )
            label = what.get("display") or entity.get("description") or entity.get("name")
            data.append((ref_hex, label if isinstance(label, str) else None, ref or ref_hex))
    if not patients:
        raise MalformedError(
            AE,
            "no patient: "
            + ("AuditEvent.patient or " if r5 else "")
            + "an entity with role object-role#1 (Patient)",
        )
    return patients, data, transfer


def _outcome(res: Mapping[str, Any], r5: bool) -> str:
    raw = res.get("outcome")
    if raw is None:
        raise MalformedError(AE, "outcome is required (BALP fixes it)")
    if not r5:
        outcome = R4_OUTCOME_TO_OUTCOME.get(raw)
        if outcome is None:
            raise MalformedError(AE, f"outcome {raw!r} is not an audit-event-outcome (0/4/8/12)")
        return outcome
    code = raw.get("code") or {}
    system, value = code.get("system"), code.get("code")
    outcome = None
    if system in (None, ISSUE_SEVERITY) and isinstance(value, str):
        outcome = ISSUE_SEVERITY_TO_OUTCOME.get(value)
    if outcome is None:
        raise MalformedError(AE, f"outcome.code {system}#{value} is not an issue-severity code")
    return outcome


def _agent_types(agent: Mapping[str, Any]) -> list[tuple[str, str]]:
    return codings(agent.get("type"))


def _user_agent(agents: list[dict[str, Any]]) -> dict[str, Any] | None:
    for agent in agents:
        if (PARTICIPATION_TYPE, "IRCP") in _agent_types(agent):
            return agent
    for agent in agents:
        who = reference_of(agent.get("who"), expect=None) or ""
        if agent.get("requestor") is True and who and not who.startswith("Organization/"):
            return agent
    return None


def _agent_with(agents: list[dict[str, Any]], system: str, code: str) -> dict[str, Any] | None:
    return next((a for a in agents if (system, code) in _agent_types(a)), None)


def _access_fields(
    agents: list[dict[str, Any]],
    patient: str,
    data_refs: list[str],
    purposes: list[str],
    directory: Mapping[str, str],
    pattern: str,
    break_glass: bool,
) -> dict[str, Any]:
    user = _user_agent(agents)
    if user is None:
        raise MalformedError(
            AE, "no user agent: add the user as an agent of type v3-ParticipationType#IRCP"
        )
    who = user.get("who") or {}
    user_id = reference_of(who, expect="Practitioner")
    if user_id is None:
        ident = who.get("identifier") or {}
        user_id = ident.get("value") if isinstance(ident.get("value"), str) else None
    if user_id is None:
        raise MalformedError(AE, "the user agent has no who.reference or who.identifier")
    roles = codings(user.get("role")) or _agent_types(user)
    accessor: dict[str, Any] = {"id": user_id, "role": roles[0][1] if roles else "IRCP"}
    if isinstance(who.get("display"), str):
        accessor["name"] = who["display"]
    org_agent = _agent_with(agents, ROLE_CLASS, "PROV")
    if org_agent is None:  # the client: BALP Read 110152, Query 110153
        client = _agent_with(agents, DCM, "110153" if pattern == "query" else "110152")
        client_ref = reference_of((client or {}).get("who"), expect=None) or ""
        org_agent = client if client_ref.startswith("Organization/") else None
    accessor_org = _org_ref((org_agent or {}).get("who"), directory, None)
    if accessor_org is None:
        raise MalformedError(
            AE, "no user organization: add an agent of type v3-RoleClass#PROV with who"
        )
    if len(data_refs) > 1:
        raise MalformedError(
            AE, f"an access refers to one record; the AuditEvent has {len(data_refs)} data entities"
        )
    return {
        "accessor": accessor,
        "accessor_org": accessor_org,
        "patient": patient,
        "record_ref": data_refs[0] if data_refs else record_ref(patient),
        "purpose": "BTG" if break_glass else purposes[0],
        "break_glass": break_glass,
    }


def _disclosure_fields(
    half: str,
    agents: list[dict[str, Any]],
    patient: str,
    data: list[tuple[str, str | None, str]],
    transfer: str | None,
    purposes: list[str],
    directory: Mapping[str, str],
) -> dict[str, Any]:
    """Fields of one disclosure half. Without a BALP transaction id, both halves derive the
    same ``transfer_id`` from (discloser, recipient, patient, record refs)."""
    discloser = _org_ref((_agent_with(agents, DCM, "110153") or {}).get("who"), directory, None)
    recipient = _org_ref((_agent_with(agents, DCM, "110152") or {}).get("who"), directory, None)
    if discloser is None or recipient is None:
        raise MalformedError(
            AE,
            "a disclosure needs the source (DCM 110153) and recipient (DCM 110152) agents "
            "with who.reference",
        )
    if not data:
        raise MalformedError(AE, "a disclosure needs at least one data entity")
    refs = sorted({entity[0] for entity in data})
    labels = [label for _, label, _ in data if label] or [ref for _, _, ref in data]
    if transfer is None:
        digest = hashlib.sha256(canonical([discloser, recipient, patient, refs])).hexdigest()
        transfer = "fhir-" + digest[:32]
    return {
        "half": half,
        "transfer_id": transfer,
        "discloser_org": discloser,
        "recipient_org": recipient,
        "patient": patient,
        "record_refs": refs,
        "purpose": purposes[0],
        "description": "; ".join(labels)[:1024],
    }
