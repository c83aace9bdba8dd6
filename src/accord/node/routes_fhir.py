"""The node's FHIR endpoints: AuditEvent create and search, Consent and Encounter create.

Every answer is FHIR JSON (``application/fhir+json``); every error is an
OperationOutcome with the error's status, and a refused resource appends
nothing. The mapping is :mod:`accord.compliance.fhir` (IHE BALP patterns); the
statements are signed by the node's FHIR gateway source.

- ``POST /fhir/AuditEvent`` (source token): an R4 or R5 AuditEvent, the version
  taken from the resource's shape or the ``fhirVersion`` parameter of the
  Content-Type (``application/fhir+json; fhirVersion=4.0`` or ``5.0``). Answers
  **201** with the created resource, whose ``id`` is the record hash in hex, and
  ``Location: <base>/fhir/AuditEvent/<id>``; **200** when every record already
  existed (posting the same resource twice makes the same record). A BALP
  PatientQuery about several patients makes one record per patient: the
  Location and the body are the first one's, and the body carries every
  record's id, in order, as extensions with url ``urn:accord:fhir:record``
  (``valueId``), also listed in the ``X-Accord-Records`` header.
- ``POST /fhir/Consent`` (source): an R4 or R5 Consent -> ``ehr.consent``.
- ``POST /fhir/Encounter`` (source): an R4 Encounter -> ``ehr.care``, or a Bundle
  (e.g. a Synthea patient file): each Encounter in it, ``urn:uuid`` references
  resolved within the Bundle; answers a ``batch-response`` Bundle.
- ``GET /fhir/AuditEvent?patient=Patient/<id>&date=ge2021-01-01&date=lt2022-01-01
  &_count=&_offset=`` (auditor): a ``searchset`` Bundle of the patient's access and
  disclosure records, R4 unless R5 is asked (``fhirVersion=5.0`` in Accept or
  ``_format``), built from the decrypted bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from accord.compliance.facts import Entry
from accord.compliance.fhir import (
    auditevent_to_statements,
    bundle_references,
    consent_to_statement,
    encounter_to_care,
    encounters_in_bundle,
    operation_outcome,
    searchset_bundle,
    statement_to_auditevent,
)
from accord.compliance.fhir_models import fhir_time_ms, load_resource
from accord.errors import AccordError, MalformedError, UsageError
from accord.node.httpapi import raw_body, require, run
from accord.node.service import Node
from accord.records import SignedStatement, Statement

__all__ = [
    "FHIR_JSON",
    "RECORD_EXTENSION",
    "date_window",
    "fhir_router",
    "fhir_version",
    "process_create",
    "process_search",
]

FHIR_JSON: Final = "application/fhir+json"
RECORD_EXTENSION: Final = "urn:accord:fhir:record"
_MEDIA: Final = ("application/fhir+json", "application/json")
_MAX_COUNT: Final = 1_000


def _outcome_response(exc: AccordError) -> JSONResponse:
    return JSONResponse(operation_outcome(exc), status_code=exc.status, media_type=FHIR_JSON)


def fhir_version(header: str | None) -> str | None:
    """The FHIR version named by a media type's ``fhirVersion`` parameter (None: absent)."""
    if not header:
        return None
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "fhirversion":
            v = value.strip().strip('"').upper().removeprefix("R")
            if v.startswith("4"):
                return "R4"
            if v.startswith("5"):
                return "R5"
            raise UsageError(f"fhirVersion {value.strip()!r} is not supported; use 4.0 or 5.0")
    return None


def _content_version(request: Request) -> str | None:
    ctype = request.headers.get("content-type", "")
    media = ctype.split(";", 1)[0].strip().lower()
    if media not in _MEDIA:
        raise UsageError(
            f"Content-Type must be application/fhir+json (got {media or 'none'!r})",
            issue="not-supported",
        )
    return fhir_version(ctype)


# -- create -------------------------------------------------------------------------------


