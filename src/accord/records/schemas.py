"""Hospital-domain statement schemas: field validation and typed views (formats.md section 2).

Each schema fixes the principals a statement carries and the exact keys of its
``fields``. :func:`validate_fields` checks everything (unknown or missing keys,
types, lengths, codes, the patient principal equal to ``fields.patient``) and
returns a typed, read-only view of the fields that the rest of the system reads
(:class:`Access`, :class:`Disclosure`, :class:`Consent`, :class:`Care`,
:class:`SourceChange`, :class:`Decision`). Every failure is ``MalformedError("statement", ...)``
naming the field.

Beyond formats.md section 2 (documented here because the table is silent):

- ``ehr.access`` and ``ehr.disclosure`` may carry ``fhir``: ``{"version": "R4" |
  "R5", "resource": {...}}``, the AuditEvent the statement was made from, so the
  node can serve back exactly what it received.
- ``ehr.access`` with purpose ``BTG`` must have ``break_glass`` true.
- ``ehr.disclosure``: discloser and recipient differ; the export half is
  logged by the discloser (``discloser_org == org``) and the import half by the
  recipient (``recipient_org == org``).
- Periods need ``end >= start``.

``accessor_org``, ``discloser_org``, ``recipient_org``, ``grantee.id`` and
``ehr.care``'s ``org`` are org *references*: an Accord org id when the org is a
member, otherwise any id (e.g. a FHIR ``Organization/...`` reference), so they
follow the id rule, not the org-id pattern.

``accord.decision`` (a privacy officer's review of an alert, docs/compliance.md
section 5): principal the patient; fields ``alert`` (the alert id, 64 hex),
``patient``, ``status`` (``justified`` or ``violation``), ``reason`` (free text)
and ``reviewer`` {``id``, ``name``?}.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from accord.encoding import b64decode
from accord.errors import MalformedError
from accord.records.codes import (
    ACT_REASON_PARENT,
    ACTIONS,
    AUTHORIZATION_KINDS,
    CONSENT_DECISIONS,
    DECISION_STATUSES,
    DISCLOSURE_HALVES,
    GRANTEE_KINDS,
    OUTCOMES,
    PRINCIPAL_KINDS,
    SOURCE_ACTIONS,
)
from accord.records.values import (
    MAX_PURPOSES,
    MAX_RECORD_REFS,
    check_bool,
    check_code,
    check_hash_hex,
    check_id,
    check_list,
    check_name,
    check_object,
    check_source_name,
    check_text,
    check_ts,
    fail,
)

__all__ = [
    "FHIR_VERSIONS",
    "SCHEMAS",
    "Access",
    "Accessor",
    "Authorization",
    "Care",
    "Clinician",
    "Consent",
    "Decision",
    "Disclosure",
    "FhirOriginal",
    "Fields",
    "Grantee",
    "Period",
    "Principal",
    "Reviewer",
    "SourceChange",
    "validate_fields",
]

FHIR_VERSIONS: Final = frozenset({"R4", "R5"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Whom a statement is about: ``{"kind": "patient" | "org", "id": ...}``."""

    kind: str
    id: str

    def __post_init__(self) -> None:
        check_code(self.kind, "principals[].kind", PRINCIPAL_KINDS)
        check_id(self.id, "principals[].id")

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id}


# -- typed views (built only by validate_fields, from checked values) --------------------


@dataclass(frozen=True, slots=True)
class FhirOriginal:
    """The FHIR resource a statement was made from, kept verbatim."""

    version: str
    resource: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class Accessor:
    id: str
    role: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Authorization:
    """What made an access appropriate: a care or consent record (its hash)."""

    kind: str
    ref: bytes


@dataclass(frozen=True, slots=True)
class Access:
    """``ehr.access``: who opened which record of which patient, why, with what outcome."""

    accessor: Accessor
    accessor_org: str
    patient: str
    record_ref: bytes
    action: str
    purpose: str
    outcome: str
    break_glass: bool
    authorization: Authorization | None = None
    fhir: FhirOriginal | None = None


