"""The HIPAA reports as the node serves them: parameters, the ``verified`` seam, rendering.

``GET /v1/reports/disclosures|accesses|exchanges`` (docs/compliance.md section 6)
compute :func:`accord.compliance.accounting`, ``access_report`` or
``exchange_log`` over the node's SQL Facts and render them as JSON, CSV or
printable HTML.

**Verified.** Each row says how its records were verified, through one seam,
:class:`RecordVerification` (a callable from a record hash to its label):

- ``"certificate"``: the record is final and the node holds its certificate
  (receipts from a quorum of every trust set). Needs the replication work;
  until it is merged no record has one here.
- ``"node log"``: the record is final in this node's own log (a node alone
  is its own trust set): the node's word, but a word it signed into a log
  that others witness, so it cannot take it back unnoticed.
- ``"node answer only"``: the record is pending, or unknown to this log.

A verifier that checks proof bundles (e.g. ``"proof bundle"``) plugs in by
giving the report functions another callable; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from accord.compliance.render import to_csv, to_html, to_json
from accord.compliance.report_types import Report
from accord.compliance.reports import access_report, accounting, exchange_log
from accord.errors import UsageError
from accord.records.values import MAX_TS

if TYPE_CHECKING:
    from accord.node.compliance import Compliance

__all__ = [
    "CERTIFICATE",
    "FORMATS",
    "NODE_ANSWER",
    "NODE_LOG",
    "REPORT_KINDS",
    "RecordVerification",
    "parse_time",
    "process_report",
    "render_report",
    "verified_label",
]

CERTIFICATE: Final = "certificate"
NODE_LOG: Final = "node log"
NODE_ANSWER: Final = "node answer only"
REPORT_KINDS: Final = ("disclosures", "accesses", "exchanges")
FORMATS: Final = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
_DAY: Final = 86_400_000
_DEFAULT_SPAN: Final = 6 * 365 * _DAY  # within 164.528's six years, whatever the leap days


def verified_label(status: str | None, *, certificate: bool = False) -> str:
    """The label of one record from its status in this log (None: not held)."""
    if status == "final":
        return CERTIFICATE if certificate else NODE_LOG
    return NODE_ANSWER


class RecordVerification:
    """``label(record_hash)`` from the node's ``records`` table, memoised per report."""

    def __init__(
        self,
        status_of: Callable[[bytes], str | None],
        has_certificate: Callable[[bytes], bool] | None = None,
        known: Mapping[bytes, str] | None = None,
    ) -> None:
        self._status_of = status_of
        self._has_certificate = has_certificate
        self._known = dict(known or {})
        self._memo: dict[bytes, str] = {}

    def __call__(self, record_hash: bytes) -> str:
        label = self._memo.get(record_hash)
        if label is None:
            status = self._known.get(record_hash)
            if status is None:
                status = self._status_of(record_hash)
            certified = (
                status == "final"
                and self._has_certificate is not None
                and self._has_certificate(record_hash)
            )
            label = self._memo[record_hash] = verified_label(status, certificate=certified)
        return label


def parse_time(text: str, name: str, zone: str) -> int:
    """A query time: milliseconds since the epoch, or an ISO date / date-time (a date or a
    time without offset is read in ``zone``)."""
    value = text.strip()
    if value.isdigit() and len(value) <= 16:
        ms = int(value)
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                f"{name}: expected milliseconds or an ISO date such as 2024-01-31, not {text!r:.40}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        ms = int(moment.astimezone(UTC).timestamp() * 1000)
    if not 0 <= ms < MAX_TS:
        raise UsageError(f"{name}: {text!r:.40} is out of range")
    return ms


def _zone(text: str | None, default: str) -> str:
    zone = text or default
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {zone!r}") from None
    return zone


def process_report(
    compliance: Compliance,
    kind: str,
    params: Mapping[str, str],
    *,
    verified: Callable[[bytes], str] | None = None,
) -> Report:
    """One report from query parameters: ``patient`` (disclosures, accesses) or ``org``
    (exchanges, default this node's), ``from`` / ``to`` (default the six years to now),
    ``timezone`` (default the rule configuration's)."""
    if kind not in REPORT_KINDS:
        raise UsageError(f"unknown report {kind!r}; reports: {', '.join(REPORT_KINDS)}")
    node = compliance.node
    node._keys()
    zone = _zone(params.get("timezone"), compliance.rules.timezone)
    now = node.clock_ms()
    end = parse_time(params["to"], "to", zone) if params.get("to") else now + 1
    start = parse_time(params["from"], "from", zone) if params.get("from") else end - _DEFAULT_SPAN
    start = max(start, 0)
    facts = compliance.facts()
    if kind == "exchanges":
        org = params.get("org") or node.org
        label = verified or RecordVerification(node_status(compliance), has_certificate(compliance))
        return exchange_log(facts, org, start, end, now=now, verified=label, timezone=zone)
    patient = params.get("patient")
    if not patient:
        raise UsageError("query parameter 'patient' (the patient's id) is required")
    label = verified or RecordVerification(
        node_status(compliance),
        has_certificate(compliance),
        known=patient_statuses(compliance, facts.pseudonym(patient)),
    )
    make = accounting if kind == "disclosures" else access_report
    return make(facts, patient, start, end, now=now, verified=label, timezone=zone)


def has_certificate(compliance: Compliance) -> Callable[[bytes], bool] | None:
    """Whether this node holds a record's certificate (in a consortium; else no hook)."""
    replication = compliance.node.replication
    if replication is None:
        return None
    certifier = replication.certifier

    def check(record_hash: bytes) -> bool:
        return certifier.certificate(record_hash) is not None

    return check


def node_status(compliance: Compliance) -> Callable[[bytes], str | None]:
    db = compliance.node.db

    def status_of(record_hash: bytes) -> str | None:
        row = db.fetchone("SELECT status FROM records WHERE hash = ?", (record_hash,))
        return None if row is None else str(row[0])

    return status_of


def patient_statuses(compliance: Compliance, patient_p: str) -> dict[bytes, str]:
    """Status of every record of one patient (one query instead of one per row)."""
    rows = compliance.node.db.fetchall(
        "SELECT r.hash, r.status FROM compliance_records c"
        " JOIN records r ON r.log_index = c.log_index WHERE c.patient_p = ?",
        (patient_p,),
    )
    return {bytes(h): str(s) for h, s in rows}


def render_report(report: Report, fmt: str) -> tuple[str, str]:
    """(text, media type) of ``report`` in ``fmt`` (json, csv or html)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    text = {"json": to_json, "csv": to_csv, "html": to_html}[fmt](report)
    return text, FORMATS[fmt]