def process_create(
    node: Node, kind: str, body: bytes, version: str | None, base: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, FHIR body, headers) for a POST of ``kind`` (AuditEvent, Consent, Encounter)."""
    directory = dict(node.config.fhir.directory)
    org, source = node.org, node.config.fhir.gateway_source
    if kind == "AuditEvent":
        statements = auditevent_to_statements(
            body, org=org, source=source, directory=directory, version=version
        )
    elif kind == "Consent":
        statements = [
            consent_to_statement(body, org=org, source=source, directory=directory, version=version)
        ]
    else:
        resource = load_resource(body, "Encounter")
        if resource.get("resourceType") == "Bundle":
            return _encounter_bundle(node, resource, base)
        if version == "R5":
            raise MalformedError("Encounter", "only R4 Encounters are mapped")
        statements = [encounter_to_care(resource, org=org, source=source, directory=directory)]
    outcomes = node.submit_as_gateway(statements)
    first = statements[0]
    record = outcomes[0].record
    created: dict[str, Any]
    if kind == "AuditEvent":
        stored = first.typed.fhir  # type: ignore[union-attr]
        created = statement_to_auditevent(first, record, stored.version if stored else "R4")
    else:
        created = dict(load_resource(body, kind))
        created["id"] = record.hex()
    if len(outcomes) > 1:
        created["extension"] = [
            *created.get("extension", []),
            *({"url": RECORD_EXTENSION, "valueId": o.record.hex()} for o in outcomes),
        ]
    headers = {
        "Location": f"{base}/fhir/{kind}/{record.hex()}",
        "X-Accord-Records": ",".join(o.record.hex() for o in outcomes),
    }
    status = 200 if all(o.duplicate for o in outcomes) else 201
    return status, created, headers


def _encounter_bundle(
    node: Node, bundle: dict[str, Any], base: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    try:
        refs = bundle_references(bundle)
        encounters = encounters_in_bundle(bundle)
    except UsageError as exc:
        raise MalformedError("Bundle", exc.message) from None
    if not encounters:
        raise MalformedError("Bundle", "the Bundle holds no Encounter")
    directory = dict(node.config.fhir.directory)
    statements = []
    for i, enc in enumerate(encounters):
        try:
            statements.append(
                encounter_to_care(
                    enc,
                    org=node.org,
                    source=node.config.fhir.gateway_source,
                    directory=directory,
                    references=refs,
                )
            )
        except MalformedError as exc:
            raise MalformedError(
                "Encounter", f"Encounter {i + 1} of the Bundle: {exc.message}"
            ) from None
    outcomes = node.submit_as_gateway(statements)
    entries = [
        {
            "response": {
                "status": "200 OK" if o.duplicate else "201 Created",
                "location": f"Encounter/{o.record.hex()}",
            }
        }
        for o in outcomes
    ]
    response = {"resourceType": "Bundle", "type": "batch-response", "entry": entries}
    headers = {"X-Accord-Records": ",".join(o.record.hex() for o in outcomes)}
    return 200, response, headers


# -- search -------------------------------------------------------------------------------

_PREFIXES: Final = ("eq", "ge", "gt", "le", "lt")


def date_window(values: Sequence[str]) -> tuple[int, int]:
    """``[lo, hi)`` in ms from FHIR ``date`` search values (prefixes eq, ge, gt, le, lt)."""
    lo, hi = 0, 2**53 - 1
    for raw in values:
        prefix, value = (raw[:2], raw[2:]) if raw[:2].isalpha() else ("eq", raw)
        if prefix not in _PREFIXES:
            raise UsageError(f"date prefix {prefix!r} is not supported; use {', '.join(_PREFIXES)}")
        first = fhir_time_ms(value, "date", "search")
        last = fhir_time_ms(value, "date", "search", end=True)
        if prefix in ("eq", "ge"):
            lo = max(lo, first)
        if prefix == "gt":
            lo = max(lo, last + 1)
        if prefix in ("eq", "le"):
            hi = min(hi, last + 1)
        if prefix == "lt":
            hi = min(hi, first)
    return lo, hi


def _patients(value: str) -> list[str]:
    """The patient as given, and its other usual spelling (with or without ``Patient/``)."""
    other = value.removeprefix("Patient/") if value.startswith("Patient/") else f"Patient/{value}"
    return [value, other]


def process_search(
    node: Node, params: list[tuple[str, str]], accept: str | None, self_url: str
) -> dict[str, Any]:
    names = {k for k, _ in params}
    unknown = names - {"patient", "date", "_count", "_offset", "_format"}
    if unknown:
        raise UsageError(f"unsupported search parameter(s): {', '.join(sorted(unknown))}")
    patients = [v for k, v in params if k == "patient"]
    if len(patients) != 1 or not patients[0]:
        raise UsageError("give exactly one patient=Patient/<id>")
    fmt = next((v for k, v in params if k == "_format"), None)
    if fmt is not None and fmt.split(";")[0].strip() not in ("json", *_MEDIA):
        raise UsageError(f"_format {fmt!r} is not supported: JSON only", issue="not-supported")
    version = fhir_version(fmt) or fhir_version(accept) or "R4"
    count = _int(params, "_count", 100)
    offset = _int(params, "_offset", 0)
    if not 0 <= count <= _MAX_COUNT:
        raise UsageError(f"_count must be between 0 and {_MAX_COUNT}")
    lo, hi = date_window([v for k, v in params if k == "date"])
    facts = node.compliance.facts()
    found: list[Entry] = []
    if lo < hi:
        for patient in _patients(patients[0]):
            for schema in ("ehr.access", "ehr.disclosure"):
                found.extend(facts.patient_entries(patient, schema, lo, hi))
    found.sort(key=lambda e: (e.event_ts, e.hash))
    page = found[offset : offset + count]
    resources = [statement_to_auditevent(_statement(node, e.hash), e.hash, version) for e in page]
    bundle = searchset_bundle(resources, len(found), self_url, version)
    shredded = sum(node.key_actions.shredded_records(p) for p in _patients(patients[0]))
    if shredded:
        # A searchset may carry an OperationOutcome (search.mode "outcome"): say that some
        # of this patient's records exist in the log but their bodies were shredded.
        bundle.setdefault("entry", []).append(
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {
                            "severity": "information",
                            "code": "deleted",
                            "diagnostics": (
                                f"{shredded} record(s) of this patient were crypto-shredded: "
                                "their headers and proofs remain in the log, their bodies "
                                "can no longer be read"
                            ),
                        }
                    ],
                },
                "search": {"mode": "outcome"},
            }
        )
    if offset + count < len(found):
        sep = "&" if "?" in self_url else "?"
        nxt = self_url.replace(f"_offset={offset}", "").rstrip("&?")
        bundle["link"].append({"relation": "next", "url": f"{nxt}{sep}_offset={offset + count}"})
    return bundle


def _int(params: list[tuple[str, str]], name: str, default: int) -> int:
    value = next((v for k, v in params if k == name), None)
    if value is None:
        return default
    if not value.isdigit() or len(value) > 9:
        raise UsageError(f"{name} must be a non-negative integer")
    return int(value)


def _statement(node: Node, record: bytes) -> Statement:
    _, _, principal = node.record_row(record)
    if principal is None:
        raise UsageError(f"record {record.hex()} has no body at this node")
    return SignedStatement.parse(node.body(record, principal)).statement


# -- the router -------------------------------------------------------------------------------


def fhir_router(node: Node) -> APIRouter:
    router = APIRouter(tags=["fhir"])
    limit = node.config.policy.max_request_bytes

    def create(kind: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            try:
                require(node, request, "source")
                version = _content_version(request)
                body = await raw_body(request, limit)
                base = str(request.base_url).rstrip("/")
                status, created, headers = await run(
                    process_create, node, kind, body, version, base
                )
            except AccordError as exc:
                return _outcome_response(exc)
            return JSONResponse(created, status_code=status, headers=headers, media_type=FHIR_JSON)

        return handler

    for kind, what in (
        ("AuditEvent", "an R4 or R5 AuditEvent (IHE BALP) -> ehr.access / ehr.disclosure"),
        ("Consent", "an R4 or R5 Consent -> ehr.consent"),
        ("Encounter", "an R4 Encounter, or a Bundle of them -> ehr.care"),
    ):
        router.add_api_route(
            f"/fhir/{kind}",
            create(kind),
            methods=["POST"],
            summary=f"Create: {what}",
            response_class=JSONResponse,
        )

    @router.get("/fhir/AuditEvent", summary="Search AuditEvents by patient and date (searchset)")
    async def search(request: Request) -> Response:
        try:
            require(node, request, "auditor")
            params = list(request.query_params.multi_items())
            bundle = await run(
                process_search, node, params, request.headers.get("accept"), str(request.url)
            )
        except AccordError as exc:
            return _outcome_response(exc)
        return JSONResponse(bundle, media_type=FHIR_JSON)

    return router