@dataclass(frozen=True, slots=True)
class Disclosure:
    """``ehr.disclosure``: one half (export or import) of a transfer between orgs."""

    half: str
    transfer_id: str
    discloser_org: str
    recipient_org: str
    patient: str
    record_refs: tuple[bytes, ...]
    purpose: str
    description: str
    other_half: bytes | None = None
    fhir: FhirOriginal | None = None


@dataclass(frozen=True, slots=True)
class Grantee:
    kind: str
    id: str


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end]`` in ms; ``end`` None means open-ended."""

    start: int
    end: int | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """``ehr.consent``: the patient permits or denies a grantee some purposes for a period."""

    patient: str
    grantee: Grantee
    purposes: tuple[str, ...]
    period: Period
    decision: str
    revokes: bytes | None = None


@dataclass(frozen=True, slots=True)
class Clinician:
    id: str
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Care:
    """``ehr.care``: a treatment relationship between a clinician (at an org) and a patient."""

    patient: str
    clinician: Clinician
    org: str
    period: Period
    encounter_ref: str | None = None


@dataclass(frozen=True, slots=True)
class SourceChange:
    """``accord.source``: an org registers or revokes one of its sources' keys."""

    name: str
    public_key: bytes
    action: str


@dataclass(frozen=True, slots=True)
class Reviewer:
    id: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """``accord.decision``: a reviewer's verdict on an alert (justified or violation)."""

    alert: bytes
    patient: str
    status: str
    reason: str
    reviewer: Reviewer


Fields = Access | Disclosure | Consent | Care | SourceChange | Decision

# -- field checks ------------------------------------------------------------------------


def _purpose(value: Any, path: str) -> str:
    if type(value) is not str or value not in ACT_REASON_PARENT:
        fail(
            path,
            "must be a v3-ActReason purpose of use (e.g. TREAT, ETREAT, BTG, HPAYMT, "
            f"HOPERAT), got {value!r:.80}",
        )
    return value


def _period(value: Any, path: str, end_required: bool) -> Period:
    p = check_object(value, path, ("start", "end") if end_required else ("start",), ("end",))
    start = check_ts(p["start"], f"{path}.start")
    end = None
    if "end" in p:
        end = check_ts(p["end"], f"{path}.end")
        if end < start:
            fail(f"{path}.end", f"must not be before start ({end} < {start})")
    return Period(start, end)


def _fhir(f: dict[str, Any]) -> FhirOriginal | None:
    if "fhir" not in f:
        return None
    o = check_object(f["fhir"], "fields.fhir", ("version", "resource"))
    version = check_code(o["version"], "fields.fhir.version", FHIR_VERSIONS)
    resource = o["resource"]
    if type(resource) is not dict or resource.get("resourceType") != "AuditEvent":
        fail("fields.fhir.resource", 'must be an object with "resourceType": "AuditEvent"')
    return FhirOriginal(version, resource)


_ACCESS_REQ: Final = (
    "accessor",
    "accessor_org",
    "patient",
    "record_ref",
    "action",
    "purpose",
    "outcome",
    "break_glass",
)
_ACCESS_OPT: Final = ("authorization", "fhir")


