"""Every schema accepts its valid example and refuses each mutation (as data)."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from accord.errors import MalformedError, TooLargeError
from accord.records import (
    Access,
    Care,
    Consent,
    Decision,
    Disclosure,
    Reviewer,
    SourceChange,
    Statement,
)
from accord.records.values import MAX_STATEMENT_BYTES
from tests.unit.records.examples import (
    ALERT,
    CARE_REF,
    DELETE,
    EXAMPLES,
    REF,
    SOURCE_KEY,
    mutate,
)


@pytest.mark.parametrize("schema", sorted(EXAMPLES))
def test_valid_example_accepted_and_round_trips(schema: str) -> None:
    value = EXAMPLES[schema]()
    st = Statement.from_json(value)
    assert st.schema == schema
    assert st.to_json() == value
    assert Statement.parse(st.format()) == st
    assert st.key_id == "cornell/ehr"


def test_typed_views() -> None:
    a = Statement.from_json(EXAMPLES["ehr.access"]()).typed
    assert isinstance(a, Access)
    assert (a.accessor.id, a.accessor.role, a.accessor.name) == (
        "dr-marshall",
        "ATTPHYS",
        "Dr. Marshall",
    )
    assert a.record_ref == bytes.fromhex(REF)
    assert a.authorization is not None
    assert a.authorization.ref == bytes.fromhex(CARE_REF)
    assert (a.action, a.purpose, a.outcome, a.break_glass, a.fhir) == (
        "R",
        "TREAT",
        "success",
        False,
        None,
    )
    d = Statement.from_json(EXAMPLES["ehr.disclosure"]()).typed
    assert isinstance(d, Disclosure)
    assert d.record_refs == (bytes.fromhex(REF), bytes.fromhex(CARE_REF))
    assert (d.half, d.discloser_org, d.recipient_org, d.other_half) == (
        "export",
        "cornell",
        "nyu",
        None,
    )
    c = Statement.from_json(EXAMPLES["ehr.consent"]()).typed
    assert isinstance(c, Consent)
    assert c.purposes == ("TREAT", "HPAYMT")
    assert (c.period.start, c.period.end) == (1_700_000_000_000, 1_800_000_000_000)
    care = Statement.from_json(EXAMPLES["ehr.care"]()).typed
    assert isinstance(care, Care)
    assert care.period.end is None
    assert care.clinician.role == "PPRF"
    s = Statement.from_json(EXAMPLES["accord.source"]()).typed
    assert isinstance(s, SourceChange)
    assert s.public_key == SOURCE_KEY.public_key().public_bytes_raw()
    dec = Statement.from_json(EXAMPLES["accord.decision"]()).typed
    assert dec == Decision(
        alert=bytes.fromhex(ALERT),
        patient="MPI-0001",
        status="justified",
        reason="covering for the attending on call; treatment relationship confirmed",
        reviewer=Reviewer("po-lee", "R. Lee, privacy officer"),
    )


class Case(NamedTuple):
    name: str
    schema: str
    path: tuple[str | int, ...]
    new: Any
    message: str  # a fragment the error message must contain


F = "fields"
A, D, C, R, S = "ehr.access", "ehr.disclosure", "ehr.consent", "ehr.care", "accord.source"
V = "accord.decision"

CASES = [
    # envelope
    Case("unknown-top-level-key", A, ("extra",), 1, "extra: unknown field"),
    Case("missing-id", A, ("id",), DELETE, "id: is required"),
    Case("missing-fields", A, ("fields",), DELETE, "fields: is required"),
    Case("version-2", A, ("v",), 2, "v: must be 1"),
    Case("version-bool", A, ("v",), True, "v: must be 1"),
    Case("schema-unknown", A, ("schema",), "ehr.nope", "unknown schema 'ehr.nope'"),
    Case("schema-decision-with-access-fields", A, ("schema",), V, "fields.alert: is required"),
    Case("schema-not-string", A, ("schema",), ["ehr.access"], "schema: must be a string"),
    Case("id-empty", A, ("id",), "", "id: must be 1..128 characters, got 0"),
    Case("id-too-long", A, ("id",), "x" * 129, "id: must be 1..128 characters, got 129"),
    Case("id-control-char", A, ("id",), "a\nb", "id: must not contain control characters"),
    Case("id-not-string", A, ("id",), 7, "id: must be a string, got a number"),
    Case("org-uppercase", A, ("org",), "Cornell", "org: must be an org id"),
    Case("org-leading-dash", A, ("org",), "-cornell", "org: must be an org id"),
    Case("org-too-long", A, ("org",), "a" * 64, "org: must be an org id"),
    Case("source-uppercase", A, ("source",), "EHR", "source: must be a source name"),
    Case("source-slash", A, ("source",), "ehr/x", "source: must be a source name"),
    Case("event-ts-negative", A, ("event_ts",), -1, "event_ts: must be in [0, 2**53)"),
    Case("event-ts-2-53", A, ("event_ts",), 2**53, "event_ts: must be in [0, 2**53)"),
    Case("event-ts-string", A, ("event_ts",), "1710000000000", "event_ts: must be an integer"),
    Case("event-ts-float", A, ("event_ts",), 1.5, "event_ts: must be an integer"),
    Case("event-ts-bool", A, ("event_ts",), True, "event_ts: must be an integer"),
    Case(
        "principals-none", A, ("principals",), [], "exactly one principal of kind 'patient', got 0"
    ),
    Case(
        "principals-two",
        A,
        ("principals",),
        [{"kind": "patient", "id": "MPI-0001"}, {"kind": "patient", "id": "MPI-0002"}],
        "exactly one principal of kind 'patient', got 2",
    ),
    Case(
        "principals-not-list",
        A,
        ("principals",),
        {"kind": "patient"},
        "principals: must be an array",
    ),
    Case(
        "principal-kind-unknown",
        A,
        ("principals", 0, "kind"),
        "doctor",
        "principals[0].kind: must be one of",
    ),
    Case(
        "principal-kind-org",
        A,
        ("principals", 0, "kind"),
        "org",
        "needs a principal of kind 'patient'",
    ),
    Case(
        "principal-id-mismatch",
        A,
        ("principals", 0, "id"),
        "MPI-0002",
        "principals[0].id: must equal fields.patient",
    ),
    Case(
        "principal-extra-key",
        A,
        ("principals", 0, "name"),
        "x",
        "principals[0].name: unknown field",
    ),
    Case("fields-not-object", A, (F,), [], "fields: must be an object"),
    # ehr.access
    Case("access-unknown-field", A, (F, "foo"), 1, "fields.foo: unknown field"),
    Case("access-missing-accessor", A, (F, "accessor"), DELETE, "fields.accessor: is required"),
    Case(
        "access-accessor-id-long",
        A,
        (F, "accessor", "id"),
        "d" * 129,
        "fields.accessor.id: must be 1..128",
    ),
    Case(
        "access-accessor-no-role",
        A,
        (F, "accessor", "role"),
        DELETE,
        "fields.accessor.role: is required",
    ),
    Case(
        "access-accessor-extra",
        A,
        (F, "accessor", "dept"),
        "x",
        "fields.accessor.dept: unknown field",
    ),
    Case(
        "access-accessor-name-empty",
        A,
        (F, "accessor", "name"),
        "",
        "fields.accessor.name: must be 1..256",
    ),
    Case(
        "access-accessor-org-empty",
        A,
        (F, "accessor_org"),
        "",
        "fields.accessor_org: must be 1..128",
    ),
    Case(
        "access-patient-mismatch",
        A,
        (F, "patient"),
        "MPI-0002",
        "principals[0].id: must equal fields.patient",
    ),
    Case(
        "access-record-ref-upper",
        A,
        (F, "record_ref"),
        REF.upper(),
        "fields.record_ref: must be 64 lowercase hex",
    ),
    Case(
        "access-record-ref-short",
        A,
        (F, "record_ref"),
        "ab" * 31,
        "fields.record_ref: must be 64 lowercase hex",
    ),
    Case(
        "access-action-unknown",
        A,
        (F, "action"),
        "X",
        "fields.action: must be one of C, D, E, R, U",
    ),
    Case(
        "access-purpose-unknown",
        A,
        (F, "purpose"),
        "NOT-A-CODE",
        "fields.purpose: must be a v3-ActReason",
    ),
    Case(
        "access-purpose-lowercase",
        A,
        (F, "purpose"),
        "treat",
        "fields.purpose: must be a v3-ActReason",
    ),
    Case("access-outcome-unknown", A, (F, "outcome"), "failed", "fields.outcome: must be one of"),
    Case(
        "access-break-glass-string",
        A,
        (F, "break_glass"),
        "false",
        "fields.break_glass: must be true or false",
    ),
    Case(
        "access-break-glass-int",
        A,
        (F, "break_glass"),
        0,
        "fields.break_glass: must be true or false",
    ),
    Case(
        "access-btg-without-break-glass",
        A,
        (F, "purpose"),
        "BTG",
        "fields.break_glass: must be true when",
    ),
    Case(
        "access-authorization-kind",
        A,
        (F, "authorization", "kind"),
        "other",
        "fields.authorization.kind",
    ),
    Case(
        "access-authorization-ref", A, (F, "authorization", "ref"), "zz", "fields.authorization.ref"
    ),
    Case(
        "access-fhir-version",
        A,
        (F, "fhir"),
        {"version": "R3", "resource": {"resourceType": "AuditEvent"}},
        "fields.fhir.version",
    ),
    Case(
        "access-fhir-patient",
        A,
        (F, "fhir"),
        {"version": "R5", "resource": {"resourceType": "Patient"}},
        "fields.fhir.resource",
    ),
    Case(
        "access-fhir-extra",
        A,
        (F, "fhir"),
        {"version": "R5", "resource": {"resourceType": "AuditEvent"}, "x": 1},
        "fields.fhir.x: unknown field",
    ),
    # ehr.disclosure
    Case(
        "disclosure-half-unknown",
        D,
        (F, "half"),
        "both",
        "fields.half: must be one of export, import",
    ),
    Case(
        "disclosure-export-by-other",
        D,
        (F, "discloser_org"),
        "msk",
        "export half is logged by the discloser",
    ),
    Case(
        "disclosure-import-by-other",
        D,
        (F, "half"),
        "import",
        "import half is logged by the recipient",
    ),
    Case(
        "disclosure-to-self",
        D,
        (F, "recipient_org"),
        "cornell",
        "fields.recipient_org: must differ",
    ),
    Case(
        "disclosure-no-refs",
        D,
        (F, "record_refs"),
        [],
        "fields.record_refs: must have 1..256 items, got 0",
    ),
    Case(
        "disclosure-too-many-refs",
        D,
        (F, "record_refs"),
        [REF] * 257,
        "must have 1..256 items, got 257",
    ),
    Case(
        "disclosure-duplicate-refs",
        D,
        (F, "record_refs"),
        [REF, REF],
        "must not repeat a record reference",
    ),
    Case(
        "disclosure-bad-ref",
        D,
        (F, "record_refs", 1),
        "nothex",
        "fields.record_refs[1]: must be 64",
    ),
    Case(
        "disclosure-description-empty",
        D,
        (F, "description"),
        "",
        "fields.description: must be 1..1024",
    ),
    Case(
        "disclosure-description-long",
        D,
        (F, "description"),
        "d" * 1025,
        "fields.description: must be 1..1024",
    ),
    Case(
        "disclosure-description-nul",
        D,
        (F, "description"),
        "a\x00b",
        "fields.description: must not contain",
    ),
    Case("disclosure-other-half-bad", D, (F, "other_half"), "x", "fields.other_half: must be 64"),
    Case(
        "disclosure-no-transfer-id",
        D,
        (F, "transfer_id"),
        DELETE,
        "fields.transfer_id: is required",
    ),
    Case(
        "disclosure-purpose-unknown",
        D,
        (F, "purpose"),
        "FUN",
        "fields.purpose: must be a v3-ActReason",
    ),
    # ehr.consent
    Case(
        "consent-grantee-kind",
        C,
        (F, "grantee", "kind"),
        "team",
        "fields.grantee.kind: must be one of org, person, role",
    ),
    Case(
        "consent-no-purposes",
        C,
        (F, "purposes"),
        [],
        "fields.purposes: must have 1..64 items, got 0",
    ),
    Case(
        "consent-duplicate-purposes",
        C,
        (F, "purposes"),
        ["TREAT", "TREAT"],
        "must not repeat a purpose",
    ),
    Case(
        "consent-unknown-purpose",
        C,
        (F, "purposes", 1),
        "NOPE",
        "fields.purposes[1]: must be a v3-ActReason",
    ),
    Case(
        "consent-period-no-end", C, (F, "period", "end"), DELETE, "fields.period.end: is required"
    ),
    Case(
        "consent-period-reversed",
        C,
        (F, "period", "end"),
        1,
        "fields.period.end: must not be before start",
    ),
    Case(
        "consent-period-start-float",
        C,
        (F, "period", "start"),
        1.0,
        "fields.period.start: must be an integer",
    ),
    Case(
        "consent-decision-maybe",
        C,
        (F, "decision"),
        "maybe",
        "fields.decision: must be one of deny, permit",
    ),
    Case("consent-revokes-bad", C, (F, "revokes"), REF[:-1], "fields.revokes: must be 64"),
    # ehr.care
    Case(
        "care-no-clinician-id",
        R,
        (F, "clinician", "id"),
        DELETE,
        "fields.clinician.id: is required",
    ),
    Case(
        "care-clinician-role-int",
        R,
        (F, "clinician", "role"),
        5,
        "fields.clinician.role: must be a string",
    ),
    Case("care-no-org", R, (F, "org"), DELETE, "fields.org: is required"),
    Case(
        "care-period-reversed",
        R,
        (F, "period", "end"),
        1,
        "fields.period.end: must not be before start",
    ),
    Case("care-period-extra", R, (F, "period", "length"), 1, "fields.period.length: unknown field"),
    Case(
        "care-encounter-empty", R, (F, "encounter_ref"), "", "fields.encounter_ref: must be 1..128"
    ),
    # accord.source
    Case(
        "source-key-short", S, (F, "public_key"), "AAAA", "fields.public_key: must be a raw Ed25519"
    ),
    Case(
        "source-key-not-base64",
        S,
        (F, "public_key"),
        "not base64!",
        "fields.public_key: must be a raw Ed25519",
    ),
    Case(
        "source-key-unpadded",
        S,
        (F, "public_key"),
        "A" * 43,
        "fields.public_key: must be a raw Ed25519",
    ),
    Case("source-name-bad", S, (F, "name"), "Bad Name", "fields.name: must be a source name"),
    Case(
        "source-action-unknown",
        S,
        (F, "action"),
        "delete",
        "fields.action: must be one of register, revoke",
    ),
    Case(
        "source-patient-principal",
        S,
        ("principals", 0, "kind"),
        "patient",
        "needs a principal of kind 'org'",
    ),
    # accord.decision
    Case("decision-no-alert", V, (F, "alert"), DELETE, "fields.alert: is required"),
    Case("decision-alert-short", V, (F, "alert"), ALERT[:-2], "fields.alert: must be 64"),
    Case("decision-alert-upper", V, (F, "alert"), ALERT.upper(), "fields.alert: must be 64"),
    Case("decision-status-open", V, (F, "status"), "open", "fields.status: must be one of"),
    Case("decision-status-missing", V, (F, "status"), DELETE, "fields.status: is required"),
    Case("decision-reason-empty", V, (F, "reason"), "", "fields.reason: must be 1..1024"),
    Case("decision-reason-long", V, (F, "reason"), "r" * 1025, "fields.reason: must be 1..1024"),
    Case("decision-reason-bell", V, (F, "reason"), "ok\a", "fields.reason: must not contain"),
    Case("decision-no-reviewer", V, (F, "reviewer"), DELETE, "fields.reviewer: is required"),
    Case(
        "decision-reviewer-string",
        V,
        (F, "reviewer"),
        "po-lee",
        "fields.reviewer: must be an object",
    ),
    Case(
        "decision-reviewer-extra",
        V,
        (F, "reviewer", "title"),
        "x",
        "fields.reviewer.title: unknown field",
    ),
    Case("decision-extra-field", V, (F, "rule"), "vip", "fields.rule: unknown field"),
    Case(
        "decision-patient-mismatch",
        V,
        (F, "patient"),
        "MPI-0002",
        "principals[0].id: must equal fields.patient",
    ),
    Case(
        "decision-org-principal",
        V,
        ("principals", 0, "kind"),
        "org",
        "needs a principal of kind 'patient'",
    ),
    Case(
        "source-other-org",
        S,
        ("principals", 0, "id"),
        "nyu",
        "principals[0].id: must equal the statement's org",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_mutation_refused(case: Case) -> None:
    value = mutate(EXAMPLES[case.schema](), case.path, case.new)
    with pytest.raises(MalformedError) as info:
        Statement.from_json(value)
    assert info.value.what == "statement"
    assert case.message in info.value.message, info.value.message


def test_case_names_unique() -> None:
    assert len({c.name for c in CASES}) == len(CASES)


def test_field_named_in_details() -> None:
    value = mutate(EXAMPLES[A](), (F, "accessor", "id"), "")
    with pytest.raises(MalformedError) as info:
        Statement.from_json(value)
    assert info.value.details["field"] == "fields.accessor.id"


def test_optional_fields_may_be_absent() -> None:
    value = EXAMPLES[A]()
    del value[F]["authorization"]
    del value[F]["accessor"]["name"]
    typed = Statement.from_json(value).typed
    assert isinstance(typed, Access)
    assert typed.authorization is None
    assert typed.accessor.name is None


def test_break_glass_with_btg_accepted() -> None:
    value = mutate(mutate(EXAMPLES[A](), (F, "purpose"), "BTG"), (F, "break_glass"), True)
    typed = Statement.from_json(value).typed
    assert isinstance(typed, Access)
    assert typed.break_glass


def test_import_half_by_recipient_accepted() -> None:
    value = EXAMPLES[D]()
    value["org"] = "nyu"
    value[F]["half"] = "import"
    value[F]["other_half"] = REF
    typed = Statement.from_json(value).typed
    assert isinstance(typed, Disclosure)
    assert typed.other_half == bytes.fromhex(REF)


def test_fhir_original_kept() -> None:
    resource = {"resourceType": "AuditEvent", "id": "x", "extension": [{"valueDecimal": 1.5}]}
    value = mutate(EXAMPLES[A](), (F, "fhir"), {"version": "R5", "resource": resource})
    st = Statement.from_json(value)
    assert isinstance(st.typed, Access)
    assert st.typed.fhir is not None
    assert st.typed.fhir.resource == resource
    assert Statement.parse(st.format()) == st


def test_statement_over_64_kib_is_too_large() -> None:
    resource = {"resourceType": "AuditEvent", "text": "x" * MAX_STATEMENT_BYTES}
    value = mutate(EXAMPLES[A](), (F, "fhir"), {"version": "R4", "resource": resource})
    with pytest.raises(TooLargeError, match="over the limit"):
        Statement.from_json(value)


def test_fhir_resource_not_json_canonicalisable() -> None:
    resource = {"resourceType": "AuditEvent", "n": 2**60}
    value = mutate(EXAMPLES[A](), (F, "fhir"), {"version": "R4", "resource": resource})
    with pytest.raises(MalformedError) as info:
        Statement.from_json(value)
    assert info.value.what == "statement"


def test_fields_are_read_only_and_copied() -> None:
    value = EXAMPLES[A]()
    st = Statement.from_json(value)
    value[F]["action"] = "D"  # the caller's dict changes; the statement does not
    assert st.fields["action"] == "R"
    with pytest.raises(TypeError):
        st.fields["action"] = "D"  # type: ignore[index]


def test_text_with_escapes_and_unicode_is_canonical() -> None:
    from accord.encoding import canonical

    text = 'a\tb\nc\r "q" \\ é 😀 \u2028 \ufeff'
    value = mutate(EXAMPLES[D](), (F, "description"), text)
    value = mutate(value, (F, "transfer_id"), "xfer-😀-\u2028")
    st = Statement.from_json(value)
    assert st.canonical_bytes == canonical(value)
