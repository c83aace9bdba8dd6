"""FHIR plumbing shared by the mapping in and out: versions, models, times, references, codes.

R4 resources are validated with the ``fhir.resources.R4B`` models (R4B's
AuditEvent, Consent and Encounter have the R4 shape) and R5 resources with the
default ``fhir.resources`` models (healthcare.md sections 2 and 10). The version
is taken from the resource's shape or an explicit argument, and the two are
never mixed silently: R4 fields in a resource declared R5 (or the reverse) are
refused before the model is even tried. fhir.resources checks structure, not
codes; codes are checked against ``accord.records.codes``.
"""

from __future__ import annotations

import calendar
import hashlib
import importlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError

from accord.encoding import canonical
from accord.errors import MalformedError, TooLargeError, UsageError
from accord.records.statement import Statement, decode_json
from accord.records.values import MAX_TS

__all__ = [
    "FHIR_VERSIONS",
    "NOT_SUPPORTED",
    "RECORD_REF_SYSTEM",
    "build_statement",
    "codings",
    "detect_version",
    "fhir_time_ms",
    "identifier_of",
    "load_resource",
    "ms_to_instant",
    "not_supported",
    "reference_of",
    "split_history",
    "statement_id",
    "validate_model",
]

FHIR_VERSIONS: Final = ("R4", "R5")
#: ``details["issue"]`` of a MalformedError for something valid Accord does not map.
NOT_SUPPORTED: Final = "not-supported"
#: Identifier system of a data entity that carries an Accord record reference (a hash).
RECORD_REF_SYSTEM: Final = "urn:accord:record-ref"

# Fields that exist at the top level of only one version (healthcare.md sections 2 and 6).
_ONLY: Final[dict[str, dict[str, frozenset[str]]]] = {
    "AuditEvent": {
        "R4": frozenset({"type", "subtype", "period", "purposeOfEvent", "outcomeDesc"}),
        "R5": frozenset(
            {
                "category",
                "code",
                "severity",
                "occurredPeriod",
                "occurredDateTime",
                "authorization",
                "basedOn",
                "patient",
                "encounter",
            }
        ),
    },
    "Consent": {
        "R4": frozenset({"scope", "patient", "dateTime", "organization", "policy", "policyRule"}),
        "R5": frozenset(
            {
                "subject",
                "date",
                "period",
                "grantor",
                "grantee",
                "manager",
                "controller",
                "decision",
                "regulatoryBasis",
                "policyBasis",
                "policyText",
            }
        ),
    },
}
_MODULES: Final = {"R4": "fhir.resources.R4B.{}", "R5": "fhir.resources.{}"}


def not_supported(what: str, message: str) -> MalformedError:
    """A MalformedError marked for an OperationOutcome with code ``not-supported``."""
    return MalformedError(what, message, issue=NOT_SUPPORTED)


def load_resource(data: bytes | str | Mapping[str, Any], what: str) -> dict[str, Any]:
    """A resource as a JSON object: parses text strictly (truncated JSON -> MalformedError)."""
    value = decode_json(data, what) if isinstance(data, bytes | str) else data
    if not isinstance(value, dict):
        raise MalformedError(what, "a FHIR resource must be a JSON object")
    return value


def detect_version(resource: Mapping[str, Any], declared: str | None, what: str) -> str:
    """``"R4"`` or ``"R5"`` from the resource's shape, checked against ``declared``."""
    if declared is not None and declared not in FHIR_VERSIONS:
        raise UsageError(f"unknown FHIR version {declared!r}; use R4 or R5")
    rtype = resource.get("resourceType")
    if rtype != what:
        raise MalformedError(what, f"expected resourceType {what!r}, got {rtype!r:.60}")
    only = _ONLY.get(what)
    if only is None:
        if declared is None:
            raise UsageError(f"give the FHIR version of a {what}")
        return declared
    r4 = sorted(only["R4"].intersection(resource))
    r5 = sorted(only["R5"].intersection(resource))
    if what == "Consent" and "provision" in resource:
        (r4 if isinstance(resource["provision"], dict) else r5).append("provision")
    if declared == "R5" and r4:
        raise MalformedError(what, f"declared R5 but has R4 field(s) {', '.join(r4)}: an R4 {what}")
    if declared == "R4" and r5:
        raise MalformedError(what, f"declared R4 but has R5 field(s) {', '.join(r5)}: an R5 {what}")
    if declared is not None:
        return declared
    if r4 and r5:
        raise MalformedError(
            what, f"mixes R4 field(s) {', '.join(r4)} and R5 field(s) {', '.join(r5)}"
        )
    if not (r4 or r5):
        raise MalformedError(what, "cannot tell the FHIR version (no R4 or R5 marker field)")
    return "R4" if r4 else "R5"