def _access(f: Any, org: str) -> Access:
    check_object(f, "fields", _ACCESS_REQ, _ACCESS_OPT)
    a = check_object(f["accessor"], "fields.accessor", ("id", "role"), ("name",))
    accessor = Accessor(
        check_id(a["id"], "fields.accessor.id"),
        check_id(a["role"], "fields.accessor.role"),
        check_name(a["name"], "fields.accessor.name") if "name" in a else None,
    )
    purpose = _purpose(f["purpose"], "fields.purpose")
    break_glass = check_bool(f["break_glass"], "fields.break_glass")
    if purpose == "BTG" and not break_glass:
        fail("fields.break_glass", "must be true when the purpose is BTG (break the glass)")
    authorization = None
    if "authorization" in f:
        z = check_object(f["authorization"], "fields.authorization", ("kind", "ref"))
        authorization = Authorization(
            check_code(z["kind"], "fields.authorization.kind", AUTHORIZATION_KINDS),
            check_hash_hex(z["ref"], "fields.authorization.ref"),
        )
    return Access(
        accessor=accessor,
        accessor_org=check_id(f["accessor_org"], "fields.accessor_org"),
        patient=check_id(f["patient"], "fields.patient"),
        record_ref=check_hash_hex(f["record_ref"], "fields.record_ref"),
        action=check_code(f["action"], "fields.action", ACTIONS),
        purpose=purpose,
        outcome=check_code(f["outcome"], "fields.outcome", OUTCOMES),
        break_glass=break_glass,
        authorization=authorization,
        fhir=_fhir(f),
    )


_DISCLOSURE_REQ: Final = (
    "half",
    "transfer_id",
    "discloser_org",
    "recipient_org",
    "patient",
    "record_refs",
    "purpose",
    "description",
)
_DISCLOSURE_OPT: Final = ("other_half", "fhir")


def _disclosure(f: Any, org: str) -> Disclosure:
    check_object(f, "fields", _DISCLOSURE_REQ, _DISCLOSURE_OPT)
    half = check_code(f["half"], "fields.half", DISCLOSURE_HALVES)
    discloser = check_id(f["discloser_org"], "fields.discloser_org")
    recipient = check_id(f["recipient_org"], "fields.recipient_org")
    if discloser == recipient:
        fail("fields.recipient_org", "must differ from discloser_org")
    if half == "export" and discloser != org:
        fail("fields.discloser_org", f"the export half is logged by the discloser, {org!r}")
    if half == "import" and recipient != org:
        fail("fields.recipient_org", f"the import half is logged by the recipient, {org!r}")
    refs = check_list(f["record_refs"], "fields.record_refs", 1, MAX_RECORD_REFS)
    record_refs = tuple(check_hash_hex(r, f"fields.record_refs[{i}]") for i, r in enumerate(refs))
    if len(set(record_refs)) != len(record_refs):
        fail("fields.record_refs", "must not repeat a record reference")
    return Disclosure(
        half=half,
        transfer_id=check_id(f["transfer_id"], "fields.transfer_id"),
        discloser_org=discloser,
        recipient_org=recipient,
        patient=check_id(f["patient"], "fields.patient"),
        record_refs=record_refs,
        purpose=_purpose(f["purpose"], "fields.purpose"),
        description=check_text(f["description"], "fields.description"),
        other_half=check_hash_hex(f["other_half"], "fields.other_half")
        if "other_half" in f
        else None,
        fhir=_fhir(f),
    )


_CONSENT_REQ: Final = ("patient", "grantee", "purposes", "period", "decision")


def _consent(f: Any, org: str) -> Consent:
    check_object(f, "fields", _CONSENT_REQ, ("revokes",))
    g = check_object(f["grantee"], "fields.grantee", ("kind", "id"))
    purposes = tuple(
        _purpose(p, f"fields.purposes[{i}]")
        for i, p in enumerate(check_list(f["purposes"], "fields.purposes", 1, MAX_PURPOSES))
    )
    if len(set(purposes)) != len(purposes):
        fail("fields.purposes", "must not repeat a purpose")
    return Consent(
        patient=check_id(f["patient"], "fields.patient"),
        grantee=Grantee(
            check_code(g["kind"], "fields.grantee.kind", GRANTEE_KINDS),
            check_id(g["id"], "fields.grantee.id"),
        ),
        purposes=purposes,
        period=_period(f["period"], "fields.period", end_required=True),
        decision=check_code(f["decision"], "fields.decision", CONSENT_DECISIONS),
        revokes=check_hash_hex(f["revokes"], "fields.revokes") if "revokes" in f else None,
    )