def validate_model(resource: Mapping[str, Any], version: str, what: str) -> None:
    """Validate ``resource`` with the fhir.resources model of ``version``; MalformedError if not."""
    module = importlib.import_module(_MODULES[version].format(what.lower()))
    model = getattr(module, what)
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or what}: {err['msg']}" for err in exc.errors()
        ]
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise MalformedError(
            what, f"not a valid FHIR {version} {what}: " + "; ".join(problems[:5]) + more
        ) from None
    except (ValueError, TypeError) as exc:
        raise MalformedError(what, f"not a valid FHIR {version} {what}: {exc}") from None


_DATETIME: Final = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})"
    r"(?:T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2}))?)?)?"
)


def fhir_time_ms(value: Any, path: str, what: str, *, end: bool = False) -> int:
    """A FHIR date, dateTime or instant as ms since the epoch.

    A partial value stands for its whole span: the first millisecond, or with
    ``end=True`` the last one (FHIR Period.end "includes any matching
    date/time"). Values without a zone (dates) are taken as UTC.
    """
    m = _DATETIME.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise MalformedError(what, f"{path}: not a FHIR date/dateTime: {value!r:.60}")
    year, month, day, hh, mi, ss, frac, zone = m.groups()
    try:
        if hh is None:
            y, mo, d = int(year), int(month or 1), int(day or 1)
            start = datetime(y, mo, d, tzinfo=UTC)
            if not end:
                stop = start
            elif day is not None:
                stop = start + timedelta(days=1)
            elif month is not None:
                stop = start + timedelta(days=calendar.monthrange(y, mo)[1])
            else:
                stop = datetime(y + 1, 1, 1, tzinfo=UTC)
            ms = _ms(stop) - (1 if end else 0)
        else:
            text = f"{year}-{month}-{day}T{hh}:{mi}:{ss}"
            tz = "+00:00" if zone == "Z" else zone
            moment = datetime.fromisoformat(text + tz)
            ms = _ms(moment) + (int((frac[1:] + "00")[:3]) if frac else 0)
            if end and not frac:
                ms += 999
    except (ValueError, OverflowError):
        raise MalformedError(what, f"{path}: not a valid date/time: {value!r:.60}") from None
    if not 0 <= ms < MAX_TS:
        raise MalformedError(what, f"{path}: {value!r} is before 1970 or too far ahead")
    return ms


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def ms_to_instant(ms: int) -> str:
    """A FHIR instant (UTC, millisecond precision) for a time in ms."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def codings(value: Any) -> list[tuple[str, str]]:
    """``(system, code)`` of a Coding, a CodeableConcept, or a list of either."""
    out: list[tuple[str, str]] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, dict):
            continue
        inner = item.get("coding")
        for c in inner if isinstance(inner, list) else [item]:
            if isinstance(c, dict) and isinstance(c.get("code"), str):
                system = c.get("system")
                out.append((system if isinstance(system, str) else "", c["code"]))
    return out


def split_history(reference: str) -> tuple[str, str]:
    """``"Type/id/_history/v"`` -> ``("Type/id", "v")``; no version -> ``(reference, "")``."""
    base, sep, version = reference.partition("/_history/")
    return (base, version) if sep else (reference, "")


_ABSOLUTE: Final = re.compile(r"https?://.+/([A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(?:/_history/.+)?)")


def reference_of(
    ref: Any,
    *,
    expect: str | None,
    references: Mapping[str, str] | None = None,
) -> str | None:
    """The ``Type/id`` form of a FHIR Reference, or None when it has no ``reference``.

    ``urn:uuid:<id>`` references resolve through ``references`` (fullUrl ->
    ``Type/id``, see ``bundle_references``) or else become ``<expect>/<id>``;
    absolute URLs lose their base. Other relative references are kept as given.
    """
    if not isinstance(ref, dict) or not isinstance(ref.get("reference"), str):
        return None
    text: str = ref["reference"]
    if text.startswith("urn:uuid:"):
        if references is not None and text in references:
            return references[text]
        return f"{expect}/{text[9:]}" if expect else text
    m = _ABSOLUTE.fullmatch(text)
    return m.group(1) if m else text


def identifier_of(ref: Any) -> str | None:
    """``identifier.value`` of a Reference without a ``reference``, else None."""
    if not isinstance(ref, dict) or "reference" in ref:
        return None
    ident = ref.get("identifier")
    value = ident.get("value") if isinstance(ident, dict) else None
    return value if isinstance(value, str) else None


def statement_id(resource: Mapping[str, Any], hint: str | None) -> str:
    """``hint``, else ``fhir-`` + 32 hex digits of SHA-256(canonical resource): posting the
    same resource twice gives the same statement (and, signed, the same record)."""
    if hint is not None:
        return hint
    return "fhir-" + hashlib.sha256(canonical(dict(resource))).hexdigest()[:32]


def build_statement(what: str, **kwargs: Any) -> Statement:
    """``Statement(**kwargs)``, its errors reported against the FHIR resource ``what``."""
    try:
        return Statement(**kwargs)
    except TooLargeError as exc:
        raise TooLargeError(what, exc.message) from None
    except MalformedError as exc:
        raise MalformedError(what, f"does not make a valid statement: {exc.message}") from None