def _care(f: Any, org: str) -> Care:
    check_object(f, "fields", ("patient", "clinician", "org", "period"), ("encounter_ref",))
    c = check_object(f["clinician"], "fields.clinician", ("id",), ("role",))
    return Care(
        patient=check_id(f["patient"], "fields.patient"),
        clinician=Clinician(
            check_id(c["id"], "fields.clinician.id"),
            check_id(c["role"], "fields.clinician.role") if "role" in c else None,
        ),
        org=check_id(f["org"], "fields.org"),
        period=_period(f["period"], "fields.period", end_required=False),
        encounter_ref=check_id(f["encounter_ref"], "fields.encounter_ref")
        if "encounter_ref" in f
        else None,
    )


def _source(f: Any, org: str) -> SourceChange:
    check_object(f, "fields", ("name", "public_key", "action"))
    key = f["public_key"]
    try:
        raw = b64decode(key) if type(key) is str else None
    except MalformedError:
        raw = None
    if raw is None or len(raw) != 32:
        fail("fields.public_key", "must be a raw Ed25519 public key (32 bytes) in padded base64")
    return SourceChange(
        name=check_source_name(f["name"], "fields.name"),
        public_key=raw,
        action=check_code(f["action"], "fields.action", SOURCE_ACTIONS),
    )


def _decision(f: Any, org: str) -> Decision:
    check_object(f, "fields", ("alert", "patient", "status", "reason", "reviewer"))
    r = check_object(f["reviewer"], "fields.reviewer", ("id",), ("name",))
    return Decision(
        alert=check_hash_hex(f["alert"], "fields.alert"),
        patient=check_id(f["patient"], "fields.patient"),
        status=check_code(f["status"], "fields.status", DECISION_STATUSES),
        reason=check_text(f["reason"], "fields.reason"),
        reviewer=Reviewer(
            check_id(r["id"], "fields.reviewer.id"),
            check_name(r["name"], "fields.reviewer.name") if "name" in r else None,
        ),
    )


@dataclass(frozen=True, slots=True)
class _Schema:
    principal_kind: str
    parse: Callable[[Any, str], Fields]


#: Known schemas: name -> (the kind of its one principal, the field validator).
SCHEMAS: Final[Mapping[str, _Schema]] = MappingProxyType(
    {
        "ehr.access": _Schema("patient", _access),
        "ehr.disclosure": _Schema("patient", _disclosure),
        "ehr.consent": _Schema("patient", _consent),
        "ehr.care": _Schema("patient", _care),
        "accord.source": _Schema("org", _source),
        "accord.decision": _Schema("patient", _decision),
    }
)


def validate_fields(schema: str, fields: Any, principals: Sequence[Principal], org: str) -> Fields:
    """Check ``fields`` and ``principals`` against ``schema``; return the typed view.

    Precondition: ``org`` is a checked org id and each principal is a checked
    :class:`Principal`. Every schema has exactly one principal: the patient
    (``id == fields.patient``) for ``ehr.*``, the org itself for ``accord.source``.
    """
    spec = SCHEMAS.get(schema)
    if spec is None:
        fail("schema", f"unknown schema {schema!r:.80}; known: {', '.join(sorted(SCHEMAS))}")
    kind = spec.principal_kind
    if len(principals) != 1:
        fail(
            "principals",
            f"{schema} needs exactly one principal of kind {kind!r}, got {len(principals)}",
        )
    principal = principals[0]
    if principal.kind != kind:
        fail(
            "principals[0].kind",
            f"{schema} needs a principal of kind {kind!r}, got {principal.kind!r}",
        )
    view = spec.parse(fields, org)
    if kind == "patient":
        patient = view.patient  # type: ignore[union-attr]
        if principal.id != patient:
            fail("principals[0].id", f"must equal fields.patient ({patient!r:.80})")
    elif principal.id != org:
        fail("principals[0].id", f"must equal the statement's org ({org!r})")
    return view
